//! Key layout. One tag byte, then big-endian ids so that RocksDB's byte order is id order
//! and a member's entries are contiguous, oldest first.
//!
//! | tag | key                                  | value          | column family |
//! |-----|--------------------------------------|----------------|---------------|
//! | `S` | store id (4)                         | StoreRec       | default       |
//! | `M` | member id (8)                        | MemberRec      | default       |
//! | `P` | normalised phone                     | member id (8)  | default       |
//! | `A` | member id (8)                        | AccountRec     | default       |
//! | `E` | member id (8), entry seq (8)         | EntryRec       | default       |
//! | `B` | home store (4), store (4), kind (1)  | balance i64    | default       |
//! | `I` | idempotency key                      | IdemRec        | `idem`        |
//! | `V` | service id (8)                       | ServiceRec     | default       |
//! | `X` | (none): chain settings               | SettingsRec    | default       |
//! | `H` | store id (4)                         | StoreHoursRec  | default       |
//! | `m` | store id (4)                         | ReminderPolicy | default       |
//! | `R` | resource id (8) = store << 32 \| seq | ResourceRec    | default       |
//! | `K` | booking id (8) = store << 32 \| seq  | BookingRec     | default       |
//! | `L` | plan id (8) = store << 32 \| seq     | PlanRec        | default       |
//! | `F` | store id (4), event seq (8)          | EventRec       | default       |
//! | `C` | SHA-256 of the key (32)              | CredentialRec  | default       |
//! | `D` | credential id (8)                    | key hash (32)  | default       |
//! | `G` | member id (8), activity seq (8)      | ActivityRecord | default       |
//! | `O` | order id (8) = owner store << 32 \| seq | Order       | default       |
//! | `N` | selling store (4), order id (8)      | (empty): held  | default       |
//! | `Y` | home (4), store (4), at µs (8), member (8), entry seq (8) | i64 owed | default |
//! | `Z` | `l` level (2) / `o` store (4) level (2) / `c` template (4) / `g` gift (4) / `f` member field (2) / `e` employee (4) / `r` role name / `i` price-list item (4) / `s` item (4) store (4) | catalog item | default |
//! | `W` | store (4), gift (4)                  | stock i64, by merge (`counter`) | default |
//! | `h` | id kind (1), scope (8)               | highest id issued, u64 | default |
//! | `p` | member id (8)                        | ProfileRec (absent while empty) | default |
//! | `i` | lower-case name, NUL, member id (8)  | (empty): name index | default |
//! | `g` | tag, NUL, member id (8)              | (empty): tag index | default |
//! | `r` | member id (8), follow-up seq (8)     | FollowUp       | default |
//! | `d` | home store (4), day (4), member (8)  | follow-up seq: due index | default |
//!
//! Tags of other modules' key spaces: `T`/`t`/`U`/`J` (closing), `Q` (operation log), `n`/`o`
//! (notifications), `b` (recycle bin), `e`/`a` (staff), `j` (members' moved homes), `k`/`w`/`s` (price list history,
//! product stock, item figures: `stock`), `q`/`u`/`v` (transfers: `stock`),
//! `x`/`y` (orders by store and by member:
//! `order_index`), `c`/`l`/`f`/`z` (sign-in codes, member sessions, online booking:
//! `member_sessions`), `1`/`2`/`3` (refund requests: `refund_requests`), `4` (bulk-message
//! runs: `bulk_messages`); a test
//! keeps every tag distinct.
//!
//! `Y` lines are inter-store settlement (跨店结算): what the home store owes the store where
//! its member spent stored value (negative for refunds).

use crate::domain::ids::{EntrySeq, IdempotencyKey, MemberId, Phone, StoreId};
use crate::domain::ledger::{StoreAccountKind, TenderKind};

pub const CF_IDEM: &str = "idem";

