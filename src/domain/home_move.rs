//! Moving a member's home store (会员转店). The account goes whole to the new home's
//! ledger: stored value, bonus, points, count cards, coupons, level. No money moves between
//! accounts, so the trial balance is untouched; the old home, which took the money in, owes
//! the new one, which will serve it, the whole stored value, as one settlement line.

use super::ids::{EntrySeq, MemberId, StoreId};
use super::ledger::{Account, Entry, EntryKind, LedgerError, Timestamp};
use super::money::{Amount, Money};

/// A move as answered and replayed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HomeMove {
    pub member: MemberId,
    pub from: StoreId,
    pub to: StoreId,
    /// What `from` owes `to`: the stored value at the move.
    pub settled: Money,
    /// The entry in the member's history, when there was stored value to record.
    pub entry: Option<EntrySeq>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HomeMoveError {
    #[error("the member's home store is already store {0}")]
    SameStore(u32),
    #[error("{0}")]
    Ledger(#[from] LedgerError),
}

/// The account after moving from `from` to `to` at `at`, the entry recording it (none for an
/// empty balance: nothing to settle) and the move itself.
pub fn move_home(
    account: &Account,
    from: StoreId,
    to: StoreId,
    at: Timestamp,
) -> Result<(Account, Option<Entry>, HomeMove), HomeMoveError> {
    if from == to {
        return Err(HomeMoveError::SameStore(to.get()));
    }
    let mut after = account.clone();
    let entry = match Amount::new(account.balance.minor()) {
        Ok(amount) => {
            let seq = EntrySeq(
                account
                    .last_entry
                    .0
                    .checked_add(1)
                    .ok_or(LedgerError::Overflow)?,
            );
            after.last_entry = seq;
            Some(Entry {
                member: account.member,
                seq,
                kind: EntryKind::HomeMove { from },
                store: to,
                amount,
                bonus: account.bonus,
                balance_after: account.balance,
                at,
            })
        }
        Err(_) => None,
    };
    let moved = HomeMove {
        member: account.member,
        from,
        to,
        settled: account.balance,
        entry: entry.map(|e| e.seq),
        at,
    };
    Ok((after, entry, moved))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::{deduct, recharge, TenderKind};

    fn store(n: u32) -> StoreId {
        StoreId::new(n).unwrap()
    }

    fn at() -> Timestamp {
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn a_move_keeps_the_account_and_settles_its_balance() {
        let member = MemberId::new(store(1), 1);
        let open = Account::open(member);
        let paid = Amount::new(10_000).unwrap();
        let funded = recharge(
            &open,
            store(1),
            paid,
            Money::from_minor(500),
            TenderKind::Cash,
            at(),
        )
        .unwrap()
        .account;
        let (after, entry, moved) = move_home(&funded, store(1), store(2), at()).unwrap();
        let entry = entry.unwrap();
        assert_eq!(after.balance, funded.balance);
        assert_eq!(after.bonus, funded.bonus);
        assert_eq!(after.membership, funded.membership);
        assert_eq!(after.last_entry, entry.seq);
        assert_eq!(moved.settled.minor(), 10_500);
        assert!(entry.transfers().is_empty(), "no account changes");
        assert_eq!(entry.signed(), Money::ZERO);
        assert_eq!(entry.store, store(2));

        // Spent down to nothing: a move records no entry and settles nothing.
        let spent = deduct(&after, store(2), Amount::new(10_500).unwrap(), at())
            .unwrap()
            .account;
        let (_, entry, moved) = move_home(&spent, store(2), store(3), at()).unwrap();
        assert!(entry.is_none());
        assert_eq!(moved.settled, Money::ZERO);

        assert_eq!(
            move_home(&spent, store(3), store(3), at()).unwrap_err(),
            HomeMoveError::SameStore(3)
        );
    }
}
