//! Bulk messages (群发) on the `Directory`, which owns members' records and writes its own
//! notifications: one message queued in the member's home outbox per write, under the run's
//! key and the member, and each page's tally of the run.

use actix::{Context, Handler, Message};

use super::directory::Directory;
use super::writer::begin_meta;
use super::{ActorError, WriteMeta, WriteResult};
use crate::domain::bulk_message::Tally;
use crate::domain::idempotency::Outcome;
use crate::domain::ids::MemberId;
use crate::domain::notify::{MessageTemplate, Notification};
use crate::storage::notify::notification_writes;
use crate::storage::Ticket;

/// Queue `template`, rendered with `vars`, for `member`.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct QueueMessage {
    pub meta: WriteMeta,
    pub member: MemberId,
    pub template: MessageTemplate,
    pub vars: Vec<(&'static str, String)>,
}

/// One page of a run and its tally: a retried page replaces its own tally.
#[derive(Debug, Message)]
#[rtype(result = "Ticket")]
pub struct RecordBulkPage {
    pub run: String,
    pub page: String,
    pub tally: Tally,
}

impl Handler<QueueMessage> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: QueueMessage, _: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        // A member binned since the page was read is nobody's to message.
        if self.member(msg.member)?.is_none() {
            return Err(ActorError::MemberNotFound(msg.member.get()));
        }
        let home = self.registry.home_of(msg.member);
        let id = self.next_notice(home)?;
        let now = self.registry.clock.now();
        let note = Notification::new(id, msg.member, home, &msg.template, &msg.vars, now);
        let writes = notification_writes(&note, None);
        let queued = Outcome::MessageQueued {
            member: msg.member,
            notification: id.0,
        };
        Ok(self.writer.commit_meta(msg.meta, queued, writes))
    }
}

impl Handler<RecordBulkPage> for Directory {
    type Result = actix::MessageResult<RecordBulkPage>;

    fn handle(&mut self, msg: RecordBulkPage, _: &mut Context<Self>) -> Self::Result {
        let write = crate::storage::bulk_messages::page(&msg.run, &msg.page, &msg.tally);
        actix::MessageResult(self.writer.submit(vec![write]))
    }
}