pub const TAG_STORE: u8 = b'S';
pub const TAG_MEMBER: u8 = b'M';
pub const TAG_PHONE: u8 = b'P';
pub const TAG_ACCOUNT: u8 = b'A';
pub const TAG_ENTRY: u8 = b'E';
pub const TAG_BOOK: u8 = b'B';
pub const TAG_IDEM: u8 = b'I';
pub const TAG_SERVICE: u8 = b'V';
pub const TAG_SETTINGS: u8 = b'X';
pub const TAG_HOURS: u8 = b'H';
/// A store's reminder policy (lead times, same-day reminder).
pub const TAG_REMINDERS: u8 = b'm';
pub const TAG_RESOURCE: u8 = b'R';
pub const TAG_BOOKING: u8 = b'K';
pub const TAG_PLAN: u8 = b'L';
pub const TAG_EVENT: u8 = b'F';
pub const TAG_CREDENTIAL: u8 = b'C';
pub const TAG_CREDENTIAL_ID: u8 = b'D';
pub const TAG_ACTIVITY: u8 = b'G';
pub const TAG_ORDER: u8 = b'O';
pub const TAG_HELD: u8 = b'N';
pub const TAG_SETTLEMENT: u8 = b'Y';
pub const TAG_CATALOG: u8 = b'Z';
pub const TAG_GIFT_STOCK: u8 = b'W';
/// Id high-water marks: an object's deletion removes its own keys, never its mark, so an id
/// once issued is never issued again, across restarts and purges.
pub const TAG_ID_MARK: u8 = b'h';

/// Kinds of ids that can be deleted and so need a mark of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// Scope: the home store.
    Member,
    /// Scope: the store.
    Resource,
    /// Scope: 0 (chain-wide).
    Service,
}

impl IdKind {
    fn byte(self) -> u8 {
        match self {
            IdKind::Member => b'm',
            IdKind::Resource => b'r',
            IdKind::Service => b'v',
        }
    }
}

pub fn id_mark(kind: IdKind, scope: u64) -> Vec<u8> {
    let mut k = vec![TAG_ID_MARK, kind.byte()];
    k.extend_from_slice(&scope.to_be_bytes());
    k
}

