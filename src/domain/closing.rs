//! Daily closing (日结) and the day's figures behind statistics (统计分析).
//!
//! Every write adds its figures to its store's business day (the day it happened, in the
//! store's time zone) in the same durable write as the change itself, so a day's figures
//! always equal the sum of its ledger entries. Closing a day seals a copy that never changes;
//! after a manual close, nothing that would add to that day's figures is accepted.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::booking::{Booking, BookingOrigin, BookingStatus};
use super::checkout::Order;
use super::counter::Effects;
use super::ids::{EntrySeq, StoreId};
use super::ledger::{AccountRef, EntryKind, StoreAccountKind, TenderKind, Timestamp, Transfer};
use super::membership::Activity;

/// Every figure kept per store and business day. Counts, minutes, points, or minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Recharges,
    /// Principal paid in by recharges (bonus excluded).
    Recharged,
    BonusGiven,
    RechargeRefunds,
    /// Principal paid back out by recharge refunds (退充值).
    RechargeRefunded,
    Deductions,
    /// Stored value spent (order payments by stored value included).
    Deducted,
    Refunds,
    /// Stored value given back by refunds and returns.
    Refunded,
    /// Money taken in, net of money paid back, by tender.
    TenderCash,
    TenderBankCard,
    TenderWeChatPay,
    TenderAlipay,
    /// Value sold at the counter, net of refunds and returns.
    Revenue,
    PointsIssued,
    PointsSpent,
    CouponsIssued,
    CouponsRedeemed,
    CouponDiscount,
    CountCardsSold,
    SessionsConsumed,
    GiftsExchanged,
    OrdersPaid,
    NewMembers,
    Bookings,
    Cancellations,
    Completed,
    PlanOccurrencesCompleted,
    NoShows,
    /// Minutes of bookings completed: the numerator of utilisation.
    ServedMinutes,
}

pub const FIGURES: usize = 30;

impl Figure {
    pub const ALL: [Figure; FIGURES] = [
        Figure::Recharges,
        Figure::Recharged,
        Figure::BonusGiven,
        Figure::RechargeRefunds,
        Figure::RechargeRefunded,
        Figure::Deductions,
        Figure::Deducted,
        Figure::Refunds,
        Figure::Refunded,
        Figure::TenderCash,
        Figure::TenderBankCard,
        Figure::TenderWeChatPay,
        Figure::TenderAlipay,
        Figure::Revenue,
        Figure::PointsIssued,
        Figure::PointsSpent,
        Figure::CouponsIssued,
        Figure::CouponsRedeemed,
        Figure::CouponDiscount,
        Figure::CountCardsSold,
        Figure::SessionsConsumed,
        Figure::GiftsExchanged,
        Figure::OrdersPaid,
        Figure::NewMembers,
        Figure::Bookings,
        Figure::Cancellations,
        Figure::Completed,
        Figure::PlanOccurrencesCompleted,
        Figure::NoShows,
        Figure::ServedMinutes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Figure::Recharges => "recharges",
            Figure::Recharged => "recharged",
            Figure::BonusGiven => "bonus_given",
            Figure::RechargeRefunds => "recharge_refunds",
            Figure::RechargeRefunded => "recharge_refunded",
            Figure::Deductions => "deductions",
            Figure::Deducted => "deducted",
            Figure::Refunds => "refunds",
            Figure::Refunded => "refunded",
            Figure::TenderCash => "tender_cash",
            Figure::TenderBankCard => "tender_bank_card",
            Figure::TenderWeChatPay => "tender_wechat_pay",
            Figure::TenderAlipay => "tender_alipay",
            Figure::Revenue => "revenue",
            Figure::PointsIssued => "points_issued",
            Figure::PointsSpent => "points_spent",
            Figure::CouponsIssued => "coupons_issued",
            Figure::CouponsRedeemed => "coupons_redeemed",
            Figure::CouponDiscount => "coupon_discount",
            Figure::CountCardsSold => "count_cards_sold",
            Figure::SessionsConsumed => "sessions_consumed",
            Figure::GiftsExchanged => "gifts_exchanged",
            Figure::OrdersPaid => "orders_paid",
            Figure::NewMembers => "new_members",
            Figure::Bookings => "bookings",
            Figure::Cancellations => "cancellations",
            Figure::Completed => "completed",
            Figure::PlanOccurrencesCompleted => "plan_occurrences_completed",
            Figure::NoShows => "no_shows",
            Figure::ServedMinutes => "served_minutes",
        }
    }

    fn tender(t: TenderKind) -> Figure {
        match t {
            TenderKind::Cash => Figure::TenderCash,
            TenderKind::BankCard => Figure::TenderBankCard,
            TenderKind::WeChatPay => Figure::TenderWeChatPay,
            TenderKind::Alipay => Figure::TenderAlipay,
        }
    }
}

