//! The closing actor: seals business days (日结) automatically when they end in each store's
//! time zone, and by hand where a store is set to close manually; it alone owns the
//! stores' closing modes and writes sealed records.
//!
//! Sealing a day: (1) a manual close marks the day closed in the registry, so ledgers refuse
//! anything that would add to its figures from then on; (2) a barrier: every ledger,
//! scheduler and the directory answer with a ticket for their latest submission, so every
//! write stamped before the seal has been handed to the journal, and the tickets are awaited
//! until durable; (3) the day's figures are read from disk and the sealed record is written.
//! A write is stamped and submitted within one handler, so step (2) leaves none behind.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use futures::future::join_all;
use futures::FutureExt;

use super::directory::Directory;
use super::registry::Registry;
use super::writer::{Writer, Writes};
use super::{ActorError, Durable, WriteMeta, WriteResult};
use crate::domain::closing::{self, BusinessDay, ClosedBy, Closing};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::StoreId;
use crate::storage::closing::closing_write;
use crate::storage::Ticket;

/// How often the actor looks for business days that have ended.
pub const CLOSE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);
/// Days one store catches up per round (after a long stop, the rest follow next round).
pub const DAYS_PER_ROUND_MAX: usize = 31;
/// Sealed records per journal submission.
pub const SEALS_PER_SUBMISSION_MAX: usize = 1_000;

/// Answers with a ticket for the actor's latest submission: once it is durable, so is
/// everything the actor wrote before the barrier arrived.
#[derive(Debug, Message)]
#[rtype(result = "Ticket")]
pub struct Barrier;

/// Seal every business day that has ended and is not sealed yet.
#[derive(Debug, Message)]
#[rtype(result = "Result<usize, ActorError>")]
pub struct CloseDue;

/// Close `day` at `store` by hand.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct CloseDay {
    pub meta: WriteMeta,
    pub store: StoreId,
    pub day: BusinessDay,
    pub credential: u64,
}

/// Set whether a store closes its days by hand.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct SetClosingMode {
    pub meta: WriteMeta,
    pub store: StoreId,
    pub manual: bool,
}

pub struct Closings {
    registry: Arc<Registry>,
    directory: Addr<Directory>,
    writer: Writer,
    /// Latest day sealed by the automatic round (or found sealed), per store.
    last_auto: HashMap<StoreId, BusinessDay>,
    first_day: HashMap<StoreId, BusinessDay>,
    manual: HashSet<StoreId>,
}

impl Actor for Closings {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(CLOSE_INTERVAL, |act, ctx| {
            let round = act.close_due();
            ctx.wait(round.map(|result, _, _| {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "automatic closing round failed");
                }
            }));
        });
    }
}

impl Closings {
    /// Loads each store's closing mode and re-marks today's manual closes.
    pub fn new(
        registry: Arc<Registry>,
        directory: Addr<Directory>,
    ) -> Result<Closings, crate::storage::StorageError> {
        let writer = Writer::new(&registry, registry.journal.log(), None);
        let mut manual = HashSet::new();
        let now = registry.clock.now();
        for store in registry.store_ids() {
            if registry.storage.manual_closing(store)? {
                manual.insert(store);
                let today = registry.business_day(store, now);
                if registry.storage.closing(store, today)?.is_some() {
                    registry.mark_closed(store, today);
                }
            }
        }
        Ok(Closings {
            registry,
            directory,
            writer,
            last_auto: HashMap::new(),
            first_day: HashMap::new(),
            manual,
        })
    }

    /// Every writer's ticket for its latest submission, awaited until durable.
    fn barrier(&self) -> impl std::future::Future<Output = Result<(), ActorError>> {
        let mut asks = Vec::new();
        for addr in self.registry.ledgers() {
            asks.push(addr.send(Barrier).boxed());
        }
        for addr in self.registry.schedulers() {
            asks.push(addr.send(Barrier).boxed());
        }
        asks.push(self.directory.send(Barrier).boxed());
        async move {
            for reply in join_all(asks).await {
                let ticket = reply.map_err(|_| ActorError::Unavailable)?;
                ticket
                    .durable()
                    .await
                    .map_err(|_| ActorError::Unavailable)?;
            }
            Ok(())
        }
    }

    /// The sealed records of `days` not sealed yet, from their figures on disk.
    fn seals(
        &self,
        days: &[(StoreId, BusinessDay)],
        by: ClosedBy,
    ) -> Result<Vec<Closing>, ActorError> {
        let storage = &self.registry.storage;
        let now = self.registry.clock.now();
        let mut out = Vec::new();
        for &(store, day) in days {
            if storage.closing(store, day)?.is_some() {
                continue;
            }
            out.push(Closing {
                store,
                day,
                figures: storage.day_figures(store, day)?,
                sealed_at: now,
                by,
            });
        }
        Ok(out)
    }

