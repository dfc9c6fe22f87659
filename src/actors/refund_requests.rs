//! Refund requests (退款审核) on the member's home ledger, the actor that owns the money
//! they would move: asked, rejected and withdrawn here; approved through `MemberWrite`, so
//! the refund (a return's stock included) is posted in the write that approves it.

use actix::{Handler, Message};

use super::counter::MemberRequest;
use super::store_ledger::StoreLedger;
use super::{ActorError, WriteMeta, WriteResult};
use crate::domain::counter::{self, CounterOp, Ctx};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{EntrySeq, MemberId};
use crate::domain::money::Amount;
use crate::domain::refund_request::{
    self as rr, Grant, RefundRequest, RefundRequestId, Requester, Target, OPEN_REFUND_REQUESTS_MAX,
};
use crate::storage::refund_requests::records;

/// What to refund, as asked: an order's lines default to all that is left of it.
#[derive(Debug, Clone)]
pub enum Asked {
    Deduction(EntrySeq),
    Recharge(EntrySeq),
    Order(crate::domain::checkout::OrderId, Option<Vec<(usize, u32)>>),
}

#[derive(Debug, Clone)]
pub enum RefundAction {
    Open {
        asked: Asked,
        amount: Option<Amount>,
        reason: String,
        requester: Requester,
    },
    Reject {
        id: RefundRequestId,
        reason: String,
    },
    Withdraw {
        id: RefundRequestId,
    },
}

/// A refund request written on `member`'s home ledger.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct RefundRequestWrite {
    pub meta: WriteMeta,
    pub member: MemberId,
    pub action: RefundAction,
}

/// An approval on its way through `MemberWrite`: the request and what it grants.
#[derive(Debug, Clone)]
pub(super) struct Approval {
    pub id: RefundRequestId,
    pub grant: Grant,
    pub note: String,
}

impl StoreLedger {
    /// The request as this ledger knows it: written here and not durable yet, or on disk.
    pub(super) fn refund_request(
        &self,
        id: RefundRequestId,
        member: MemberId,
    ) -> Result<RefundRequest, ActorError> {
        let found = match self.refunds.get(&id) {
            Some((_, r)) => Some(r.clone()),
            None => self.registry.storage.refund_request(id)?,
        };
        found
            .filter(|r| r.member == member)
            .ok_or_else(|| ActorError::NotFound(format!("refund request {}", id.0)))
    }

    /// `member`'s requests waiting for a decision.
    fn pending_refunds(&self, member: MemberId) -> Result<Vec<RefundRequest>, ActorError> {
        let mut all = self
            .registry
            .storage
            .pending_refund_requests(member, OPEN_REFUND_REQUESTS_MAX + 1)?;
        for r in self.refunds.values().filter(|r| r.member == member) {
            all.retain(|d| d.id != r.id);
            all.push(r.clone());
        }
        all.retain(|r| r.state == rr::State::Pending);
        Ok(all)
    }

    fn next_refund_id(&mut self) -> Result<RefundRequestId, ActorError> {
        let last = match self.last_refund {
            Some(n) => n,
            None => self.registry.storage.last_refund_request_seq(self.home)?,
        };
        let next = last
            .checked_add(1)
            .ok_or(ActorError::Exhausted("refund request ids"))?;
        self.last_refund = Some(next);
        Ok(RefundRequestId::new(self.home, next))
    }