pub fn activity(member: MemberId, seq: u64) -> Vec<u8> {
    let mut k = vec![TAG_ACTIVITY];
    k.extend_from_slice(&member.get().to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub fn held(store: StoreId, order: u64) -> Vec<u8> {
    let mut k = vec![TAG_HELD];
    k.extend_from_slice(&store.get().to_be_bytes());
    k.extend_from_slice(&order.to_be_bytes());
    k
}

pub fn settlement_prefix(home: StoreId, store: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_SETTLEMENT];
    k.extend_from_slice(&home.get().to_be_bytes());
    k.extend_from_slice(&store.get().to_be_bytes());
    k
}

pub fn settlement(
    home: StoreId,
    store: StoreId,
    at_us: i64,
    member: MemberId,
    seq: EntrySeq,
) -> Vec<u8> {
    let mut k = settlement_prefix(home, store);
    // Timestamps before 1970 don't occur; clamp keeps the order total.
    k.extend_from_slice(&(at_us.max(0) as u64).to_be_bytes());
    k.extend_from_slice(&member.get().to_be_bytes());
    k.extend_from_slice(&seq.0.to_be_bytes());
    k
}

pub fn catalog_level(level: u16) -> Vec<u8> {
    let mut k = vec![TAG_CATALOG, b'l'];
    k.extend_from_slice(&level.to_be_bytes());
    k
}

pub fn catalog_override(store: StoreId, level: u16) -> Vec<u8> {
    let mut k = vec![TAG_CATALOG, b'o'];
    k.extend_from_slice(&store.get().to_be_bytes());
    k.extend_from_slice(&level.to_be_bytes());
    k
}

pub fn catalog_coupon(template: u32) -> Vec<u8> {
    let mut k = vec![TAG_CATALOG, b'c'];
    k.extend_from_slice(&template.to_be_bytes());
    k
}

pub fn catalog_member_field(id: u16) -> Vec<u8> {
    let mut k = vec![TAG_CATALOG, b'f'];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub fn catalog_role(name: &str) -> Vec<u8> {
    let mut k = vec![TAG_CATALOG, b'r'];
    k.extend_from_slice(name.as_bytes());
    k
}

pub fn catalog_employee(id: u32) -> Vec<u8> {
    let mut k = vec![TAG_CATALOG, b'e'];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub fn catalog_gift(gift: u32) -> Vec<u8> {
    let mut k = vec![TAG_CATALOG, b'g'];
    k.extend_from_slice(&gift.to_be_bytes());
    k
}

/// An item of the price list (价目表).
pub fn catalog_item(item: u32) -> Vec<u8> {
    let mut k = vec![TAG_CATALOG, b'i'];
    k.extend_from_slice(&item.to_be_bytes());
    k
}

/// A store's price or availability of an item.
pub fn catalog_store_item(item: u32, store: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_CATALOG, b's'];
    k.extend_from_slice(&item.to_be_bytes());
    k.extend_from_slice(&store.get().to_be_bytes());
    k
}

/// A store's stock of a gift: a counter changed only by merge operands (see `counter`).
pub fn gift_stock(store: StoreId, gift: u32) -> Vec<u8> {
    let mut k = vec![TAG_GIFT_STOCK];
    k.extend_from_slice(&store.get().to_be_bytes());
    k.extend_from_slice(&gift.to_be_bytes());
    k
}

pub fn credential(key_hash: &[u8]) -> Vec<u8> {
    let mut k = vec![TAG_CREDENTIAL];
    k.extend_from_slice(key_hash);
    k
}

/// `tag` followed by a big-endian u64 id.
pub fn id8(tag: u8, id: u64) -> Vec<u8> {
    let mut k = vec![tag];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The first `tag` key past every id of `store` (ids are `store << 32 | seq`).
pub fn id8_store_upper_bound(tag: u8, store: StoreId) -> Vec<u8> {
    id8(tag, (u64::from(store.get()) + 1) << 32)
}

pub fn id8_store_lower_bound(tag: u8, store: StoreId) -> Vec<u8> {
    id8(tag, u64::from(store.get()) << 32)
}

pub fn reminders(store: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_REMINDERS];
    k.extend_from_slice(&store.get().to_be_bytes());
    k
}

pub fn hours(store: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_HOURS];
    k.extend_from_slice(&store.get().to_be_bytes());
    k
}

pub fn settings() -> Vec<u8> {
    vec![TAG_SETTINGS]
}

pub fn event(store: StoreId, seq: u64) -> Vec<u8> {
    let mut k = event_prefix(store);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub fn event_prefix(store: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_EVENT];
    k.extend_from_slice(&store.get().to_be_bytes());
    k
}

pub fn store(id: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_STORE];
    k.extend_from_slice(&id.get().to_be_bytes());
    k
}

pub fn member(id: MemberId) -> Vec<u8> {
    let mut k = vec![TAG_MEMBER];
    k.extend_from_slice(&id.get().to_be_bytes());
    k
}

/// The first member key past every member of `store`: members of one store are contiguous.
pub fn member_upper_bound(store: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_MEMBER];
    k.extend_from_slice(&((u64::from(store.get()) + 1) << 32).to_be_bytes());
    k
}

pub fn phone(phone: &Phone) -> Vec<u8> {
    let mut k = vec![TAG_PHONE];
    k.extend_from_slice(phone.as_str().as_bytes());
    k
}

pub fn account(id: MemberId) -> Vec<u8> {
    let mut k = vec![TAG_ACCOUNT];
    k.extend_from_slice(&id.get().to_be_bytes());
    k
}

pub fn entry(id: MemberId, seq: EntrySeq) -> Vec<u8> {
    let mut k = entry_prefix(id);
    k.extend_from_slice(&seq.0.to_be_bytes());
    k
}

pub fn entry_prefix(id: MemberId) -> Vec<u8> {
    let mut k = vec![TAG_ENTRY];
    k.extend_from_slice(&id.get().to_be_bytes());
    k
}

pub fn entry_seq_of(key: &[u8]) -> Option<EntrySeq> {
    let tail: [u8; 8] = key.get(9..17)?.try_into().ok()?;
    Some(EntrySeq(u64::from_be_bytes(tail)))
}

