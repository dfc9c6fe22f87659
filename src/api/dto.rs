//! Wire types: what JSON looks like on the way in and out, and the conversions to and from
//! the domain. Request types reject unknown fields.

use serde::{Deserialize, Serialize};

use crate::domain::ids::StoreId;
use crate::domain::ledger::{Account, Entry, EntryKind, Timestamp};
use crate::domain::member::{Member, Store};
use crate::domain::membership::{card_number, CountCard};
use crate::storage::db::TrialBalance;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStoreBody {
    #[schema(min_length = 1)]
    pub name: String,
    /// IANA time zone; the chain's default when absent.
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterMemberBody {
    #[schema(
        pattern = r"^[ -]*\+?(?:[ -]*[0-9]){5,20}[ -]*$",
        example = "13800138000"
    )]
    pub phone: String,
    #[schema(min_length = 1)]
    pub name: String,
    pub home_store_id: u64,
}

/// Body of a recharge or a deduction.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyBody {
    /// Minor units (fen), strictly positive.
    pub amount: i64,
    /// Where it happens: the store taking the cash or selling the service. Taken from the
    /// credential for store staff and terminals; required for HQ.
    pub store_id: Option<u64>,
    /// For a recharge: how it was paid (cash, bank_card, wechat_pay, alipay); cash if absent.
    pub tender: Option<String>,
    /// The employee credited with it (导购), working in the store.
    pub employee_id: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// `entry_seq` of the deduction to refund.
    pub deduction_seq: u64,
    /// Minor units; absent means everything still refundable.
    pub amount: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub before: Option<u64>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

