//! Counters kept as RocksDB merges: the value is an i64 and every write adds a delta. Used
//! for a store's gift stock, which the store's ledger reserves in memory while the member's
//! home ledger writes the exchange: deltas commute, so two ledgers' submissions landing in
//! either order give the same stock. Values and operands are both `encode(&i64)`, with the
//! format-version byte like every other value.

use rocksdb::MergeOperands;

use super::codec;

pub const MERGE_OPERATOR_NAME: &str = "i64_add";

pub fn operand(delta: i64) -> Vec<u8> {
    codec::encode(&delta)
}

/// The merge operator of the default column family: day figures (`T` keys) add element-wise,
/// every other counter is one i64. An undecodable value or an overflow fails the merge,
/// which RocksDB reports as corruption on read: never a guess.
pub fn add_i64(key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    sum(key, existing, operands)
}

/// What the merge operator makes of `operands` over `existing`. Operands and values share
/// one encoding, so with no `existing` this is also one operand worth all of them: the
/// journal folds a batch's operands of one key with it.
pub fn sum<'a>(
    key: &[u8],
    existing: Option<&[u8]>,
    operands: impl IntoIterator<Item = &'a [u8]>,
) -> Option<Vec<u8>> {
    if matches!(
        key.first(),
        Some(
            &super::closing::TAG_FIGURES
                | &super::closing::TAG_SERVICE_FIGURES
                | &super::staff::TAG_EMPLOYEE_FIGURES
                | &super::stock::TAG_ITEM_FIGURES
        )
    ) {
        return super::closing::add_vectors(existing, operands);
    }
    let mut total = match existing {
        Some(v) => codec::decode::<i64>(v).ok()?,
        None => 0,
    };
    for op in operands {
        total = total.checked_add(codec::decode::<i64>(op).ok()?)?;
    }
    Some(codec::encode(&total))
}