fn kind_byte(kind: StoreAccountKind) -> u8 {
    match kind {
        StoreAccountKind::Tender(TenderKind::Cash) => b'c',
        StoreAccountKind::Tender(TenderKind::BankCard) => b'k',
        StoreAccountKind::Tender(TenderKind::WeChatPay) => b'w',
        StoreAccountKind::Tender(TenderKind::Alipay) => b'a',
        StoreAccountKind::Revenue => b'r',
        StoreAccountKind::Promotion => b'p',
        StoreAccountKind::Equity => b'e',
    }
}

pub fn book(home: StoreId, store: StoreId, kind: StoreAccountKind) -> Vec<u8> {
    let mut k = book_prefix(home);
    k.extend_from_slice(&store.get().to_be_bytes());
    k.push(kind_byte(kind));
    k
}

pub fn book_prefix(home: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_BOOK];
    k.extend_from_slice(&home.get().to_be_bytes());
    k
}

/// Splits a `B` key into (home, store, kind).
pub fn parse_book(key: &[u8]) -> Option<(StoreId, StoreId, StoreAccountKind)> {
    if key.len() != 10 || key[0] != TAG_BOOK {
        return None;
    }
    let home = StoreId::new(u32::from_be_bytes(key[1..5].try_into().ok()?)).ok()?;
    let store = StoreId::new(u32::from_be_bytes(key[5..9].try_into().ok()?)).ok()?;
    let kind = match key[9] {
        b'c' => StoreAccountKind::Tender(TenderKind::Cash),
        b'k' => StoreAccountKind::Tender(TenderKind::BankCard),
        b'w' => StoreAccountKind::Tender(TenderKind::WeChatPay),
        b'a' => StoreAccountKind::Tender(TenderKind::Alipay),
        b'r' => StoreAccountKind::Revenue,
        b'p' => StoreAccountKind::Promotion,
        b'e' => StoreAccountKind::Equity,
        _ => return None,
    };
    Some((home, store, kind))
}

