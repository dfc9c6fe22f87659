//! Refund requests (退款审核): a member or a cashier asks for a deduction, a recharge or an
//! order to be refunded; a manager grants all or part of it, or rejects it with a reason.
//! The grant becomes the refund itself (`CounterOp::Refund`, `RefundRecharge` or `Return`)
//! in the write that decides the request, so a request is never approved without its money.

use serde::{Deserialize, Serialize};

use super::checkout::{Order, OrderId};
use super::ids::{EntrySeq, MemberId, StoreId};
use super::ledger::Timestamp;
use super::money::Amount;

/// Longest reason or decision note, in characters.
pub const REFUND_REASON_LEN_MAX: usize = 200;
/// Most requests one member may have waiting for a decision.
pub const OPEN_REFUND_REQUESTS_MAX: usize = 10;

/// The issuing ledger's store in the high 32 bits, its sequence in the low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RefundRequestId(pub u64);

impl RefundRequestId {
    pub fn new(store: StoreId, seq: u32) -> RefundRequestId {
        RefundRequestId((u64::from(store.get()) << 32) | u64::from(seq))
    }

    pub fn store_raw(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub fn seq(self) -> u32 {
        self.0 as u32
    }
}

/// What is to be refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Deduction(EntrySeq),
    Recharge(EntrySeq),
    /// Lines of a paid order: (line index, quantity).
    Order(OrderId, Vec<(usize, u32)>),
}

impl Target {
    pub fn kind(&self) -> Kind {
        match self {
            Target::Deduction(_) => Kind::Deduction,
            Target::Recharge(_) => Kind::Recharge,
            Target::Order(..) => Kind::Order,
        }
    }