    fn due(&mut self) -> Result<Vec<(StoreId, BusinessDay)>, ActorError> {
        let now = self.registry.clock.now();
        let mut due = Vec::new();
        for store in self.registry.store_ids() {
            let today = self.registry.business_day(store, now);
            let first = match self.first_day.get(&store) {
                Some(d) => *d,
                None => {
                    let Some(s) = self.registry.storage.store(store)? else {
                        continue;
                    };
                    let d = self.registry.business_day(store, s.created_at);
                    self.first_day.insert(store, d);
                    d
                }
            };
            let last = match self.last_auto.get(&store) {
                Some(d) => Some(*d),
                None => self.registry.storage.last_closed_before(store, today)?,
            };
            let days = closing::due_days(last, first, today, DAYS_PER_ROUND_MAX);
            due.extend(days.into_iter().map(|d| (store, d)));
        }
        Ok(due)
    }

    /// One automatic round; the future resolves once its seals are durable.
    fn close_due(&mut self) -> ResponseActFuture<Self, Result<usize, ActorError>> {
        let due = match self.due() {
            Ok(d) if d.is_empty() => return Box::pin(fut::ready(Ok(0))),
            Ok(d) => d,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        Box::pin(
            self.barrier()
                .into_actor(self)
                .map(move |ready, act, _| {
                    ready?;
                    let seals = act.seals(&due, ClosedBy::Automatic)?;
                    let mut tickets = Vec::new();
                    for chunk in seals.chunks(SEALS_PER_SUBMISSION_MAX) {
                        tickets.push(act.writer.submit(chunk.iter().map(closing_write).collect()));
                    }
                    for (store, day) in &due {
                        act.last_auto.insert(*store, *day);
                    }
                    tracing::info!(days = seals.len(), "business days sealed");
                    Ok((seals.len(), tickets))
                })
                .then(|sealed: Result<(usize, Vec<Ticket>), ActorError>, act, _| {
                    async move {
                        let (n, tickets) = sealed?;
                        for t in tickets {
                            t.durable().await.map_err(|_| ActorError::Unavailable)?;
                        }
                        Ok(n)
                    }
                    .into_actor(act)
                }),
        )
    }
}

impl Handler<Barrier> for Closings {
    type Result = MessageResult<Barrier>;

    fn handle(&mut self, _: Barrier, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.writer.ticket_for_latest())
    }
}

impl Handler<CloseDue> for Closings {
    type Result = AtomicResponse<Self, Result<usize, ActorError>>;

    fn handle(&mut self, _: CloseDue, _: &mut Context<Self>) -> Self::Result {
        AtomicResponse::new(self.close_due())
    }
}

impl Handler<CloseDay> for Closings {
    type Result = AtomicResponse<Self, WriteResult>;

    fn handle(&mut self, msg: CloseDay, _: &mut Context<Self>) -> Self::Result {
        let mut ready = || -> Result<Option<Durable<Outcome>>, ActorError> {
            if let Some(answer) = super::writer::begin_meta(self, &msg.meta)? {
                return Ok(Some(answer));
            }
            if !self.registry.has_store(msg.store) {
                return Err(ActorError::StoreNotFound(msg.store.get()));
            }
            let today = self
                .registry
                .business_day(msg.store, self.registry.clock.now());
            closing::check_manual(self.manual.contains(&msg.store), msg.day, today)?;
            Ok(None)
        };
        match ready() {
            Ok(Some(answer)) => return AtomicResponse::new(Box::pin(fut::ready(Ok(answer)))),
            Err(e) => return AtomicResponse::new(Box::pin(fut::ready(Err(e)))),
            Ok(None) => {}
        }
        // From here on, ledgers refuse what would add to the day.
        self.registry.mark_closed(msg.store, msg.day);
        let by = ClosedBy::Manual {
            credential: msg.credential,
        };
        AtomicResponse::new(Box::pin(self.barrier().into_actor(self).map(
            move |ready, act, _| {
                ready?;
                let writes = act
                    .seals(&[(msg.store, msg.day)], by)?
                    .iter()
                    .map(closing_write)
                    .collect();
                let outcome = Outcome::DayClosed {
                    store: msg.store,
                    day: msg.day,
                };
                Ok(act
                    .writer
                    .commit_meta_in(msg.meta, Some(msg.store), outcome, writes))
            },
        )))
    }
}

impl Handler<SetClosingMode> for Closings {
    type Result = WriteResult;

    fn handle(&mut self, msg: SetClosingMode, _: &mut Context<Self>) -> WriteResult {
        let (store, manual) = (msg.store, msg.manual);
        if let Some(answer) = super::writer::begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        if !self.registry.has_store(store) {
            return Err(ActorError::StoreNotFound(store.get()));
        }
        if manual {
            self.manual.insert(store);
        } else {
            self.manual.remove(&store);
        }
        let write = crate::storage::closing::mode_write(store, manual);
        let outcome = Outcome::ClosingMode { store, manual };
        Ok(self
            .writer
            .commit_meta_in(msg.meta, Some(store), outcome, vec![write]))
    }
}

impl Writes for Closings {
    fn writer(&mut self) -> &mut Writer {
        &mut self.writer
    }
}