pub fn idem(key: &IdempotencyKey) -> Vec<u8> {
    let mut k = vec![TAG_IDEM];
    k.extend_from_slice(key.as_str().as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_key_round_trips() {
        let a = StoreId::new(7).unwrap();
        let b = StoreId::new(9).unwrap();
        let k = book(a, b, StoreAccountKind::Revenue);
        assert_eq!(parse_book(&k), Some((a, b, StoreAccountKind::Revenue)));
    }

    #[test]
    fn entries_sort_by_seq_within_a_member() {
        let m = MemberId::new(StoreId::new(1).unwrap(), 1);
        assert!(entry(m, EntrySeq(2)) < entry(m, EntrySeq(256)));
        assert_eq!(entry_seq_of(&entry(m, EntrySeq(300))), Some(EntrySeq(300)));
        let next = MemberId::new(StoreId::new(1).unwrap(), 2);
        assert!(entry(m, EntrySeq(u64::MAX)) < entry_prefix(next));
    }

    /// Every key space has a tag byte of its own: two sharing one read each other's keys.
    #[test]
    fn tags_are_distinct() {
        let tags = [
            ("TAG_STORE", TAG_STORE),
            ("TAG_MEMBER", TAG_MEMBER),
            ("TAG_PHONE", TAG_PHONE),
            ("TAG_ACCOUNT", TAG_ACCOUNT),
            ("TAG_ENTRY", TAG_ENTRY),
            ("TAG_BOOK", TAG_BOOK),
            ("TAG_IDEM", TAG_IDEM),
            ("TAG_SERVICE", TAG_SERVICE),
            ("TAG_SETTINGS", TAG_SETTINGS),
            ("TAG_HOURS", TAG_HOURS),
            ("TAG_REMINDERS", TAG_REMINDERS),
            ("TAG_RESOURCE", TAG_RESOURCE),
            ("TAG_BOOKING", TAG_BOOKING),
            ("TAG_PLAN", TAG_PLAN),
            ("TAG_EVENT", TAG_EVENT),
            ("TAG_CREDENTIAL", TAG_CREDENTIAL),
            ("TAG_CREDENTIAL_ID", TAG_CREDENTIAL_ID),
            ("TAG_ACTIVITY", TAG_ACTIVITY),
            ("TAG_ORDER", TAG_ORDER),
            ("TAG_HELD", TAG_HELD),
            ("TAG_SETTLEMENT", TAG_SETTLEMENT),
            ("TAG_CATALOG", TAG_CATALOG),
            ("TAG_GIFT_STOCK", TAG_GIFT_STOCK),
            ("TAG_ID_MARK", TAG_ID_MARK),
            ("TAG_FIGURES", super::super::closing::TAG_FIGURES),
            ("TAG_CLOSING", super::super::closing::TAG_CLOSING),
            ("TAG_CLOSING_MODE", super::super::closing::TAG_CLOSING_MODE),
            (
                "TAG_SERVICE_FIGURES",
                super::super::closing::TAG_SERVICE_FIGURES,
            ),
            ("TAG_PROFILE", super::super::members::TAG_PROFILE),
            ("TAG_NAME_INDEX", super::super::members::TAG_NAME_INDEX),
            ("TAG_TAG_INDEX", super::super::members::TAG_TAG_INDEX),
            ("TAG_NOTIFICATION", super::super::notify::TAG_NOTIFICATION),
            ("TAG_DUE", super::super::notify::TAG_DUE),
            ("TAG_OPLOG", super::super::oplog::TAG_OPLOG),
            ("TAG_BIN", super::super::recycle::TAG_BIN),
            ("TAG_FOLLOW_UP", super::super::follow_ups::TAG_FOLLOW_UP),
            (
                "TAG_FOLLOW_UP_DUE",
                super::super::follow_ups::TAG_FOLLOW_UP_DUE,
            ),
            (
                "TAG_EMPLOYEE_FIGURES",
                super::super::staff::TAG_EMPLOYEE_FIGURES,
            ),
            ("TAG_SELLER", super::super::staff::TAG_SELLER),
            ("TAG_HOME", super::super::homes::TAG_HOME),
            ("TAG_ITEM_HISTORY", super::super::stock::TAG_ITEM_HISTORY),
            ("TAG_PRODUCT_STOCK", super::super::stock::TAG_PRODUCT_STOCK),
            ("TAG_ITEM_FIGURES", super::super::stock::TAG_ITEM_FIGURES),
            ("TAG_TRANSFER", super::super::stock::TAG_TRANSFER),
            (
                "TAG_TRANSFER_RECEIVED",
                super::super::stock::TAG_TRANSFER_RECEIVED,
            ),
            ("TAG_TRANSFER_IN", super::super::stock::TAG_TRANSFER_IN),
            (
                "TAG_STORE_ORDERS",
                super::super::order_index::TAG_STORE_ORDERS,
            ),
            (
                "TAG_MEMBER_ORDERS",
                super::super::order_index::TAG_MEMBER_ORDERS,
            ),
            ("TAG_CODES", super::super::member_sessions::TAG_CODES),
            ("TAG_SESSION", super::super::member_sessions::TAG_SESSION),
            (
                "TAG_MEMBER_SESSIONS",
                super::super::member_sessions::TAG_MEMBER_SESSIONS,
            ),
            (
                "TAG_ONLINE_BOOKING",
                super::super::member_sessions::TAG_ONLINE_BOOKING,
            ),
            (
                "TAG_REFUND_REQUEST",
                super::super::refund_requests::TAG_REFUND_REQUEST,
            ),
            (
                "TAG_MEMBER_REFUNDS",
                super::super::refund_requests::TAG_MEMBER_REFUNDS,
            ),
            (
                "TAG_PENDING_REFUNDS",
                super::super::refund_requests::TAG_PENDING_REFUNDS,
            ),
            ("TAG_BULK_PAGE", super::super::bulk_messages::TAG_BULK_PAGE),
            ("TAG_WAITLIST", super::super::waitlist::TAG_WAITLIST),
        ];
        for (i, (a, x)) in tags.iter().enumerate() {
            for (b, y) in &tags[i + 1..] {
                assert_ne!(x, y, "{a} and {b} share the tag {}", *x as char);
            }
        }
    }
}