/// One store's figures for one business day (or a sum of several).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayFigures([i64; FIGURES]);

impl DayFigures {
    pub fn get(&self, f: Figure) -> i64 {
        self.0[f as usize]
    }

    pub fn add(&mut self, f: Figure, delta: i64) {
        let v = &mut self.0[f as usize];
        *v = v.checked_add(delta).expect("a day's figure overflows i64");
    }

    pub fn add_all(&mut self, other: &DayFigures) {
        for f in Figure::ALL {
            self.add(f, other.get(f));
        }
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }

    pub fn as_slice(&self) -> &[i64] {
        &self.0
    }

    /// From stored values; figures added by a later version than the one that wrote them
    /// read as zero, and unknown trailing ones are ignored.
    pub fn from_slice(values: &[i64]) -> DayFigures {
        let mut out = DayFigures::default();
        for (slot, v) in out.0.iter_mut().zip(values) {
            *slot = *v;
        }
        out
    }

    pub fn named(&self) -> impl Iterator<Item = (&'static str, i64)> + '_ {
        Figure::ALL.into_iter().map(|f| (f.name(), self.get(f)))
    }
}

/// The store's business day that an instant falls on.
pub type BusinessDay = NaiveDate;

/// What one write adds, by store and business day (usually one pair).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deltas(Vec<((StoreId, BusinessDay), DayFigures)>);

impl Deltas {
    pub fn add(&mut self, store: StoreId, day: BusinessDay, f: Figure, delta: i64) {
        if delta == 0 {
            return;
        }
        let slot = match self.0.iter_mut().position(|(k, _)| *k == (store, day)) {
            Some(i) => &mut self.0[i].1,
            None => {
                self.0.push(((store, day), DayFigures::default()));
                &mut self.0.last_mut().expect("just pushed").1
            }
        };
        slot.add(f, delta);
    }

