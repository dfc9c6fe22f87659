//! Wire types: what JSON looks like on the way in and out, and the conversions to and from
//! the domain. Request types reject unknown fields.

use serde::{Deserialize, Serialize};

use crate::domain::ledger::{Account, Entry, EntryKind, Timestamp};
use crate::domain::member::{Member, Store};
use crate::storage::db::TrialBalance;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateStoreBody {
    pub name: String,
    /// IANA time zone; the chain's default when absent.
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterMemberBody {
    pub phone: String,
    pub name: String,
    pub home_store_id: u64,
}

/// Body of a recharge or a deduction.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyBody {
    /// Minor units (fen), strictly positive.
    pub amount: i64,
    /// Where it happens: the store taking the cash or selling the service. Taken from the
    /// credential for store staff and terminals; required for HQ.
    pub store_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// `entry_seq` of the deduction to refund.
    pub deduction_seq: u64,
    /// Minor units; absent means everything still refundable.
    pub amount: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub before: Option<u64>,
    pub limit: Option<usize>,
}

/// Paging of id-ordered lists: everything after the id `after`, at most `limit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageAfterQuery {
    pub after: Option<u64>,
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneQuery {
    pub phone: String,
}

#[derive(Debug, Serialize)]
pub struct StoreDto {
    pub id: u32,
    pub name: String,
    pub time_zone: String,
    pub created_at: Timestamp,
}

impl From<&Store> for StoreDto {
    fn from(s: &Store) -> Self {
        StoreDto {
            id: s.id.get(),
            name: s.name.as_str().to_owned(),
            time_zone: s.time_zone.name().to_owned(),
            created_at: s.created_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MemberDto {
    pub id: u64,
    pub phone: String,
    pub name: String,
    pub home_store_id: u32,
    pub created_at: Timestamp,
}

impl From<&Member> for MemberDto {
    fn from(m: &Member) -> Self {
        MemberDto {
            id: m.id.get(),
            phone: m.phone.as_str().to_owned(),
            name: m.name.as_str().to_owned(),
            home_store_id: m.home_store().get(),
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EntryDto {
    pub member_id: u64,
    pub entry_seq: u64,
    pub kind: &'static str,
    pub store_id: u32,
    pub amount: i64,
    pub balance_after: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_of: Option<u64>,
    pub at: Timestamp,
}

impl From<&Entry> for EntryDto {
    fn from(e: &Entry) -> Self {
        let (kind, refunded, refund_of) = match e.kind {
            EntryKind::Recharge => ("recharge", None, None),
            EntryKind::Deduction { refunded } => ("deduction", Some(refunded.minor()), None),
            EntryKind::Refund { of } => ("refund", None, Some(of.0)),
        };
        EntryDto {
            member_id: e.member.get(),
            entry_seq: e.seq.0,
            kind,
            store_id: e.store.get(),
            amount: e.amount.minor(),
            balance_after: e.balance_after.minor(),
            refunded,
            refund_of,
            at: e.at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct BalanceDto {
    pub member_id: u64,
    pub balance: i64,
    pub last_entry_seq: u64,
}

impl From<&Account> for BalanceDto {
    fn from(a: &Account) -> Self {
        BalanceDto {
            member_id: a.member.get(),
            balance: a.balance.minor(),
            last_entry_seq: a.last_entry.0,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EntriesPage {
    pub entries: Vec<EntryDto>,
    /// Pass as `before` to fetch the next (older) page; absent on the last page.
    pub next_before: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct TrialBalanceDto {
    pub member_accounts: u64,
    /// Sum of members' prepaid balances (what the chain owes its members).
    pub member_balances: i128,
    /// Sum of stores' cash accounts (credit-positive, so negative when cash was taken in).
    pub store_cash: i128,
    pub store_revenue: i128,
    /// Always 0: every operation is one transfer between two accounts.
    pub sum: i128,
}

impl From<&TrialBalance> for TrialBalanceDto {
    fn from(t: &TrialBalance) -> Self {
        TrialBalanceDto {
            member_accounts: t.member_accounts,
            member_balances: t.members,
            store_cash: t.store_cash,
            store_revenue: t.store_revenue,
            sum: t.sum(),
        }
    }
}

/// One operation of `POST /v1/ledger/batch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchOp {
    pub idempotency_key: String,
    /// "recharge", "deduct" or "refund".
    pub op: String,
    pub member_id: u64,
    pub amount: Option<i64>,
    pub store_id: Option<u64>,
    pub deduction_seq: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    pub operations: Vec<BatchOp>,
}

/// The answer to one batch operation: the status and body it would have had on its own.
#[derive(Debug, Serialize)]
pub struct BatchResult {
    pub status: u16,
    pub body: serde_json::Value,
}