    /// Whether both name the same entry or order.
    fn same_object(&self, other: &Target) -> bool {
        match (self, other) {
            (Target::Deduction(a), Target::Deduction(b))
            | (Target::Recharge(a), Target::Recharge(b)) => a == b,
            (Target::Order(a, _), Target::Order(b, _)) => a == b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Deduction,
    Recharge,
    Order,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Requester {
    /// The member, signed in to the member channel.
    Member,
    /// Staff, by credential.
    Staff(u64),
}

/// Who decided, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub credential: u64,
    pub at: Timestamp,
    pub note: String,
}

/// What an approval refunds: the request's own terms, or less.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grant {
    /// `None`: what is left of the deduction.
    Deduction(EntrySeq, Option<Amount>),
    Recharge(EntrySeq, Amount),
    Order(OrderId, Vec<(usize, u32)>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    Pending,
    /// Granted, with the entry the refund posted (none for an order paid in tenders only).
    Approved {
        decision: Decision,
        grant: Grant,
        entry: Option<EntrySeq>,
    },
    Rejected(Decision),
    /// Taken back by whoever may ask for it, before a decision.
    Withdrawn {
        at: Timestamp,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    Pending,
    Approved,
    Rejected,
    Withdrawn,
}

impl State {
    pub fn kind(&self) -> StateKind {
        match self {
            State::Pending => StateKind::Pending,
            State::Approved { .. } => StateKind::Approved,
            State::Rejected(_) => StateKind::Rejected,
            State::Withdrawn { .. } => StateKind::Withdrawn,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub id: RefundRequestId,
    pub member: MemberId,
    pub target: Target,
    /// Asked for: `None` is all that is left of a deduction (a recharge names its amount;
    /// an order names its lines).
    pub amount: Option<Amount>,
    pub reason: String,
    pub requester: Requester,
    pub created_at: Timestamp,
    pub state: State,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRequestError {
    #[error("a reason or note must be 1 to {REFUND_REASON_LEN_MAX} characters")]
    BadReason,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("refund request {0} already waits for a decision on the same entry or order")]
    AlreadyOpen(u64),
    #[error("the member has {OPEN_REFUND_REQUESTS_MAX} refund requests waiting already")]
    TooMany,
    #[error("refund request {0} is {1:?} already")]
    Decided(u64, StateKind),
    #[error("the grant exceeds what was asked for: {0}")]
    ExceedsRequest(&'static str),
}

fn reason(text: &str) -> Result<String, RefundRequestError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > REFUND_REASON_LEN_MAX {
        return Err(RefundRequestError::BadReason);
    }
    Ok(text.to_owned())
}

/// An approval's note as kept: optional, bounded like a reason.
pub fn note(text: Option<&str>) -> Result<String, RefundRequestError> {
    Ok(text.map(reason).transpose()?.unwrap_or_default())
}

/// What is left to return of each line of `order`.
pub fn remaining_lines(order: &Order) -> Vec<(usize, u32)> {
    order
        .lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let back = order.returned.quantities.get(i).copied().unwrap_or(0);
            let left = l.quantity.saturating_sub(back);
            (left > 0).then_some((i, left))
        })
        .collect()
}

/// The lines merged by index, in index order: a line named twice counts once, summed.
fn merged(lines: &[(usize, u32)]) -> Result<Vec<(usize, u32)>, RefundRequestError> {
    let mut out: Vec<(usize, u32)> = Vec::with_capacity(lines.len());
    let mut sorted = lines.to_vec();
    sorted.sort_unstable();
    for (i, q) in sorted {
        if q == 0 {
            return Err(RefundRequestError::Invalid(
                "a returned quantity is 1 or more",
            ));
        }
        match out.last_mut() {
            Some((j, n)) if *j == i => {
                *n = n
                    .checked_add(q)
                    .ok_or(RefundRequestError::Invalid("quantity out of range"))?
            }
            _ => out.push((i, q)),
        }
    }
    Ok(out)
}

/// A new request of `member`, given the member's requests still `pending`.
#[allow(clippy::too_many_arguments)] // the request's own fields
pub fn open(
    id: RefundRequestId,
    member: MemberId,
    target: Target,
    amount: Option<Amount>,
    text: &str,
    requester: Requester,
    now: Timestamp,
    pending: &[RefundRequest],
) -> Result<RefundRequest, RefundRequestError> {
    let reason = reason(text)?;
    let target = match target {
        Target::Recharge(_) if amount.is_none() => {
            return Err(RefundRequestError::Invalid(
                "a recharge refund names its amount",
            ))
        }
        Target::Order(..) if amount.is_some() => {
            return Err(RefundRequestError::Invalid(
                "an order's refund names lines, not an amount",
            ))
        }
        Target::Order(o, lines) => {
            let lines = merged(&lines)?;
            if lines.is_empty() {
                return Err(RefundRequestError::Invalid("nothing is left to return"));
            }
            Target::Order(o, lines)
        }
        t => t,
    };
    if let Some(r) = pending.iter().find(|r| r.target.same_object(&target)) {
        return Err(RefundRequestError::AlreadyOpen(r.id.0));
    }
    if pending.len() >= OPEN_REFUND_REQUESTS_MAX {
        return Err(RefundRequestError::TooMany);
    }
    Ok(RefundRequest {
        id,
        member,
        target,
        amount,
        reason,
        requester,
        created_at: now,
        state: State::Pending,
    })
}

impl RefundRequest {
    pub fn ensure_pending(&self) -> Result<(), RefundRequestError> {
        match self.state {
            State::Pending => Ok(()),
            ref s => Err(RefundRequestError::Decided(self.id.0, s.kind())),
        }
    }

    /// What approving with `amount` or `lines` (none: as asked) refunds.
    pub fn grant(
        &self,
        amount: Option<Amount>,
        lines: Option<Vec<(usize, u32)>>,
    ) -> Result<Grant, RefundRequestError> {
        self.ensure_pending()?;
        let asked = self.amount;
        let within = |a: Option<Amount>| match (a, asked) {
            (Some(a), Some(max)) if a > max => Err(RefundRequestError::ExceedsRequest(
                "the amount is more than asked",
            )),
            (a, max) => Ok(a.or(max)),
        };
        match (&self.target, lines) {
            (Target::Order(..), _) if amount.is_some() => Err(RefundRequestError::Invalid(
                "an order's refund grants lines, not an amount",
            )),
            (Target::Deduction(_) | Target::Recharge(_), Some(_)) => Err(
                RefundRequestError::Invalid("an entry's refund grants an amount, not lines"),
            ),
            (Target::Deduction(e), None) => Ok(Grant::Deduction(*e, within(amount)?)),
            (Target::Recharge(e), None) => {
                let a = within(amount)?.ok_or(RefundRequestError::Invalid(
                    "a recharge refund names its amount",
                ))?;
                Ok(Grant::Recharge(*e, a))
            }
            (Target::Order(o, asked), None) => Ok(Grant::Order(*o, asked.clone())),
            (Target::Order(o, asked), Some(given)) => {
                let given = merged(&given)?;
                if given.is_empty() {
                    return Err(RefundRequestError::Invalid("grant at least one line"));
                }
                for (i, q) in &given {
                    match asked.iter().find(|(j, _)| j == i) {
                        Some((_, max)) if q <= max => {}
                        _ => {
                            return Err(RefundRequestError::ExceedsRequest(
                                "a line or quantity was not asked for",
                            ))
                        }
                    }
                }
                Ok(Grant::Order(*o, given))
            }
        }
    }

    /// The request approved with `grant`, which posted `entry`; `note` as [`note`] keeps it.
    pub fn approved(
        &self,
        grant: Grant,
        entry: Option<EntrySeq>,
        credential: u64,
        at: Timestamp,
        note: String,
    ) -> Result<RefundRequest, RefundRequestError> {
        self.ensure_pending()?;
        Ok(RefundRequest {
            state: State::Approved {
                decision: Decision {
                    credential,
                    at,
                    note,
                },
                grant,
                entry,
            },
            ..self.clone()
        })
    }

    pub fn rejected(
        &self,
        credential: u64,
        at: Timestamp,
        why: &str,
    ) -> Result<RefundRequest, RefundRequestError> {
        self.ensure_pending()?;
        Ok(RefundRequest {
            state: State::Rejected(Decision {
                credential,
                at,
                note: reason(why)?,
            }),
            ..self.clone()
        })
    }

    pub fn withdrawn(&self, at: Timestamp) -> Result<RefundRequest, RefundRequestError> {
        self.ensure_pending()?;
        Ok(RefundRequest {
            state: State::Withdrawn { at },
            ..self.clone()
        })
    }
}

/// Which requests a list keeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    pub state: Option<StateKind>,
    pub kind: Option<Kind>,
    pub member: Option<MemberId>,
}

impl Filter {
    pub fn keeps(&self, r: &RefundRequest) -> bool {
        self.state.is_none_or(|s| r.state.kind() == s)
            && self.kind.is_none_or(|k| r.target.kind() == k)
            && self.member.is_none_or(|m| r.member == m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn id(n: u32) -> RefundRequestId {
        RefundRequestId::new(StoreId::new(1).unwrap(), n)
    }

    fn member() -> MemberId {
        MemberId::new(StoreId::new(1).unwrap(), 7)
    }

    fn amount(n: i64) -> Amount {
        Amount::new(n).unwrap()
    }

    fn ask(
        n: u32,
        target: Target,
        a: Option<Amount>,
        pending: &[RefundRequest],
    ) -> Result<RefundRequest, RefundRequestError> {
        open(
            id(n),
            member(),
            target,
            a,
            " too early ",
            Requester::Member,
            now(),
            pending,
        )
    }

    #[test]
    fn a_request_needs_a_reason_and_its_terms() {
        let r = ask(1, Target::Deduction(EntrySeq(3)), None, &[]).unwrap();
        assert_eq!(r.reason, "too early");
        let blank = open(
            id(1),
            member(),
            Target::Deduction(EntrySeq(3)),
            None,
            " ",
            Requester::Member,
            now(),
            &[],
        );
        assert_eq!(blank, Err(RefundRequestError::BadReason));
        assert!(matches!(
            ask(1, Target::Recharge(EntrySeq(3)), None, &[]),
            Err(RefundRequestError::Invalid(_))
        ));
        assert!(matches!(
            ask(1, Target::Order(OrderId(9), vec![]), None, &[]),
            Err(RefundRequestError::Invalid(_))
        ));
        let r = ask(
            1,
            Target::Order(OrderId(9), vec![(2, 1), (0, 1), (2, 2)]),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(r.target, Target::Order(OrderId(9), vec![(0, 1), (2, 3)]));
    }

    #[test]
    fn one_open_request_per_object_and_a_bound_per_member() {
        let first = ask(1, Target::Deduction(EntrySeq(3)), None, &[]).unwrap();
        assert_eq!(
            ask(
                2,
                Target::Deduction(EntrySeq(3)),
                Some(amount(5)),
                std::slice::from_ref(&first)
            ),
            Err(RefundRequestError::AlreadyOpen(first.id.0))
        );
        // Another kind naming the same sequence is another entry.
        assert!(ask(2, Target::Recharge(EntrySeq(3)), Some(amount(5)), &[first]).is_ok());
        let many: Vec<_> = (0..OPEN_REFUND_REQUESTS_MAX as u32)
            .map(|n| {
                ask(
                    n,
                    Target::Deduction(EntrySeq(u64::from(n) + 100)),
                    None,
                    &[],
                )
                .unwrap()
            })
            .collect();
        assert_eq!(
            ask(99, Target::Deduction(EntrySeq(1)), None, &many),
            Err(RefundRequestError::TooMany)
        );
    }

    #[test]
    fn decisions_are_final() {
        let r = ask(1, Target::Deduction(EntrySeq(3)), None, &[]).unwrap();
        let no = r.rejected(5, now(), "not ours").unwrap();
        assert_eq!(no.state.kind(), StateKind::Rejected);
        assert_eq!(
            no.grant(None, None),
            Err(RefundRequestError::Decided(r.id.0, StateKind::Rejected))
        );
        assert!(no.withdrawn(now()).is_err());
        assert!(r.rejected(5, now(), "").is_err());
        let gone = r.withdrawn(now()).unwrap();
        assert!(gone.rejected(5, now(), "late").is_err());
    }

    proptest! {
        /// A grant never refunds more, or other lines, than the request asked for; and what
        /// was asked for is always grantable.
        #[test]
        fn grants_stay_within_the_request(
            asked in proptest::collection::vec((0usize..6, 1u32..5), 1..6),
            given in proptest::option::of(proptest::collection::vec((0usize..6, 1u32..8), 0..6)),
            asked_amount in proptest::option::of(1i64..10_000),
            given_amount in proptest::option::of(1i64..20_000),
        ) {
            let order = ask(1, Target::Order(OrderId(9), asked.clone()), None, &[]).unwrap();
            let Target::Order(_, asked) = order.target.clone() else { unreachable!() };
            prop_assert_eq!(order.grant(None, None), Ok(Grant::Order(OrderId(9), asked.clone())));
            if let Ok(Grant::Order(_, lines)) = order.grant(None, given) {
                for (i, q) in lines {
                    let max = asked.iter().find(|(j, _)| *j == i).map(|(_, m)| *m);
                    prop_assert!(max.is_some_and(|m| q <= m));
                }
            }
            let entry = ask(2, Target::Deduction(EntrySeq(3)), asked_amount.map(amount), &[]).unwrap();
            match entry.grant(given_amount.map(amount), None) {
                Ok(Grant::Deduction(_, granted)) => {
                    if let (Some(g), Some(a)) = (granted, asked_amount) {
                        prop_assert!(g.minor() <= a);
                    }
                    prop_assert!(granted.is_some() || (asked_amount.is_none() && given_amount.is_none()));
                }
                Ok(other) => prop_assert!(false, "unexpected grant {:?}", other),
                Err(e) => prop_assert!(matches!(e, RefundRequestError::ExceedsRequest(_))),
            }
        }
    }
}
