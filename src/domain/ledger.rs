//! The stored-value ledger's rules: pure functions from (state, command, now) to a new state,
//! one journal entry and the double-entry transfer that explains it.
//!
//! Sign convention: balances are credit-positive. A member's prepaid balance and a store's
//! revenue are positive; a store's cash account goes negative as it takes cash in. Every
//! operation is one [`Transfer`], so the sum over all accounts is zero by construction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::ids::{EntrySeq, MemberId, StoreId};
use super::membership::{MemberError, Membership};
use super::money::{pro_rata, Amount, Money, MoneyError};

pub type Timestamp = DateTime<Utc>;

/// External tenders (收款方式): recorded, not processed.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub enum TenderKind {
    Cash,
    BankCard,
    WeChatPay,
    Alipay,
}

impl TenderKind {
    pub const ALL: [TenderKind; 4] = [
        TenderKind::Cash,
        TenderKind::BankCard,
        TenderKind::WeChatPay,
        TenderKind::Alipay,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TenderKind::Cash => "cash",
            TenderKind::BankCard => "bank_card",
            TenderKind::WeChatPay => "wechat_pay",
            TenderKind::Alipay => "alipay",
        }
    }

    pub fn parse(s: &str) -> Option<TenderKind> {
        TenderKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreAccountKind {
    /// Money taken in by one tender (cash, card, WeChat Pay), for recharges and sales.
    Tender(TenderKind),
    /// Value sold at the store's counter: stored value spent and tenders taken for orders,
    /// net of refunds and returns.
    Revenue,
    /// Recharge bonuses given (赠送金额): goes negative as bonus is handed out.
    Promotion,
    /// Opening balances brought from another system (期初余额): the equity they came from,
    /// negative by what members were given.
    Equity,
}

pub const CASH: StoreAccountKind = StoreAccountKind::Tender(TenderKind::Cash);

/// A store-side account: which store, and which of its accounts.
pub type StoreAccount = (StoreId, StoreAccountKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountRef {
    Member(MemberId),
    Store(StoreId, StoreAccountKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    pub from: AccountRef,
    pub to: AccountRef,
    pub amount: Amount,
}

impl Transfer {
    /// A transfer of `amount` if it is positive; nothing moves for zero.
    pub fn of(from: AccountRef, to: AccountRef, amount: Money) -> Option<Transfer> {
        Amount::new(amount.minor())
            .ok()
            .map(|amount| Transfer { from, to, amount })
    }
}

/// A member's account: stored value (principal and bonus) and every other holding.
/// `balance` is the whole stored value, `bonus` the part of it that was given, not paid.
/// Spending takes principal first, then bonus. Neither ever goes negative.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub member: MemberId,
    pub balance: Money,
    pub bonus: Money,
    /// Sequence of the newest entry; 0 before the first one.
    pub last_entry: EntrySeq,
    pub membership: Membership,
    /// When the member last came to a counter: paid, spent, bought or used sessions
    /// (`CounterOp::is_visit`); none before the first visit.
    pub last_visit: Option<Timestamp>,
}

impl Account {
    pub fn open(member: MemberId) -> Account {
        Account {
            member,
            balance: Money::ZERO,
            bonus: Money::ZERO,
            last_entry: EntrySeq(0),
            membership: Membership::default(),
            last_visit: None,
        }
    }

    /// The paid part of the stored value.
    pub fn principal(&self) -> Money {
        Money::from_minor(self.balance.minor() - self.bonus.minor())
    }

    pub fn check(&self) -> bool {
        !self.bonus.is_negative() && self.bonus <= self.balance && self.membership.check()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EntryKind {
    /// `refunded` is the principal paid back so far (退充值), never more than was paid.
    Recharge {
        tender: TenderKind,
        refunded: Money,
    },
    /// `refunded` grows with each refund of this deduction and never exceeds its amount.
    Deduction {
        refunded: Money,
    },
    Refund {
        of: EntrySeq,
    },
    /// Paid principal given back from recharge `of`, with its bonus taken back in
    /// proportion. `cash` is what left the till; the rest of `amount` went back to the
    /// promotion account (bonus taken back, or principal standing in for bonus already spent).
    RechargeRefund {
        of: EntrySeq,
        cash: Money,
        tender: TenderKind,
    },
    /// A balance brought over from another system at import, out of the home store's
    /// equity account; its `bonus` is the part that was bonus there.
    Opening,
    /// The member's home moved from `from` to the entry's store, with the whole balance
    /// (`amount`): no account changes, `from` owes the new home what it held (会员转店).
    HomeMove {
        from: StoreId,
    },
}

/// One line of a member's stored-value history (储值记录).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub member: MemberId,
    pub seq: EntrySeq,
    pub kind: EntryKind,
    /// The store where it happened: where cash was taken, value spent or refunded.
    pub store: StoreId,
    /// Stored value moved in or out, bonus included.
    pub amount: Amount,
    /// The part of `amount` that is bonus.
    pub bonus: Money,
    pub balance_after: Money,
    pub at: Timestamp,
}

impl Entry {
    /// The double-entry transfers that explain this entry; they sum to `signed()`.
    pub fn transfers(&self) -> Vec<Transfer> {
        let member = AccountRef::Member(self.member);
        let store = |k| AccountRef::Store(self.store, k);
        let paid = Money::from_minor(self.amount.minor() - self.bonus.minor());
        let all = match self.kind {
            EntryKind::Recharge { tender, .. } => [
                Transfer::of(store(StoreAccountKind::Tender(tender)), member, paid),
                Transfer::of(store(StoreAccountKind::Promotion), member, self.bonus),
            ],
            EntryKind::Deduction { .. } => [
                Transfer::of(
                    member,
                    store(StoreAccountKind::Revenue),
                    self.amount.money(),
                ),
                None,
            ],
            EntryKind::Refund { .. } => [
                Transfer::of(
                    store(StoreAccountKind::Revenue),
                    member,
                    self.amount.money(),
                ),
                None,
            ],
            EntryKind::Opening => [
                Transfer::of(store(StoreAccountKind::Equity), member, self.amount.money()),
                None,
            ],
            EntryKind::HomeMove { .. } => [None, None],
            EntryKind::RechargeRefund { cash, tender, .. } => [
                Transfer::of(member, store(StoreAccountKind::Tender(tender)), cash),
                Transfer::of(
                    member,
                    store(StoreAccountKind::Promotion),
                    Money::from_minor(self.amount.minor() - cash.minor()),
                ),
            ],
        };
        all.into_iter().flatten().collect()
    }

    /// What the member's home store owes the store where this entry happened (跨店结算):
    /// stored value spent there, less refunds there, less what that store took in for the
    /// home store (recharges, bonus included, less recharge refunds). None at home, and for
    /// entries that settle nothing here (openings; a home move settles as it moves).
    pub fn owed_by(&self, home: StoreId) -> Option<Money> {
        if self.store == home {
            return None;
        }
        let amount = self.amount.money();
        let back = Money::from_minor(-amount.minor());
        match self.kind {
            EntryKind::Deduction { .. } | EntryKind::RechargeRefund { .. } => Some(amount),
            EntryKind::Refund { .. } | EntryKind::Recharge { .. } => Some(back),
            EntryKind::Opening | EntryKind::HomeMove { .. } => None,
        }
    }

    /// What this entry did to the member's stored value.
    pub fn signed(&self) -> Money {
        match self.kind {
            EntryKind::HomeMove { .. } => Money::ZERO,
            EntryKind::Recharge { .. } | EntryKind::Refund { .. } | EntryKind::Opening => {
                self.amount.money()
            }
            EntryKind::Deduction { .. } | EntryKind::RechargeRefund { .. } => {
                Money::from_minor(-self.amount.minor())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerCommand {
    Recharge {
        member: MemberId,
        store: StoreId,
        amount: Amount,
        tender: TenderKind,
    },
    Deduct {
        member: MemberId,
        store: StoreId,
        amount: Amount,
    },
    /// `amount: None` refunds whatever is left of the deduction.
    Refund {
        member: MemberId,
        deduction: EntrySeq,
        amount: Option<Amount>,
    },
}

impl LedgerCommand {
    pub fn member(&self) -> MemberId {
        match self {
            LedgerCommand::Recharge { member, .. }
            | LedgerCommand::Deduct { member, .. }
            | LedgerCommand::Refund { member, .. } => *member,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum LedgerError {
    #[error("insufficient balance: balance {balance}, requested {requested}")]
    InsufficientBalance { balance: Money, requested: Amount },
    #[error("entry {0:?} is not a deduction")]
    NotADeduction(EntrySeq),
    #[error("refund exceeds the {remaining} still refundable on this deduction")]
    RefundExceedsDeduction {
        remaining: Money,
        requested: Option<Amount>,
    },
    #[error("balance would overflow")]
    Overflow,
    #[error("entry {0:?} is not a recharge")]
    NotARecharge(EntrySeq),
    #[error("at most {refundable} of this recharge's principal can be refunded now")]
    RechargeRefundTooLarge { refundable: Money },
    #[error("{0}")]
    Member(#[from] MemberError),
    #[error("{0}")]
    Checkout(#[from] super::checkout::CheckoutError),
    #[error("{0}")]
    Gift(#[from] super::gift::GiftError),
    /// After a manual daily close (日结), the store takes no more sales, refunds or returns
    /// for that business day.
    #[error("business day {day} is closed at store {store}")]
    DayClosed { store: u32, day: chrono::NaiveDate },
    #[error("{0}")]
    Price(#[from] super::price_list::PriceError),
}

impl From<super::coupon::CouponError> for LedgerError {
    fn from(e: super::coupon::CouponError) -> Self {
        LedgerError::Member(MemberError::Coupon(e))
    }
}

impl From<MoneyError> for LedgerError {
    fn from(_: MoneyError) -> Self {
        LedgerError::Overflow
    }
}

/// The result of applying a command: the account's new state, the new entry and, for a
/// refund, the entry refunded with its grown `refunded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub account: Account,
    pub entry: Entry,
    pub updated_deduction: Option<Entry>,
}

fn next_entry(account: &Account) -> Result<EntrySeq, LedgerError> {
    account
        .last_entry
        .0
        .checked_add(1)
        .map(EntrySeq)
        .ok_or(LedgerError::Overflow)
}

/// Posts an entry that moves `amount` (of which `bonus` is bonus) in the entry's direction.
fn post(
    account: &Account,
    kind: EntryKind,
    store: StoreId,
    amount: Amount,
    bonus: Money,
    at: Timestamp,
) -> Result<Posted, LedgerError> {
    let seq = next_entry(account)?;
    let mut entry = Entry {
        member: account.member,
        seq,
        kind,
        store,
        amount,
        bonus,
        balance_after: Money::ZERO,
        at,
    };
    let signed_bonus = if entry.signed().is_negative() {
        Money::ZERO.checked_sub(bonus)?
    } else {
        bonus
    };
    let balance = account.balance.checked_add(entry.signed())?;
    let new_bonus = account.bonus.checked_add(signed_bonus)?;
    assert!(
        !balance.is_negative() && !new_bonus.is_negative() && new_bonus <= balance,
        "stored value must never go negative"
    );
    entry.balance_after = balance;
    let mut after = account.clone();
    after.balance = balance;
    after.bonus = new_bonus;
    after.last_entry = seq;
    Ok(Posted {
        account: after,
        entry,
        updated_deduction: None,
    })
}

/// A recharge of `paid` with `bonus` on top (the recharge rule's tier).
pub fn recharge(
    account: &Account,
    store: StoreId,
    paid: Amount,
    bonus: Money,
    tender: TenderKind,
    at: Timestamp,
) -> Result<Posted, LedgerError> {
    debug_assert!(!bonus.is_negative());
    let total = Amount::new(paid.money().checked_add(bonus)?.minor())?;
    let mut posted = post(
        account,
        EntryKind::Recharge {
            tender,
            refunded: Money::ZERO,
        },
        store,
        total,
        bonus,
        at,
    )?;
    let t = &mut posted.account.membership.totals;
    t.recharged = t.recharged.checked_add(paid.money())?;
    Ok(posted)
}

/// A balance brought from another system: `amount`, of which `bonus` was bonus there.
pub fn opening(
    account: &Account,
    store: StoreId,
    amount: Amount,
    bonus: Money,
    at: Timestamp,
) -> Result<Posted, LedgerError> {
    if bonus.is_negative() || bonus > amount.money() {
        return Err(LedgerError::Overflow);
    }
    post(account, EntryKind::Opening, store, amount, bonus, at)
}

/// Spends `amount` of stored value: principal first, then bonus.
pub fn deduct(
    account: &Account,
    store: StoreId,
    amount: Amount,
    at: Timestamp,
) -> Result<Posted, LedgerError> {
    account.membership.may_spend()?;
    if account.balance < amount.money() {
        return Err(LedgerError::InsufficientBalance {
            balance: account.balance,
            requested: amount,
        });
    }
    let from_bonus = amount
        .money()
        .checked_sub(account.principal())?
        .max(Money::ZERO);
    let mut posted = post(
        account,
        EntryKind::Deduction {
            refunded: Money::ZERO,
        },
        store,
        amount,
        from_bonus,
        at,
    )?;
    let t = &mut posted.account.membership.totals;
    t.spent = t.spent.checked_add(amount.money())?;
    Ok(posted)
}

/// Refunds part or all of `deduction` back to the member's stored value, at the store where
/// the value was spent, principal and bonus in the deduction's proportion. The total
/// refunded never exceeds what was deducted.
pub fn refund(
    account: &Account,
    deduction: &Entry,
    amount: Option<Amount>,
    at: Timestamp,
) -> Result<Posted, LedgerError> {
    debug_assert_eq!(deduction.member, account.member);
    let EntryKind::Deduction { refunded } = deduction.kind else {
        return Err(LedgerError::NotADeduction(deduction.seq));
    };
    let remaining = deduction.amount.money().checked_sub(refunded)?;
    let amount = match amount {
        Some(a) if a.money() <= remaining => a,
        None if remaining > Money::ZERO => Amount::new(remaining.minor())?,
        requested => {
            return Err(LedgerError::RefundExceedsDeduction {
                remaining,
                requested,
            })
        }
    };
    let whole = deduction.amount.minor();
    let after = refunded.checked_add(amount.money())?;
    assert!(
        after <= deduction.amount.money(),
        "refunded more than deducted"
    );
    let bonus = pro_rata(deduction.bonus, after.minor(), whole).checked_sub(pro_rata(
        deduction.bonus,
        refunded.minor(),
        whole,
    ))?;
    let mut posted = post(
        account,
        EntryKind::Refund { of: deduction.seq },
        deduction.store,
        amount,
        bonus,
        at,
    )?;
    let t = &mut posted.account.membership.totals;
    t.spent = t.spent.checked_sub(amount.money())?.max(Money::ZERO);
    posted.updated_deduction = Some(Entry {
        kind: EntryKind::Deduction { refunded: after },
        ..*deduction
    });
    Ok(posted)
}

/// Gives back `amount` of a recharge's paid principal as cash (退充值), taking back the
/// recharge's bonus in the same proportion. If that bonus was already spent, the shortfall
/// is kept from the cash, so the member never gets more cash than they paid for value they
/// did not use.
pub fn refund_recharge(
    account: &Account,
    recharge: &Entry,
    amount: Amount,
    at: Timestamp,
) -> Result<Posted, LedgerError> {
    debug_assert_eq!(recharge.member, account.member);
    let EntryKind::Recharge { tender, refunded } = recharge.kind else {
        return Err(LedgerError::NotARecharge(recharge.seq));
    };
    let paid = recharge.amount.minor() - recharge.bonus.minor();
    let refundable = Money::from_minor(paid)
        .checked_sub(refunded)?
        .min(account.principal());
    if amount.money() > refundable {
        return Err(LedgerError::RechargeRefundTooLarge { refundable });
    }
    let after = refunded.checked_add(amount.money())?;
    let bonus_due = pro_rata(recharge.bonus, after.minor(), paid).checked_sub(pro_rata(
        recharge.bonus,
        refunded.minor(),
        paid,
    ))?;
    let bonus_taken = bonus_due.min(account.bonus);
    let shortfall = bonus_due.checked_sub(bonus_taken)?.min(amount.money());
    let cash = amount.money().checked_sub(shortfall)?;
    let total = Amount::new(amount.money().checked_add(bonus_taken)?.minor())?;
    let mut posted = post(
        account,
        EntryKind::RechargeRefund {
            of: recharge.seq,
            cash,
            tender,
        },
        recharge.store,
        total,
        bonus_taken,
        at,
    )?;
    let t = &mut posted.account.membership.totals;
    t.recharged = t.recharged.checked_sub(amount.money())?.max(Money::ZERO);
    posted.updated_deduction = Some(Entry {
        kind: EntryKind::Recharge {
            tender,
            refunded: after,
        },
        ..*recharge
    });
    Ok(posted)
}

/// The store-side half of the ledger held by one home store: balances of the store accounts
/// that its members' entries touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreBook {
    balances: HashMap<StoreAccount, Money>,
}

impl StoreBook {
    pub fn from_balances(balances: impl IntoIterator<Item = (StoreAccount, Money)>) -> StoreBook {
        StoreBook {
            balances: balances.into_iter().collect(),
        }
    }

    pub fn balance(&self, store: StoreId, kind: StoreAccountKind) -> Money {
        self.balances
            .get(&(store, kind))
            .copied()
            .unwrap_or(Money::ZERO)
    }

    /// Applies the store side(s) of `transfer` and returns each store account it changed
    /// with its new balance. The member side is carried by [`Posted::account`].
    pub fn apply(
        &mut self,
        transfer: &Transfer,
    ) -> Result<Vec<(StoreAccount, Money)>, LedgerError> {
        let mut changed = Vec::with_capacity(2);
        let amount = transfer.amount.money();
        for (side, delta) in [
            (transfer.from, Money::ZERO.checked_sub(amount)?),
            (transfer.to, amount),
        ] {
            if let AccountRef::Store(s, k) = side {
                let new = self.balance(s, k).checked_add(delta)?;
                self.balances.insert((s, k), new);
                changed.push(((s, k), new));
            }
        }
        Ok(changed)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&StoreAccount, &Money)> {
        self.balances.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn store(n: u32) -> StoreId {
        StoreId::new(n).unwrap()
    }

    fn at() -> Timestamp {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn amt(n: i64) -> Amount {
        Amount::new(n).unwrap()
    }

    #[test]
    fn deduct_never_overdraws() {
        let acct = Account::open(MemberId::new(store(1), 1));
        let p = recharge(
            &acct,
            store(1),
            amt(50),
            Money::ZERO,
            TenderKind::Cash,
            at(),
        )
        .unwrap();
        assert_eq!(p.account.balance, Money::from_minor(50));
        let err = deduct(&p.account, store(2), amt(51), at()).unwrap_err();
        assert!(matches!(err, LedgerError::InsufficientBalance { .. }));
        let p = deduct(&p.account, store(2), amt(50), at()).unwrap();
        assert_eq!(p.account.balance, Money::ZERO);
        assert_eq!(p.entry.seq, EntrySeq(2));
    }

    #[test]
    fn refund_is_bounded_by_the_deduction() {
        let acct = Account::open(MemberId::new(store(1), 1));
        let p = recharge(
            &acct,
            store(1),
            amt(100),
            Money::ZERO,
            TenderKind::Cash,
            at(),
        )
        .unwrap();
        let d = deduct(&p.account, store(3), amt(80), at()).unwrap();
        let r1 = refund(&d.account, &d.entry, Some(amt(30)), at()).unwrap();
        assert_eq!(r1.account.balance, Money::from_minor(50));
        assert_eq!(r1.entry.store, store(3));
        let d2 = r1.updated_deduction.unwrap();
        assert!(matches!(
            refund(&r1.account, &d2, Some(amt(51)), at()),
            Err(LedgerError::RefundExceedsDeduction { .. })
        ));
        let r2 = refund(&r1.account, &d2, None, at()).unwrap();
        assert_eq!(r2.entry.amount, amt(50));
        let d3 = r2.updated_deduction.unwrap();
        assert!(refund(&r2.account, &d3, None, at()).is_err());
        assert!(matches!(
            refund(&r2.account, &r2.entry, None, at()),
            Err(LedgerError::NotADeduction(_))
        ));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Recharge(i64, u32),
        Deduct(i64, u32),
        Refund(usize, Option<i64>),
        /// The member's home moves to store 1, 2 or 3 (none when it is already there).
        Move(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1u32..=3).prop_map(Op::Move),
            (1i64..1_000, 1u32..=3).prop_map(|(a, s)| Op::Recharge(a, s)),
            (1i64..1_000, 1u32..=3).prop_map(|(a, s)| Op::Deduct(a, s)),
            (0usize..20, proptest::option::of(1i64..500)).prop_map(|(i, a)| Op::Refund(i, a)),
        ]
    }

    proptest! {
        /// Against a plain model: balance = recharges - deductions + refunds, never negative,
        /// refunds per deduction bounded, and member + store accounts sum to zero, whatever
        /// home moves come between.
        #[test]
        fn random_sequences_balance(ops in proptest::collection::vec(op(), 1..60)) {
            let member = MemberId::new(store(1), 1);
            let mut account = Account::open(member);
            let mut book = StoreBook::default();
            let mut entries: Vec<Entry> = Vec::new();
            let mut model: i64 = 0;
            let mut home = store(1);
            // What each store holds for the member once settled: the home store exactly
            // the balance, every other store nothing.
            let mut held: HashMap<StoreId, i64> = HashMap::new();
            for op in ops {
                let result = match op {
                    Op::Move(to) => {
                        let Ok((after, entry, moved)) =
                            super::super::home_move::move_home(&account, home, store(to), at())
                        else {
                            continue;
                        };
                        prop_assert_eq!(moved.settled, account.balance);
                        *held.entry(home).or_default() -= moved.settled.minor();
                        *held.entry(store(to)).or_default() += moved.settled.minor();
                        home = store(to);
                        match entry {
                            Some(entry) => Ok(Posted { account: after, entry, updated_deduction: None }),
                            None => { account = after; continue }
                        }
                    }
                    Op::Recharge(a, s) => recharge(&account, store(s), amt(a), Money::from_minor(a / 10), TenderKind::Cash, at()),
                    Op::Deduct(a, s) => deduct(&account, store(s), amt(a), at()),
                    Op::Refund(i, a) => {
                        let Some(target) = entries.get(i).copied() else { continue };
                        refund(&account, &target, a.map(amt), at())
                    }
                };
                let Ok(posted) = result else { continue };
                model += posted.entry.signed().minor();
                let e = &posted.entry;
                if !matches!(e.kind, EntryKind::HomeMove { .. }) {
                    *held.entry(e.store).or_default() += e.signed().minor();
                }
                if let Some(owed) = e.owed_by(home) {
                    *held.entry(home).or_default() -= owed.minor();
                    *held.entry(e.store).or_default() += owed.minor();
                }
                for t in posted.entry.transfers() {
                    book.apply(&t).unwrap();
                }
                if let Some(d) = posted.updated_deduction {
                    entries[(d.seq.0 - 1) as usize] = d;
                }
                entries.push(posted.entry);
                account = posted.account;
                prop_assert_eq!(account.balance.minor(), model);
                prop_assert!(model >= 0);
                let store_sum: i64 = book.iter().map(|(_, m)| m.minor()).sum();
                prop_assert_eq!(store_sum + account.balance.minor(), 0);
                for (s, h) in &held {
                    let want = if *s == home { account.balance.minor() } else { 0 };
                    prop_assert_eq!(*h, want, "store {} holds {}", s, h);
                }
            }
            for e in &entries {
                if let EntryKind::Deduction { refunded } = e.kind {
                    prop_assert!(refunded <= e.amount.money());
                }
            }
        }
    }
}