    /// Adds every figure of `other`.
    pub fn absorb(&mut self, other: &Deltas) {
        for ((store, day), f) in other.iter() {
            for fig in Figure::ALL {
                self.add(*store, *day, fig, f.get(fig));
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &((StoreId, BusinessDay), DayFigures)> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|(_, f)| f.is_zero())
    }
}

/// The figures of a member counter operation's effects. `before_last` is the account's last
/// entry before it: only entries after it are new. `day` gives a store's business day of
/// `now`, when everything in `fx` happened.
pub fn of_effects(
    fx: &Effects,
    before_last: EntrySeq,
    now: Timestamp,
    day: impl Fn(StoreId, Timestamp) -> BusinessDay,
) -> Deltas {
    let mut d = Deltas::default();
    if fx.migration {
        return d;
    }
    for e in fx.entries.iter().filter(|e| e.seq > before_last) {
        let day = day(e.store, e.at);
        let mut add = |f, v| d.add(e.store, day, f, v);
        let amount = e.amount.minor();
        match e.kind {
            EntryKind::Recharge { .. } => {
                add(Figure::Recharges, 1);
                add(Figure::Recharged, amount - e.bonus.minor());
                add(Figure::BonusGiven, e.bonus.minor());
            }
            EntryKind::Deduction { .. } => {
                add(Figure::Deductions, 1);
                add(Figure::Deducted, amount);
            }
            EntryKind::Refund { .. } => {
                add(Figure::Refunds, 1);
                add(Figure::Refunded, amount);
            }
            EntryKind::RechargeRefund { cash, .. } => {
                add(Figure::RechargeRefunds, 1);
                add(Figure::RechargeRefunded, cash.minor());
            }
            // Brought over from another system, or from another store: nothing was sold.
            EntryKind::Opening | EntryKind::HomeMove { .. } => {}
        }
    }
    add_transfers(&mut d, &fx.transfers, now, &day);
    for a in &fx.activities {
        let day = day(a.store, a.at);
        let mut add = |f, v| d.add(a.store, day, f, v);
        match &a.activity {
            Activity::Points { delta, .. } if *delta > 0 => add(Figure::PointsIssued, *delta),
            Activity::Points { delta, .. } => add(Figure::PointsSpent, -*delta),
            Activity::Sessions { delta, .. } if *delta < 0 => {
                add(Figure::SessionsConsumed, -*delta)
            }
            Activity::CardSold(_) => add(Figure::CountCardsSold, 1),
            Activity::CouponIssued { .. } => add(Figure::CouponsIssued, 1),
            Activity::CouponRedeemed { discount, .. } => {
                add(Figure::CouponsRedeemed, 1);
                add(Figure::CouponDiscount, discount.minor());
            }
            Activity::CouponRestored { .. } => add(Figure::CouponsRedeemed, -1),
            Activity::GiftExchanged { quantity, .. } => {
                add(Figure::GiftsExchanged, i64::from(*quantity))
            }
            _ => {}
        }
    }
    if let Some(o) = &fx.order {
        add_order(&mut d, o, now, &day);
    }
    d
}

/// The figures of a walk-in customer's sale (`sold`: the order just paid) or return (its
/// tenders given back and revenue taken back).
pub fn of_walk_in(
    sold: Option<&Order>,
    transfers: &[Transfer],
    now: Timestamp,
    day: impl Fn(StoreId, Timestamp) -> BusinessDay,
) -> Deltas {
    let mut d = Deltas::default();
    add_transfers(&mut d, transfers, now, &day);
    if let Some(order) = sold {
        add_order(&mut d, order, now, &day);
    }
    d
}

fn add_order(
    d: &mut Deltas,
    o: &Order,
    now: Timestamp,
    day: &impl Fn(StoreId, Timestamp) -> BusinessDay,
) {
    if o.paid_at == Some(now) {
        d.add(o.store, day(o.store, now), Figure::OrdersPaid, 1);
    }
}

/// Tenders taken or given back and revenue, at the store of each store-side account.
fn add_transfers(
    d: &mut Deltas,
    transfers: &[Transfer],
    now: Timestamp,
    day: &impl Fn(StoreId, Timestamp) -> BusinessDay,
) {
    for t in transfers {
        let amount = t.amount.minor();
        for (account, sign) in [(t.from, 1), (t.to, -1)] {
            let AccountRef::Store(store, kind) = account else {
                continue;
            };
            let f = match kind {
                StoreAccountKind::Tender(tk) => Figure::tender(tk),
                // Revenue is credited (`to`) when value is sold.
                StoreAccountKind::Revenue => Figure::Revenue,
                StoreAccountKind::Promotion | StoreAccountKind::Equity => continue,
            };
            let sign = if f == Figure::Revenue { -sign } else { sign };
            d.add(store, day(store, now), f, sign * amount);
        }
    }
}

/// The figures of a booking written with status `b.status` over `before` (`None`: new).
pub fn of_booking(before: Option<BookingStatus>, b: &Booking, day: BusinessDay) -> Deltas {
    let mut d = Deltas::default();
    if before == Some(b.status) {
        return d;
    }
    let mut add = |f, v| d.add(b.store, day, f, v);
    match (before, b.status) {
        (None, _) => add(Figure::Bookings, 1),
        (_, BookingStatus::Cancelled | BookingStatus::Rejected) => add(Figure::Cancellations, 1),
        (_, BookingStatus::NoShow) => add(Figure::NoShows, 1),
        (_, BookingStatus::Completed) => {
            add(Figure::Completed, 1);
            add(Figure::ServedMinutes, (b.end - b.start).num_minutes());
            if matches!(b.origin, BookingOrigin::Plan { .. }) {
                add(Figure::PlanOccurrencesCompleted, 1);
            }
        }
        _ => {}
    }
    d
}

/// What a service did on a day at a store, for "top services".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceFigures {
    pub bookings: i64,
    pub completed: i64,
    pub served_minutes: i64,
    pub no_shows: i64,
}

impl ServiceFigures {
    /// The service's share of a booking's day figures (`of_booking`).
    pub fn of(d: &Deltas) -> Option<ServiceFigures> {
        let (_, f) = d.iter().next()?;
        let s = ServiceFigures {
            bookings: f.get(Figure::Bookings),
            completed: f.get(Figure::Completed),
            served_minutes: f.get(Figure::ServedMinutes),
            no_shows: f.get(Figure::NoShows),
        };
        (s != ServiceFigures::default()).then_some(s)
    }

