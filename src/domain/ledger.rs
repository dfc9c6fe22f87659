//! The stored-value ledger's rules: pure functions from (state, command, now) to a new state,
//! one journal entry and the double-entry transfer that explains it.
//!
//! Sign convention: balances are credit-positive. A member's prepaid balance and a store's
//! revenue are positive; a store's cash account goes negative as it takes cash in. Every
//! operation is one [`Transfer`], so the sum over all accounts is zero by construction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::ids::{EntrySeq, MemberId, StoreId};
use super::money::{Amount, Money, MoneyError};

pub type Timestamp = DateTime<Utc>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreAccountKind {
    /// Cash (or card, WeChat Pay) taken in for recharges.
    Cash,
    /// Stored value spent at the store's POS, net of refunds.
    Revenue,
}

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

/// A member's prepaid account. `balance` is never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub member: MemberId,
    pub balance: Money,
    /// Sequence of the newest entry; 0 before the first one.
    pub last_entry: EntrySeq,
}

impl Account {
    pub fn open(member: MemberId) -> Account {
        Account {
            member,
            balance: Money::ZERO,
            last_entry: EntrySeq(0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Recharge,
    /// `refunded` grows with each refund of this deduction and never exceeds its amount.
    Deduction {
        refunded: Money,
    },
    Refund {
        of: EntrySeq,
    },
}

/// One line of a member's transaction history (消费记录).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub member: MemberId,
    pub seq: EntrySeq,
    pub kind: EntryKind,
    /// The store where it happened: where cash was taken, value spent or refunded.
    pub store: StoreId,
    pub amount: Amount,
    pub balance_after: Money,
    pub at: Timestamp,
}

impl Entry {
    pub fn transfer(&self) -> Transfer {
        let member = AccountRef::Member(self.member);
        let (from, to) = match self.kind {
            EntryKind::Recharge => (
                AccountRef::Store(self.store, StoreAccountKind::Cash),
                member,
            ),
            EntryKind::Deduction { .. } => (
                member,
                AccountRef::Store(self.store, StoreAccountKind::Revenue),
            ),
            EntryKind::Refund { .. } => (
                AccountRef::Store(self.store, StoreAccountKind::Revenue),
                member,
            ),
        };
        Transfer {
            from,
            to,
            amount: self.amount,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerCommand {
    Recharge {
        member: MemberId,
        store: StoreId,
        amount: Amount,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
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
}

impl From<MoneyError> for LedgerError {
    fn from(_: MoneyError) -> Self {
        LedgerError::Overflow
    }
}

/// The result of applying a command: the account's new state, the new entry and, for a
/// refund, the deduction entry with its grown `refunded`.
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

fn post(
    account: &Account,
    kind: EntryKind,
    store: StoreId,
    amount: Amount,
    balance: Money,
    at: Timestamp,
) -> Result<Posted, LedgerError> {
    assert!(
        !balance.is_negative(),
        "member balance must never go negative"
    );
    let seq = next_entry(account)?;
    let entry = Entry {
        member: account.member,
        seq,
        kind,
        store,
        amount,
        balance_after: balance,
        at,
    };
    Ok(Posted {
        account: Account {
            member: account.member,
            balance,
            last_entry: seq,
        },
        entry,
        updated_deduction: None,
    })
}

pub fn recharge(
    account: &Account,
    store: StoreId,
    amount: Amount,
    at: Timestamp,
) -> Result<Posted, LedgerError> {
    let balance = account.balance.checked_add(amount.money())?;
    post(account, EntryKind::Recharge, store, amount, balance, at)
}

pub fn deduct(
    account: &Account,
    store: StoreId,
    amount: Amount,
    at: Timestamp,
) -> Result<Posted, LedgerError> {
    let balance = account.balance.checked_sub(amount.money())?;
    if balance.is_negative() {
        return Err(LedgerError::InsufficientBalance {
            balance: account.balance,
            requested: amount,
        });
    }
    post(
        account,
        EntryKind::Deduction {
            refunded: Money::ZERO,
        },
        store,
        amount,
        balance,
        at,
    )
}

/// Refunds part or all of `deduction` back to the member's stored value, at the store where
/// the value was spent. The total refunded never exceeds what was deducted.
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
    let balance = account.balance.checked_add(amount.money())?;
    let mut posted = post(
        account,
        EntryKind::Refund { of: deduction.seq },
        deduction.store,
        amount,
        balance,
        at,
    )?;
    let refunded = refunded.checked_add(amount.money())?;
    assert!(
        refunded <= deduction.amount.money(),
        "refunded more than deducted"
    );
    posted.updated_deduction = Some(Entry {
        kind: EntryKind::Deduction { refunded },
        ..*deduction
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

    /// Applies the store side of `transfer` and returns the store account it changed with its
    /// new balance. The member side is carried by [`Posted::account`].
    pub fn apply(&mut self, transfer: &Transfer) -> Result<(StoreAccount, Money), LedgerError> {
        let (key, delta) = match (transfer.from, transfer.to) {
            (AccountRef::Store(s, k), AccountRef::Member(_)) => {
                ((s, k), Money::ZERO.checked_sub(transfer.amount.money())?)
            }
            (AccountRef::Member(_), AccountRef::Store(s, k)) => ((s, k), transfer.amount.money()),
            _ => unreachable!("every ledger transfer is between a member and a store account"),
        };
        let new = self.balance(key.0, key.1).checked_add(delta)?;
        self.balances.insert(key, new);
        Ok((key, new))
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
        let p = recharge(&acct, store(1), amt(50), at()).unwrap();
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
        let p = recharge(&acct, store(1), amt(100), at()).unwrap();
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
        Recharge(i64),
        Deduct(i64),
        Refund(usize, Option<i64>),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1i64..1_000).prop_map(Op::Recharge),
            (1i64..1_000).prop_map(Op::Deduct),
            (0usize..20, proptest::option::of(1i64..500)).prop_map(|(i, a)| Op::Refund(i, a)),
        ]
    }

    proptest! {
        /// Against a plain model: balance = recharges - deductions + refunds, never negative,
        /// refunds per deduction bounded, and member + store accounts sum to zero.
        #[test]
        fn random_sequences_balance(ops in proptest::collection::vec(op(), 1..60)) {
            let member = MemberId::new(store(1), 1);
            let mut account = Account::open(member);
            let mut book = StoreBook::default();
            let mut entries: Vec<Entry> = Vec::new();
            let mut model: i64 = 0;
            for op in ops {
                let result = match op {
                    Op::Recharge(a) => recharge(&account, store(1), amt(a), at()),
                    Op::Deduct(a) => deduct(&account, store(2), amt(a), at()),
                    Op::Refund(i, a) => {
                        let Some(target) = entries.get(i).copied() else { continue };
                        refund(&account, &target, a.map(amt), at())
                    }
                };
                let Ok(posted) = result else { continue };
                match posted.entry.kind {
                    EntryKind::Deduction { .. } => model -= posted.entry.amount.minor(),
                    _ => model += posted.entry.amount.minor(),
                }
                book.apply(&posted.entry.transfer()).unwrap();
                if let Some(d) = posted.updated_deduction {
                    entries[(d.seq.0 - 1) as usize] = d;
                }
                entries.push(posted.entry);
                account = posted.account;
                prop_assert_eq!(account.balance.minor(), model);
                prop_assert!(model >= 0);
                let store_sum: i64 = book.iter().map(|(_, m)| m.minor()).sum();
                prop_assert_eq!(store_sum + account.balance.minor(), 0);
            }
            for e in &entries {
                if let EntryKind::Deduction { refunded } = e.kind {
                    prop_assert!(refunded <= e.amount.money());
                }
            }
        }
    }
}
