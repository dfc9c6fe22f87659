//! Count cards (次卡) linked to service plans: a store's scheduler asks the member's home
//! ledger whether a card may be linked, and hands it the writes that complete a linked
//! occurrence, so that the completion and the session it consumes are one journal
//! submission, hence one atomic, durable write.

use actix::{Context, Handler, Message, MessageResult};

use super::store_ledger::StoreLedger;
use super::{ActorError, Durable};
use crate::domain::booking::ServiceId;
use crate::domain::counter::{self, CounterOp, Ctx};
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::ledger::LedgerError;
use crate::domain::membership::CardId;
use crate::storage::Write;

/// May `card` of `member` pay for sessions of `service` at `store`? Answers `Ok(remaining)`.
#[derive(Debug, Message)]
#[rtype(result = "Result<u32, ActorError>")]
pub struct CheckCard {
    pub member: MemberId,
    pub card: CardId,
    pub service: ServiceId,
    pub store: StoreId,
}

/// One plan occurrence to complete: the scheduler's writes for it, and the session to take.
#[derive(Debug)]
pub struct LinkedCompletion {
    pub member: MemberId,
    pub card: CardId,
    pub service: ServiceId,
    /// Shown in the member's activity log.
    pub reason: String,
    /// The completed booking, its event and, for a staff request, its idempotency record.
    pub writes: Vec<Write>,
}

/// What became of one linked completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionTaken {
    /// Completed, and one session taken; `remaining` are left on the card.
    Taken { remaining: u32 },
    /// Completed, but the card could not pay (used up, expired, locked): nothing taken.
    NotTaken(LedgerError),
    /// Nothing was written (the account could not be read): the scheduler keeps the
    /// occurrence open and tries again.
    Failed,
}

/// Completes linked occurrences at `store`, all in one journal submission.
#[derive(Debug, Message)]
#[rtype(result = "Durable<Vec<SessionTaken>>")]
pub struct CompleteLinked {
    pub store: StoreId,
    pub items: Vec<LinkedCompletion>,
}

impl Handler<CheckCard> for StoreLedger {
    type Result = Result<u32, ActorError>;

    fn handle(&mut self, msg: CheckCard, _: &mut Context<Self>) -> Self::Result {
        let account = self
            .account(msg.member)?
            .ok_or(ActorError::MemberNotFound(msg.member.get()))?;
        let (_, _, today) = self.ctx_parts(msg.store);
        let card = account
            .membership
            .card(msg.card)
            .map_err(LedgerError::from)?;
        if card.service != msg.service {
            return Err(
                LedgerError::from(crate::domain::membership::MemberError::WrongService {
                    card: card.id.0,
                    service: card.service.0,
                })
                .into(),
            );
        }
        card.usable(today).map_err(LedgerError::from)?;
        Ok(card.remaining)
    }
}

impl Handler<CompleteLinked> for StoreLedger {
    type Result = MessageResult<CompleteLinked>;

    fn handle(&mut self, msg: CompleteLinked, _: &mut Context<Self>) -> Self::Result {
        self.prune();
        let (catalog, now, today) = self.ctx_parts(msg.store);
        let ctx = Ctx {
            store: msg.store,
            now,
            today,
            catalog: &catalog,
        };
        let seq = self.writer.next_seq();
        let mut writes = Vec::new();
        let mut results = Vec::with_capacity(msg.items.len());
        for item in msg.items {
            let account = match self.account(item.member) {
                Ok(Some(a)) => a,
                // The member (and so the card) is gone, to the bin or beyond: the
                // occurrence completes uncharged instead of being retried forever.
                Ok(None) => {
                    writes.extend(item.writes);
                    results.push(SessionTaken::NotTaken(LedgerError::Member(
                        crate::domain::membership::MemberError::CardNotFound(item.card.0),
                    )));
                    continue;
                }
                // Moved to another home meanwhile, or storage failed: tried again later.
                Err(_) => {
                    results.push(SessionTaken::Failed);
                    continue;
                }
            };
            let op = CounterOp::Consume {
                card: item.card,
                sessions: 1,
                service: Some(item.service),
                reason: item.reason,
            };
            let taken = match counter::apply(&account, &ctx, op) {
                Ok(fx) => {
                    let remaining = fx
                        .account
                        .membership
                        .card(item.card)
                        .map_or(0, |c| c.remaining);
                    // A session used by a completed occurrence is never refused (the service
                    // was given); after a manual close it counts on the next open day, so
                    // the sealed day's figures don't move.
                    let deltas = crate::domain::closing::of_effects(
                        &fx,
                        account.last_entry,
                        ctx.now,
                        |s, at| self.registry.count_day(s, at),
                    );
                    if self
                        .write_effects(seq, &account, fx, &deltas, &mut writes)
                        .is_err()
                    {
                        results.push(SessionTaken::Failed);
                        continue;
                    }
                    SessionTaken::Taken { remaining }
                }
                Err(why) => SessionTaken::NotTaken(why),
            };
            writes.extend(item.writes);
            results.push(taken);
        }
        let ticket = self.writer.submit(writes);
        MessageResult(Durable {
            value: results,
            ticket,
        })
    }
}