    pub fn to_vec(self) -> Vec<i64> {
        vec![
            self.bookings,
            self.completed,
            self.served_minutes,
            self.no_shows,
        ]
    }

    pub fn from_slice(v: &[i64]) -> ServiceFigures {
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        ServiceFigures {
            bookings: at(0),
            completed: at(1),
            served_minutes: at(2),
            no_shows: at(3),
        }
    }

    pub fn add(&mut self, o: &ServiceFigures) {
        self.bookings += o.bookings;
        self.completed += o.completed;
        self.served_minutes += o.served_minutes;
        self.no_shows += o.no_shows;
    }
}

/// How a day was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClosedBy {
    /// At the end of the business day, by the server.
    Automatic,
    /// Early, by a store manager or HQ (credential id).
    Manual { credential: u64 },
}

/// A sealed day (日结单): written once, never changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    pub store: StoreId,
    pub day: BusinessDay,
    pub figures: DayFigures,
    pub sealed_at: Timestamp,
    pub by: ClosedBy,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClosingError {
    #[error("this store closes its days automatically; set closing mode to manual first")]
    NotManual,
    #[error("business day {0} has not begun at this store")]
    Future(BusinessDay),
}

/// Whether a manual close of `day` may be asked for when the store's business day is
/// `today`. Past days are closed automatically (or already were); closing one again answers
/// its sealed record.
pub fn check_manual(
    manual: bool,
    day: BusinessDay,
    today: BusinessDay,
) -> Result<(), ClosingError> {
    if !manual {
        return Err(ClosingError::NotManual);
    }
    if day > today {
        return Err(ClosingError::Future(day));
    }
    Ok(())
}

/// The days to close automatically at a store: every day after `last_closed` (or from the
/// store's first day) up to the day before `today`, at most `max` of them.
pub fn due_days(
    last_closed: Option<BusinessDay>,
    first_day: BusinessDay,
    today: BusinessDay,
    max: usize,
) -> Vec<BusinessDay> {
    let start = match last_closed {
        Some(d) => d.succ_opt(),
        None => Some(first_day),
    };
    let mut out = Vec::new();
    let mut d = start;
    while let Some(day) = d {
        if day >= today || out.len() >= max {
            break;
        }
        out.push(day);
        d = day.succ_opt();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn figure_names_are_unique_and_cover_all() {
        let names: std::collections::BTreeSet<_> = Figure::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), FIGURES);
        for (i, f) in Figure::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
        }
    }

    #[test]
    fn due_days_run_up_to_yesterday() {
        let today = day("2026-03-10");
        assert_eq!(
            due_days(Some(day("2026-03-07")), day("2026-01-01"), today, 10),
            vec![day("2026-03-08"), day("2026-03-09")]
        );
        assert_eq!(
            due_days(Some(day("2026-03-09")), day("2026-01-01"), today, 10),
            vec![]
        );
        assert_eq!(
            due_days(None, day("2026-03-09"), today, 10),
            vec![day("2026-03-09")]
        );
        assert_eq!(due_days(None, day("2026-01-01"), today, 3).len(), 3);
    }

    #[test]
    fn manual_close_needs_manual_mode_and_a_begun_day() {
        let today = day("2026-03-10");
        assert_eq!(
            check_manual(false, today, today),
            Err(ClosingError::NotManual)
        );
        assert!(check_manual(true, today, today).is_ok());
        assert_eq!(
            check_manual(true, day("2026-03-11"), today),
            Err(ClosingError::Future(day("2026-03-11")))
        );
    }

    #[test]
    fn stored_figures_of_another_length_still_read() {
        let f = DayFigures::from_slice(&[1, 2]);
        assert_eq!(f.get(Figure::Recharges), 1);
        assert_eq!(f.get(Figure::Recharged), 2);
        assert_eq!(f.get(Figure::ServedMinutes), 0);
        let long = vec![7; FIGURES + 3];
        assert_eq!(DayFigures::from_slice(&long).get(Figure::ServedMinutes), 7);
    }
}