    /// The target of a new request, checked by trying its refund on the account as it is:
    /// a request that could never be granted is refused now, with the refund's own error.
    fn checked_target(
        &mut self,
        member: MemberId,
        asked: Asked,
        amount: Option<Amount>,
    ) -> Result<Target, ActorError> {
        let account = self
            .account(member)?
            .ok_or(ActorError::MemberNotFound(member.get()))?;
        let (target, op) = match asked {
            Asked::Deduction(seq) => (
                Target::Deduction(seq),
                CounterOp::Refund {
                    deduction: self.entry(member, seq)?,
                    amount,
                },
            ),
            Asked::Recharge(seq) => {
                let recharge = self.entry(member, seq)?;
                let amount = amount.ok_or(rr::RefundRequestError::Invalid(
                    "a recharge refund names its amount",
                ))?;
                (
                    Target::Recharge(seq),
                    CounterOp::RefundRecharge { recharge, amount },
                )
            }
            Asked::Order(id, lines) => {
                let order = self.order(id)?;
                if order.member != Some(member) {
                    return Err(ActorError::NotFound(format!("order {}", id.0)));
                }
                let lines = lines.unwrap_or_else(|| rr::remaining_lines(&order));
                let deduction = order
                    .deduction
                    .map(|seq| self.entry(member, seq))
                    .transpose()?;
                (
                    Target::Order(id, lines.clone()),
                    CounterOp::Return {
                        order,
                        deduction,
                        lines,
                    },
                )
            }
        };
        let (catalog, now, today) = self.ctx_parts(self.home);
        let ctx = Ctx {
            store: self.home,
            now,
            today,
            catalog: &catalog,
        };
        counter::apply(&account, &ctx, op)?;
        Ok(target)
    }

    /// An approval's grant, if the request is still pending.
    pub(super) fn approval(
        &self,
        member: MemberId,
        id: RefundRequestId,
        amount: Option<Amount>,
        lines: Option<Vec<(usize, u32)>>,
        note: Option<String>,
    ) -> Result<(Approval, MemberRequest), ActorError> {
        let note = rr::note(note.as_deref())?;
        let grant = self.refund_request(id, member)?.grant(amount, lines)?;
        let request = match grant.clone() {
            Grant::Deduction(deduction, amount) => MemberRequest::Refund { deduction, amount },
            Grant::Recharge(recharge, amount) => MemberRequest::RefundRecharge { recharge, amount },
            Grant::Order(order, lines) => MemberRequest::Return { order, lines },
        };
        Ok((Approval { id, grant, note }, request))
    }

    /// The writes that mark an approved request, once its refund posted `entry`. The
    /// request was found pending in this same turn, before the refund changed the account:
    /// failing now would leave memory ahead of what is written, so it stops the process.
    pub(super) fn approve(
        &mut self,
        member: MemberId,
        approval: Approval,
        entry: Option<EntrySeq>,
        credential: u64,
    ) -> Vec<crate::storage::Write> {
        let now = self.registry.clock.now();
        let decided = self
            .refund_request(approval.id, member)
            .and_then(|r| Ok(r.approved(approval.grant, entry, credential, now, approval.note)?))
            .expect("a refund request found pending in this turn is approved");
        let writes = records(&decided);
        self.refunds
            .insert(self.writer.next_seq(), decided.id, decided);
        writes
    }
}

impl Handler<RefundRequestWrite> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: RefundRequestWrite, _: &mut Self::Context) -> WriteResult {
        self.prune();
        let member = msg.member;
        self.owns(member)?;
        let credential = msg.meta.audit.credential.0;
        super::writer::turn(self, msg.meta, |me| {
            let now = me.registry.clock.now();
            let request = match msg.action {
                RefundAction::Open {
                    asked,
                    amount,
                    reason,
                    requester,
                } => {
                    let target = me.checked_target(member, asked, amount)?;
                    let pending = me.pending_refunds(member)?;
                    // Checked before an id is taken: a refused request uses none.
                    let mut request = rr::open(
                        RefundRequestId(0),
                        member,
                        target,
                        amount,
                        &reason,
                        requester,
                        now,
                        &pending,
                    )?;
                    request.id = me.next_refund_id()?;
                    request
                }
                RefundAction::Reject { id, reason } => me
                    .refund_request(id, member)?
                    .rejected(credential, now, &reason)?,
                RefundAction::Withdraw { id } => me.refund_request(id, member)?.withdrawn(now)?,
            };
            let writes = records(&request);
            me.refunds
                .insert(me.writer.next_seq(), request.id, request.clone());
            Ok((Outcome::RefundRequest(Box::new(request)), writes))
        })
    }
}
