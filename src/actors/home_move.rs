//! Moving a member's home store (会员转店), across three actors.
//!
//! The directory runs one move at a time (an atomic handler): it asks the old home's ledger
//! to release the member, waits until that write is durable, publishes the new home in the
//! registry, and tells the old ledger to forget the member. The old ledger writes the whole
//! move in one submission: the account, the move's entry, the settlement line the old home
//! owes the new one, the member's `j` key and the follow-up due key the directory handed it.
//! From release to publication, requests still routed to the old ledger answer
//! `member_moved` and change nothing; the new ledger sees none of them until its first read
//! of the account from disk, which holds every write the old one made.

use actix::{ActorFutureExt, AtomicResponse, Context, Handler, Message, WrapFuture};

use super::directory::Directory;
use super::store_ledger::StoreLedger;
use super::writer::{begin_meta, turn};
use super::{ActorError, Durable, WriteMeta, WriteResult};
use crate::domain::home_move::move_home;
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{MemberId, StoreId};
use crate::storage::{follow_ups, homes, ledger_writes, Write};

/// Move a member's home store to `to`, with everything the member holds.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct MoveMember {
    pub meta: WriteMeta,
    pub member: MemberId,
    pub to: StoreId,
}

/// The old home's part of a move: write it, and stop serving the member.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
struct ReleaseMember {
    meta: WriteMeta,
    member: MemberId,
    to: StoreId,
    /// The directory's writes that go with the move (the follow-up due key).
    with: Vec<Write>,
}

/// The registry names the member's new home: the old ledger may forget it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct ForgetMember(MemberId);

impl Handler<MoveMember> for Directory {
    type Result = AtomicResponse<Self, WriteResult>;

    fn handle(&mut self, msg: MoveMember, _ctx: &mut Context<Self>) -> Self::Result {
        let ready = |r| AtomicResponse::new(Box::pin(actix::fut::ready(r)));
        // Moves run one at a time, each durable before the next: a repeat finds its record.
        match begin_meta(self, &msg.meta) {
            Ok(Some(answer)) => return ready(Ok(answer)),
            Err(e) => return ready(Err(e)),
            Ok(None) => {}
        }
        let (member, to) = (msg.member, msg.to);
        let from = self.registry.home_of(member);
        let prepared = (|| {
            self.member(member)?
                .ok_or(ActorError::MemberNotFound(member.get()))?;
            if !self.registry.has_store(to) {
                return Err(ActorError::StoreNotFound(to.get()));
            }
            let ledger = self
                .registry
                .store(from)
                .ok_or(ActorError::MemberNotFound(member.get()))?;
            let latest = self.latest_follow_up(member)?;
            Ok((ledger, follow_ups::rehomed(latest.as_ref(), from, to)))
        })();
        let (old, with) = match prepared {
            Ok(p) => p,
            Err(e) => return ready(Err(e)),
        };
        let release = ReleaseMember {
            meta: msg.meta,
            member,
            to,
            with,
        };
        let registry = self.registry.clone();
        let done = async move {
            let value = super::written(&old, release).await?;
            if matches!(value, Outcome::HomeMoved(_)) {
                registry.publish_home(member, to);
                old.send(ForgetMember(member))
                    .await
                    .map_err(|_| ActorError::Unavailable)?;
            }
            Ok::<_, ActorError>(value)
        };
        AtomicResponse::new(Box::pin(done.into_actor(self).map(|value, act, _| {
            Ok(Durable {
                value: value?,
                ticket: act.writer.ticket(0),
            })
        })))
    }
}

impl Handler<ReleaseMember> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: ReleaseMember, _ctx: &mut Context<Self>) -> WriteResult {
        let (member, to, with) = (msg.member, msg.to, msg.with);
        turn(self, msg.meta, |me| {
            let account = me
                .account(member)?
                .ok_or(ActorError::MemberNotFound(member.get()))?;
            let now = me.registry.clock.now();
            let (after, entry, moved) = move_home(&account, me.home, to, now)?;
            let mut writes = vec![ledger_writes::account(&after)];
            if let Some(e) = &entry {
                writes.push(ledger_writes::entry(member, e));
                writes.push(ledger_writes::settlement(me.home, member, e, moved.settled));
            }
            writes.extend(homes::moved(member, me.home, to));
            writes.extend(with);
            me.release_member(member, to);
            Ok((Outcome::HomeMoved(Box::new(moved)), writes))
        })
    }
}

impl Handler<ForgetMember> for StoreLedger {
    type Result = ();

    fn handle(&mut self, msg: ForgetMember, _ctx: &mut Context<Self>) {
        self.forget_member(msg.0);
    }
}