/// Paging of id-ordered lists: everything after the id `after`, at most `limit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageAfterQuery {
    pub after: Option<u64>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PhoneQuery {
    #[param(
        pattern = r"^[ -]*\+?(?:[ -]*[0-9]){5,20}[ -]*$",
        example = "13800138000"
    )]
    pub phone: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreDto {
    pub id: u32,
    pub name: String,
    pub time_zone: String,
    #[schema(value_type = String, format = DateTime)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoresPage {
    pub stores: Vec<StoreDto>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// A backup written: a RocksDB checkpoint on the server's disk.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackupDto {
    pub name: String,
    pub path: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberDto {
    pub id: u64,
    pub phone: String,
    pub name: String,
    pub home_store_id: u32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    pub gender: Option<crate::domain::member::Gender>,
    #[schema(value_type = Option<String>, format = Date)]
    pub birthday: Option<chrono::NaiveDate>,
    pub notes: String,
    pub tags: Vec<String>,
    /// Member-field values by field id.
    #[schema(value_type = BTreeMap<String, super::members::FieldValueBody>)]
    pub fields: std::collections::BTreeMap<u16, super::members::FieldValueBody>,
}

impl MemberDto {
    /// `m` as answered, living at `home` (`Registry::home_of`).
    pub fn new(m: &Member, home: StoreId) -> Self {
        MemberDto {
            id: m.id.get(),
            phone: m.phone.as_str().to_owned(),
            name: m.name.as_str().to_owned(),
            home_store_id: home.get(),
            created_at: m.created_at,
            gender: m.profile.gender,
            birthday: m.profile.birthday,
            notes: m.profile.notes.clone(),
            tags: m
                .profile
                .tags
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            fields: m
                .profile
                .fields
                .iter()
                .map(|(k, v)| (*k, v.into()))
                .collect(),
        }
    }
}

/// chrono's own text for times, made first and handed to serde_json whole: chrono's serde
/// impls go through `collect_str`, which runs the JSON escaper over every small piece
/// chrono writes (a plan's 99 occurrences, a batch's 1,000 entries). Whole-second times, all
/// the server makes for bookings, are written digit by digit: chrono's formatter was a
/// quarter of the HTTP threads' time in the plan benchmark (three times per occurrence).
pub mod text {
    use chrono::{Datelike, NaiveDateTime, SecondsFormat, Timelike};
    use serde::Serializer;

    use crate::domain::ledger::Timestamp;

    pub const WHOLE_LEN: usize = "YYYY-MM-DDTHH:MM:SS".len();

    /// `YYYY-MM-DDTHH:MM:SS` and a spare byte, for a whole-second time of years 0-9999.
    pub fn whole_seconds(t: &NaiveDateTime) -> Option<[u8; WHOLE_LEN + 1]> {
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        if t.nanosecond() != 0 {
            return None;
        }
        let mut b = *b"0000-00-00T00:00:00 ";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        put(17, 2, t.second());
        Some(b)
    }

    fn ascii<E: serde::ser::Error>(b: &[u8]) -> Result<&str, E> {
        std::str::from_utf8(b).map_err(E::custom)
    }

    /// Same text as chrono's serde: RFC 3339, `Z`, fraction only when there is one.
    pub fn instant<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        match whole_seconds(&t.naive_utc()) {
            Some(mut b) => {
                b[WHOLE_LEN] = b'Z';
                s.serialize_str(ascii::<S::Error>(&b)?)
            }
            None => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }

    /// [`instant`], or `null`.
    pub fn optional_instant<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => instant(t, s),
            None => s.serialize_none(),
        }
    }

    /// Same text as chrono's serde: `YYYY-MM-DDTHH:MM:SS`, fraction only when there is one.
    pub fn local<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        match whole_seconds(t) {
            Some(b) => s.serialize_str(ascii::<S::Error>(&b[..WHOLE_LEN])?),
            None => s.serialize_str(&format!("{t:?}")),
        }
    }

    #[cfg(test)]
    mod tests {
        use chrono::DateTime;
        use proptest::prelude::*;

        use crate::domain::ledger::Timestamp;

        #[derive(serde::Serialize)]
        struct Ours {
            #[serde(serialize_with = "super::instant")]
            at: Timestamp,
            #[serde(serialize_with = "super::local")]
            local: chrono::NaiveDateTime,
        }

        #[derive(serde::Serialize)]
        struct Chrono {
            at: Timestamp,
            local: chrono::NaiveDateTime,
        }

        proptest! {
            #[test]
            fn time_text_is_chronos_own(
                // Years -300 to 12000, whole seconds half of the time.
                secs in -71_000_000_000i64..316_000_000_000,
                nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
            ) {
                let at = DateTime::from_timestamp(secs, nanos).expect("in range");
                let local = at.naive_utc();
                prop_assert_eq!(
                    serde_json::to_string(&Ours { at, local }).ok(),
                    serde_json::to_string(&Chrono { at, local }).ok()
                );
            }
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryDto {
    pub member_id: u64,
    pub entry_seq: u64,
    pub kind: &'static str,
    pub store_id: u32,
    /// Stored value moved, bonus included.
    pub amount: i64,
    /// The part of `amount` that is bonus.
    pub bonus: i64,
    pub balance_after: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_of: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tender: Option<&'static str>,
    /// For a recharge refund: the cash given back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash: Option<i64>,
    /// For a home move (`home_move`, 会员转店): the old home, which owes `store_id` the
    /// `amount`. The balance is unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_from_store_id: Option<u32>,
    #[serde(serialize_with = "text::instant")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

impl From<&Entry> for EntryDto {
    fn from(e: &Entry) -> Self {
        let (mut tender, mut cash, mut moved_from) = (None, None, None);
        let (kind, refunded, refund_of) = match e.kind {
            EntryKind::HomeMove { from } => {
                moved_from = Some(from.get());
                ("home_move", None, None)
            }
            EntryKind::Recharge {
                tender: t,
                refunded,
            } => {
                tender = Some(t.name());
                ("recharge", Some(refunded.minor()), None)
            }
            EntryKind::Deduction { refunded } => ("deduction", Some(refunded.minor()), None),
            EntryKind::Opening => ("opening", None, None),
            EntryKind::Refund { of } => ("refund", None, Some(of.0)),
            EntryKind::RechargeRefund {
                of,
                cash: c,
                tender: t,
            } => {
                tender = Some(t.name());
                cash = Some(c.minor());
                ("recharge_refund", None, Some(of.0))
            }
        };
        EntryDto {
            member_id: e.member.get(),
            entry_seq: e.seq.0,
            kind,
            store_id: e.store.get(),
            amount: e.amount.minor(),
            bonus: e.bonus.minor(),
            balance_after: e.balance_after.minor(),
            refunded,
            refund_of,
            tender,
            cash,
            moved_from_store_id: moved_from,
            at: e.at,
        }
    }
}

/// A member's account: every balance they hold (剩余储值, 积分, 剩余服务).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BalanceDto {
    pub member_id: u64,
    /// Whole stored value: principal + bonus.
    pub balance: i64,
    pub principal: i64,
    pub bonus: i64,
    pub points: i64,
    pub level: u16,
    pub card_number: String,
    pub locked: bool,
    pub total_recharged: i64,
    pub total_spent: i64,
    pub total_points_earned: i64,
    pub count_cards: Vec<CountCardDto>,
    pub coupons: Vec<HeldCouponDto>,
    pub last_entry_seq: u64,
    pub last_activity_seq: u64,
    /// When the member last came to a counter (paid, spent, bought, used sessions).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_visit: Option<Timestamp>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CountCardDto {
    pub card_id: u32,
    pub service_id: u64,
    pub total: u32,
    pub remaining: u32,
    #[schema(value_type = Option<String>, format = Date)]
    pub expires_on: Option<chrono::NaiveDate>,
    pub price: i64,
    pub sold_at_store_id: u32,
}

impl From<&CountCard> for CountCardDto {
    fn from(c: &CountCard) -> Self {
        CountCardDto {
            card_id: c.id.0,
            service_id: c.service.0,
            total: c.total,
            remaining: c.remaining,
            expires_on: c.expires_on,
            price: c.price.minor(),
            sold_at_store_id: c.sold_at.get(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldCouponDto {
    pub code: String,
    pub template_id: u32,
}

impl From<&Account> for BalanceDto {
    fn from(a: &Account) -> Self {
        let m = &a.membership;
        BalanceDto {
            member_id: a.member.get(),
            balance: a.balance.minor(),
            principal: a.principal().minor(),
            bonus: a.bonus.minor(),
            points: m.points,
            level: m.level.0,
            card_number: card_number(a.member, m.card_generation),
            locked: m.locked,
            total_recharged: m.totals.recharged.minor(),
            total_spent: m.totals.spent.minor(),
            total_points_earned: m.totals.points_earned,
            count_cards: m.count_cards.iter().map(CountCardDto::from).collect(),
            coupons: m
                .coupons
                .iter()
                .map(|c| HeldCouponDto {
                    code: c.code.to_string(),
                    template_id: c.template.0,
                })
                .collect(),
            last_entry_seq: a.last_entry.0,
            last_activity_seq: m.last_activity,
            last_visit: a.last_visit,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntriesPage {
    pub entries: Vec<EntryDto>,
    /// Pass as `before` to fetch the next (older) page; absent on the last page.
    pub next_before: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrialBalanceDto {
    pub member_accounts: u64,
    /// Sum of members' prepaid balances (what the chain owes its members).
    pub member_balances: i128,
    /// Sum of stores' tender accounts (credit-positive, so negative when money was taken in).
    pub store_tenders: i128,
    pub store_revenue: i128,
    /// Recharge bonuses handed out, net of bonuses taken back (negative).
    pub store_promotion: i128,
    /// Opening balances imported from another system, out of equity (negative).
    pub store_equity: i128,
    /// Always 0: every operation is made of transfers between two accounts.
    pub sum: i128,
}

impl From<&TrialBalance> for TrialBalanceDto {
    fn from(t: &TrialBalance) -> Self {
        TrialBalanceDto {
            member_accounts: t.member_accounts,
            member_balances: t.members,
            store_tenders: t.store_tenders,
            store_revenue: t.store_revenue,
            store_promotion: t.store_promotion,
            store_equity: t.store_equity,
            sum: t.sum(),
        }
    }
}

/// One operation of `POST /v1/ledger/batch`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    #[schema(min_items = 1, max_items = 1000)]
    pub operations: Vec<BatchOp>,
}

/// The answer to one batch operation: the status and body it would have had on its own.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    pub status: u16,
    pub body: BatchResultBody,
}

/// Typed, not a `serde_json::Value`: building a thousand JSON maps per batch was most of the
/// HTTP threads' time in the batch benchmark.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum BatchResultBody {
    Entry(EntryDto),
    Error { code: &'static str, message: String },
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchAnswer {
    pub results: Vec<BatchResult>,
}
