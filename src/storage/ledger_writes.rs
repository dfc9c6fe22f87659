//! The ledger's writes: which keys an account, an entry, a settlement line, an activity, an
//! order, a store-side balance and a binned member take, and how their values are encoded.
//! The ledger actor says what changed; this module alone knows the layout.

use super::codec::{self, AccountRec, EntryRec};
use super::journal::Write;
use super::keys;
use crate::domain::checkout::{Order, OrderStatus};
use crate::domain::ids::{EntrySeq, MemberId, StoreId};
use crate::domain::ledger::{Account, Entry, StoreAccountKind};
use crate::domain::member::Member;
use crate::domain::membership::ActivityRecord;
use crate::domain::money::Money;

/// A member's account as it now stands.
pub fn account(account: &Account) -> Write {
    Write::put(
        keys::account(account.member),
        AccountRec::from(account).encode(),
    )
}

/// One ledger entry of `member`.
pub fn entry(member: MemberId, e: &Entry) -> Write {
    Write::put(
        keys::entry(member, e.seq),
        codec::encode(&EntryRec::from(e)),
    )
}

/// What `home` owes `e.store` for entry `e` of `member`: a settlement line.
pub fn settlement(home: StoreId, member: MemberId, e: &Entry, owed: Money) -> Write {
    Write::put(
        keys::settlement(home, e.store, e.at.timestamp_micros(), member, e.seq),
        codec::encode(&owed.minor()),
    )
}

/// What the store that sold a count card owes the store that served its sessions: a `Y`
/// line keyed by the activity (top bit set, apart from entry sequences).
pub fn card_settlement(member: MemberId, s: &crate::domain::counter::CardSettlement) -> Write {
    Write::put(
        keys::settlement(
            s.owing,
            s.owed,
            s.at.timestamp_micros(),
            member,
            EntrySeq(s.activity | 1 << 63),
        ),
        codec::encode(&s.amount.minor()),
    )
}

/// One line of a member's activity (points, count cards, coupons, level).
pub fn activity(member: MemberId, a: &ActivityRecord) -> Write {
    Write::put(keys::activity(member, a.seq), codec::encode(a))
}

/// An order, and its place among its store's held orders while it is held.
pub fn order(order: &Order) -> [Write; 2] {
    let held = keys::held(order.store, order.id.0);
    [
        Write::put(keys::id8(keys::TAG_ORDER, order.id.0), codec::encode(order)),
        match order.status {
            OrderStatus::Held => Write::put(held, Vec::new()),
            OrderStatus::Paid => Write::delete(held),
        },
    ]
}

/// The balance of `home`'s store-side account `(store, kind)`.
pub fn book_balance(
    home: StoreId,
    store: StoreId,
    kind: StoreAccountKind,
    balance: Money,
) -> Write {
    Write::put(
        keys::book(home, store, kind),
        codec::encode(&balance.minor()),
    )
}

/// The records a bin entry holds, as (key, value), to be put back on restore.
pub type BinRecords = Vec<(Vec<u8>, Vec<u8>)>;

/// A member moved to the recycle bin: the records it held, to put back on restore, and the
/// deletions that take it out of the live key space. Its entries stay: the ledger's history
/// is never deleted.
pub fn binned_member(member: &Member, account: &Account) -> (BinRecords, Vec<Write>) {
    let mut held = super::members::records(member);
    held.push((keys::account(member.id), AccountRec::from(account).encode()));
    let deletions = held.iter().map(|(k, _)| Write::delete(k.clone())).collect();
    (held, deletions)
}

/// A change of the gift stock of `store`: a merge operand, since the stores that sell
/// from it change it without agreeing on an order.
pub fn gift_stock(store: StoreId, gift: u32, delta: i64) -> Write {
    Write::merge(
        keys::gift_stock(store, gift),
        super::counter::operand(delta),
    )
}
