//! The member channel's sign-in on the `Directory`, which owns phones: sending a one-time
//! code through the outbox, opening a session with it, and ending sessions. Codes and
//! sessions are written like everything else, with the idempotency record, so a guess
//! counts once it is durable and a session works once its answer is sent.

use std::collections::HashSet;

use actix::{Context, Handler, Message};

use super::directory::Directory;
use super::writer::{begin_meta, turn};
use super::{ActorError, Durable, WriteMeta, WriteResult};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{MemberId, Phone, StoreId};
use crate::domain::member_session::{
    self as session, ChannelOutcome, MemberSession, PhoneCodes, TokenHash, CODE_TTL_SECONDS,
};
use crate::domain::notify::{EventKind, MessageTemplate, Notification, NotificationId, Source};
use crate::storage::member_sessions as disk;
use crate::storage::notify::notification_writes;
use crate::storage::{StorageError, Write};

/// Send a sign-in code to the member whose phone this is.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct SendSignInCode {
    pub meta: WriteMeta,
    pub phone: Phone,
    /// Drawn by the API, so that the actor stays deterministic.
    pub code: String,
}

/// Open a session with a code.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct SignIn {
    pub meta: WriteMeta,
    pub phone: Phone,
    pub code: String,
    pub token_hash: TokenHash,
}

/// End one session of a member (signing out), or all of them (staff).
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct SignOut {
    pub meta: WriteMeta,
    pub member: MemberId,
    pub only: Option<TokenHash>,
}

fn channel(c: ChannelOutcome) -> Outcome {
    Outcome::MemberChannel(Box::new(c))
}

impl Directory {
    /// A phone's codes as this actor last wrote them: pending first, then disk.
    fn phone_codes(&self, phone: &Phone) -> Result<Option<PhoneCodes>, StorageError> {
        if let Some((_, c)) = self.codes.get(phone) {
            return Ok(Some(c.clone()));
        }
        self.registry.storage.phone_codes(phone)
    }

    /// The next id of a notification this actor writes for `store`'s outbox.
    pub(super) fn next_notice(&mut self, store: StoreId) -> Result<NotificationId, ActorError> {
        let last = match self.last_notice.get(&store) {
            Some(n) => *n,
            None => self
                .registry
                .storage
                .last_notification_seq(store, Source::Directory)?,
        };
        let n = last
            .checked_add(1)
            .filter(|n| *n <= crate::domain::notify::SEQ_MAX)
            .ok_or(ActorError::Exhausted("notification ids"))?;
        self.last_notice.insert(store, n);
        Ok(NotificationId::new(store, Source::Directory, n))
    }

    /// The member a phone signs in, if any (a member in the recycle bin is nobody's).
    fn signer(&self, phone: &Phone) -> Result<Option<MemberId>, StorageError> {
        match self.phone_owner(phone)? {
            Some(id) if self.member(id)?.is_some() => Ok(Some(id)),
            _ => Ok(None),
        }
    }
}

impl Handler<SendSignInCode> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: SendSignInCode, _: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let now = self.registry.clock.now();
        let sent = channel(ChannelOutcome::CodeSent {
            expires_at: session::code_expires(now),
        });
        // A phone that is no member's is answered alike, and nothing is kept of it.
        let Some(member) = self.signer(&msg.phone)? else {
            return Ok(Durable {
                value: sent,
                ticket: self.writer.ticket_for_latest(),
            });
        };
        let prev = self.phone_codes(&msg.phone)?;
        let hash = session::code_hash(&msg.phone, &msg.code);
        let codes = session::issue(prev.as_ref(), member, hash, now)
            .map_err(|t| ActorError::Throttled(t.0))?;
        let home = self.registry.home_of(member);
        let catalog = self.registry.catalog();
        let template = match catalog.templates.get(&EventKind::SignInCode) {
            Some(t) => t.clone(),
            None => MessageTemplate::new(
                EventKind::SignInCode,
                EventKind::SignInCode.default_text().unwrap_or("{code}"),
            )
            .map_err(|e| ActorError::Invalid(e.to_string()))?,
        };
        let vars = [
            ("member_id", member.get().to_string()),
            ("store_id", home.get().to_string()),
            ("code", msg.code.clone()),
            ("minutes", (CODE_TTL_SECONDS / 60).to_string()),
        ];
        let id = self.next_notice(home)?;
        let note = Notification::new(id, member, home, &template, &vars, now);
        let mut writes = notification_writes(&note, None);
        writes.push(disk::codes(&msg.phone, &codes));
        self.codes.insert(self.writer.next_seq(), msg.phone, codes);
        Ok(self.writer.commit_meta(msg.meta, sent, writes))
    }
}

impl Handler<SignIn> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: SignIn, _: &mut Context<Self>) -> WriteResult {
        turn(self, msg.meta, |d| {
            let now = d.registry.clock.now();
            let refused = |e| (channel(ChannelOutcome::SignInRefused(e)), Vec::new());
            let Some(codes) = d.phone_codes(&msg.phone)? else {
                return Ok(refused(session::SignInError::NoCode));
            };
            let (after, verdict) =
                session::verify(&codes, session::code_hash(&msg.phone, &msg.code), now);
            // Every read that can fail comes before memory changes.
            let verdict = match verdict {
                Ok(member) if d.member(member)?.is_none() => Err(session::SignInError::NoCode),
                v => v,
            };
            let mut writes: Vec<Write> = Vec::new();
            if after != codes {
                writes.push(disk::codes(&msg.phone, &after));
                d.codes
                    .insert(d.writer.next_seq(), msg.phone.clone(), after);
            }
            let outcome = match verdict {
                Ok(member) => {
                    let s = MemberSession::open(msg.token_hash, member, now);
                    writes.extend(disk::session_opened(&s));
                    d.sessions
                        .insert(d.writer.next_seq(), s.token_hash, (member, true));
                    channel(ChannelOutcome::SessionOpened(s))
                }
                Err(e) => channel(ChannelOutcome::SignInRefused(e)),
            };
            Ok((outcome, writes))
        })
    }
}

impl Handler<SignOut> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: SignOut, _: &mut Context<Self>) -> WriteResult {
        turn(self, msg.meta, |d| {
            let member = msg.member;
            let ended: Vec<TokenHash> = match msg.only {
                Some(h) => vec![h],
                None => {
                    // On disk, and opened or ended since without being durable yet.
                    let mut all: HashSet<TokenHash> = d
                        .registry
                        .storage
                        .member_sessions(member)?
                        .into_iter()
                        .collect();
                    for (h, (m, open)) in d.sessions.entries() {
                        if *m == member {
                            if *open {
                                all.insert(*h);
                            } else {
                                all.remove(h);
                            }
                        }
                    }
                    let mut all: Vec<TokenHash> = all.into_iter().collect();
                    all.sort_unstable();
                    all
                }
            };
            let mut writes = Vec::with_capacity(ended.len() * 2);
            let seq = d.writer.next_seq();
            for h in &ended {
                writes.extend(disk::session_ended(member, h));
                d.sessions.insert(seq, *h, (member, false));
            }
            let count = u32::try_from(ended.len()).unwrap_or(u32::MAX);
            Ok((
                channel(ChannelOutcome::SessionsEnded { member, count }),
                writes,
            ))
        })
    }
}
