//! The scheduler's waitlists (候补). Joining checks the slot as a booking would and keeps
//! the entry only when the slot is full. A slot freed (a cancellation, a rejection, a
//! move, an offer declined or run out) is offered to the first in line: the scheduler
//! reserves it on the resources under the booking id the offer will become, as a booking
//! would, and writes the offer with its notification. All of it runs with the scheduler's
//! mailbox blocked, so nobody books the freed slot between the cancellation and the offer.
//!
//! An offer's hold is in the calendars only; on disk it is the entry (`Offered`), and at
//! start-up the resources are rebuilt from bookings and held offers alike. A crash after a
//! cancellation and before its offer leaves the slot free and the line waiting: start-up
//! offers every free slot that someone waits for.

use std::collections::VecDeque;

use actix::fut::{ready, ActorFutureExt, WrapFuture};
use actix::{Addr, AtomicResponse, Context, Handler, Message};
use futures::future::join_all;

use super::{post, store_seq_id, SchedResult, StoreScheduler, When, TICK_BATCH_MAX};
use crate::actors::resource::{Free, HoldSlot, Reserve, ResourceActor, Settle};
use crate::actors::writer::begin_meta;
use crate::actors::{ActorError, Durable, WriteMeta};
use crate::domain::booking::{
    Booking, BookingMode, BookingOrigin, BookingStatus, ResourceIds, ServiceId,
};
use crate::domain::calendar::BookingId;
use crate::domain::hours::local_to_utc;
use crate::domain::idempotency::Outcome;
use crate::domain::ids::MemberId;
use crate::domain::ledger::Timestamp;
use crate::domain::notify::{EventKind, MessageTemplate, Notification};
use crate::domain::planning::{self, Reason};
use crate::domain::recurrence::Occurrence;
use crate::domain::waitlist::{Freed, StateKind, WaitEntry, WaitError, WaitId, WaitState};
use crate::storage::notify::notification_writes;
use crate::storage::{schedule_writes, waitlist as disk, Write};

/// Offers tried one after another, with the scheduler's mailbox blocked.
pub type OfferChain = std::pin::Pin<Box<dyn actix::ActorFuture<StoreScheduler, Output = ()>>>;

/// Join the line for a full slot (staff, or the member from their own channel).
#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct JoinWaitlist {
    pub meta: WriteMeta,
    pub member: MemberId,
    pub service: ServiceId,
    pub resources: ResourceIds,
    pub start: When,
    /// Joined by the member: the store's online rules apply.
    pub online: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitAction {
    /// Take the offered slot: it becomes the booking.
    Accept,
    /// Leave the line, or decline the offer held.
    Withdraw,
}

#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct ActOnEntry {
    pub meta: WriteMeta,
    pub entry: WaitId,
    pub action: WaitAction,
    /// Asked by this member: only their own entries.
    pub by_member: Option<MemberId>,
}

/// A page of the store's entries in id (joining) order after `after`.
#[derive(Debug, Message)]
#[rtype(result = "Result<Durable<WaitPage>, ActorError>")]
pub struct ListWaitlist {
    pub member: Option<MemberId>,
    pub state: Option<StateKind>,
    pub after: Option<WaitId>,
    pub limit: usize,
}

#[derive(Debug)]
pub struct WaitPage {
    pub entries: Vec<WaitEntry>,
    pub next: Option<WaitId>,
    /// The scheduler's clock when read: an entry's state kind depends on it.
    pub now: Timestamp,
}

/// One entry; with a member, only theirs.
#[derive(Debug, Message)]
#[rtype(result = "Result<Durable<(WaitEntry, Timestamp)>, ActorError>")]
pub struct GetWaitEntry {
    pub entry: WaitId,
    pub member: Option<MemberId>,
}

/// The resources' answers to a `Reserve`: each one's conflicts.
type ReserveAnswers = Vec<actix::dev::Request<ResourceActor, Reserve>>;

impl StoreScheduler {
    /// Asks each of `addrs` to hold `slot` under a new hold id.
    fn reserve_one(
        &mut self,
        addrs: &[Addr<ResourceActor>],
        slot: HoldSlot,
    ) -> (u64, ReserveAnswers) {
        let hold = self.next_hold;
        self.next_hold += 1;
        let sends = addrs
            .iter()
            .map(|a| {
                a.send(Reserve {
                    hold,
                    slots: vec![slot],
                    replacing: Vec::new(),
                })
            })
            .collect();
        (hold, sends)
    }

    fn entry_of(&self, id: WaitId, member: Option<MemberId>) -> Result<&WaitEntry, ActorError> {
        self.waitlist
            .get(id)
            .filter(|e| member.is_none_or(|m| m == e.member))
            .ok_or_else(|| ActorError::NotFound(format!("waitlist entry {}", id.0)))
    }

    /// The ids and local times a slot of `e` is reserved with, if its resources still exist
    /// and the store's rules still admit it.
    fn offer_slot(
        &self,
        e: &WaitEntry,
        booking: BookingId,
    ) -> Option<(Vec<Addr<ResourceActor>>, HoldSlot)> {
        let service = self.service(e.service).ok()?;
        let addrs = self.pick_resources(&service, &e.resources).ok()?;
        let local = e.start.with_timezone(&self.tz).naive_local();
        let occ = [Occurrence {
            index: 1,
            local,
            start: Some(e.start),
        }];
        let now = self.registry.clock.now();
        let (slots, failures) =
            planning::check_store_rules(&occ, service.duration(), self.tz, &self.hours, now);
        let slot = slots.first().filter(|_| failures.is_empty())?;
        Some((
            addrs.into_iter().map(|(_, a)| a).collect(),
            HoldSlot {
                index: 1,
                booking,
                start: slot.start,
                end: slot.end,
                local: (slot.local, slot.local_end),
            },
        ))
    }

    /// Offers the slots of `ids` in turn, each to its entry if it is still waiting and the
    /// resources take the hold; an entry they refuse stays in line.
    pub(super) fn offer_chain(&mut self, mut ids: VecDeque<WaitId>) -> OfferChain {
        let now = self.registry.clock.now();
        let Some(next) = self.last_booking.checked_add(1) else {
            return Box::pin(ready(()));
        };
        let booking = BookingId(store_seq_id(self.store, next));
        let prepared = loop {
            let Some(id) = ids.pop_front() else {
                return Box::pin(ready(()));
            };
            let Some(e) = self.waitlist.get(id) else {
                continue;
            };
            if e.state != WaitState::Waiting || e.start <= now {
                continue;
            }
            if let Some((addrs, slot)) = self.offer_slot(e, booking) {
                break (id, addrs, slot);
            }
        };
        let (id, addrs, slot) = prepared;
        let (hold, sends) = self.reserve_one(&addrs, slot);
        Box::pin(
            join_all(sends)
                .into_actor(self)
                .then(move |results, act, _| {
                    let fits = results.iter().all(|r| matches!(r, Ok(c) if c.is_empty()));
                    let offered = fits.then(|| act.write_offer(id, booking)).flatten();
                    let commit = offered.is_some();
                    let settles: Vec<_> = addrs
                        .iter()
                        .filter_map(|a| post(a, Settle { hold, commit }))
                        .collect();
                    async move {
                        join_all(settles).await;
                    }
                    .into_actor(act)
                })
                .then(move |_, act, _| act.offer_chain(ids)),
        )
    }

    /// Writes the offer of `booking`'s slot to entry `id`; `None` when it is too late to.
    fn write_offer(&mut self, id: WaitId, booking: BookingId) -> Option<WaitEntry> {
        let now = self.registry.clock.now();
        let offered = self
            .waitlist
            .offer(id, booking, now, self.registry.waitlist_offer)?;
        self.last_booking = booking.0 as u32;
        let mut writes = vec![
            disk::entry(&offered),
            self.wait_event("waitlist_offered", &offered, booking, now),
        ];
        writes.extend(self.offer_notification(&offered, now));
        self.writer.submit(writes);
        self.waitlist.put(offered.clone());
        Some(offered)
    }

    /// The member's message: the chain's template, or the default text.
    fn offer_notification(&mut self, e: &WaitEntry, now: Timestamp) -> Vec<Write> {
        let WaitState::Offered { expires, .. } = e.state else {
            return Vec::new();
        };
        let catalog = self.registry.catalog();
        let template = match catalog.templates.get(&EventKind::WaitlistOffer) {
            Some(t) => t.clone(),
            None => match EventKind::WaitlistOffer
                .default_text()
                .map(|t| MessageTemplate::new(EventKind::WaitlistOffer, t))
            {
                Some(Ok(t)) => t,
                _ => return Vec::new(),
            },
        };
        let Some(id) = self.next_notification() else {
            return Vec::new();
        };
        let local = |t: Timestamp| {
            t.with_timezone(&self.tz)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        };
        let vars = vec![
            ("member_id", e.member.get().to_string()),
            ("store_id", self.store.get().to_string()),
            ("start", local(e.start)),
            ("expires", local(expires)),
            ("entry", e.id.0.to_string()),
        ];
        notification_writes(
            &Notification::new(id, e.member, self.store, &template, &vars, now),
            None,
        )
    }

    /// A line of the store's event feed about an entry and the booking id its offer holds.
    fn wait_event(
        &mut self,
        kind: &str,
        e: &WaitEntry,
        booking: BookingId,
        now: Timestamp,
    ) -> Write {
        self.feed_event(kind, booking, None, e.member, e.start, now)
    }

    /// The freed slots' first in line get offers.
    pub(super) fn offers_after(&mut self, freed: Vec<Freed>) -> OfferChain {
        if freed.is_empty() {
            return Box::pin(ready(()));
        }
        let now = self.registry.clock.now();
        let ids = self.waitlist.candidates(&freed, now);
        self.offer_chain(ids.into())
    }

    /// Frees the calendars of an offer's hold, then offers the slot to the next in line.
    fn release_offer(&mut self, e: &WaitEntry, booking: BookingId) -> OfferChain {
        let frees: Vec<_> = e
            .resources
            .iter()
            .filter_map(|r| self.resources.get(r))
            .filter_map(|(_, addr)| {
                post(
                    addr,
                    Free {
                        booking,
                        start: e.start,
                    },
                )
            })
            .collect();
        let freed = vec![Freed {
            resources: e.resources.clone(),
            start: e.start,
            end: e.end,
        }];
        Box::pin(
            async move {
                join_all(frees).await;
            }
            .into_actor(self)
            .then(move |_, act, _| act.offers_after(freed)),
        )
    }

    /// Offers whose time ran out: written as expired, their slots offered to the next.
    pub(super) fn expire_offers(&mut self) -> Option<OfferChain> {
        let now = self.registry.clock.now();
        let expired = self.waitlist.take_expired(now, TICK_BATCH_MAX);
        if expired.is_empty() {
            return None;
        }
        let mut writes = Vec::new();
        let mut chains = Vec::new();
        for e in expired {
            let WaitState::Expired { booking, .. } = e.state else {
                continue;
            };
            writes.push(disk::entry(&e));
            writes.push(self.wait_event("waitlist_expired", &e, booking, now));
            chains.push((e.clone(), booking));
            self.waitlist.put(e);
        }
        self.writer.submit(writes);
        let mut chain: OfferChain = Box::pin(ready(()));
        for (e, booking) in chains {
            chain = Box::pin(chain.then(move |_, act, _| act.release_offer(&e, booking)));
        }
        Some(chain)
    }
}

impl Handler<JoinWaitlist> for StoreScheduler {
    type Result = AtomicResponse<Self, SchedResult>;

    fn handle(&mut self, msg: JoinWaitlist, _: &mut Context<Self>) -> Self::Result {
        match self.prepare_join(msg) {
            Ok(Ok((meta, entry, addrs, slot))) => self.reserve_for_join(meta, entry, addrs, slot),
            Ok(Err(answer)) => Self::answer(Ok(answer)),
            Err(e) => Self::answer(Err(e)),
        }
    }
}

type PreparedJoin = (WriteMeta, WaitEntry, Vec<Addr<ResourceActor>>, HoldSlot);

impl StoreScheduler {
    fn prepare_join(
        &mut self,
        msg: JoinWaitlist,
    ) -> Result<Result<PreparedJoin, Durable<Outcome>>, ActorError> {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(Err(answer));
        }
        if !self.registry.storage.has_account(msg.member)? {
            return Err(ActorError::NotFound(format!("member {}", msg.member)));
        }
        let service = self.service(msg.service)?;
        if service.mode != BookingMode::Appointment {
            return Err(ActorError::WrongMode(
                "only appointment services have waitlists; service plans are booked at the counter",
            ));
        }
        let (local, start) = match msg.start {
            When::Instant(t) => (t.with_timezone(&self.tz).naive_local(), Some(t)),
            When::Local(l) => (l, local_to_utc(self.tz, l)),
        };
        let now = self.registry.clock.now();
        if let (true, Some(at)) = (msg.online, start) {
            self.online.may_book(at, now)?;
        }
        let addrs = self.pick_resources(&service, &msg.resources)?;
        let occ = [Occurrence {
            index: 1,
            local,
            start,
        }];
        let (slots, failures) =
            planning::check_store_rules(&occ, service.duration(), self.tz, &self.hours, now);
        let Some(slot) = slots.first().filter(|_| failures.is_empty()) else {
            // Closed, past or a time that does not exist: nothing to wait for.
            let outcome = Outcome::PlanConflicts(failures);
            return Ok(Err(self.writer.commit_meta(msg.meta, outcome, Vec::new())));
        };
        let seq = self
            .last_wait
            .checked_add(1)
            .ok_or(ActorError::Exhausted("waitlist ids"))?;
        let entry = WaitEntry {
            id: WaitId::new(self.store, seq),
            member: msg.member,
            service: service.id,
            resources: msg.resources.to_vec(),
            start: slot.start,
            end: slot.end,
            joined_at: now,
            online: msg.online,
            state: WaitState::Waiting,
        };
        self.waitlist.check_join(&entry, now)?;
        // A probe: the id is never booked under, the hold never kept.
        let probe = HoldSlot {
            index: 1,
            booking: BookingId(store_seq_id(self.store, u32::MAX)),
            start: slot.start,
            end: slot.end,
            local: (slot.local, slot.local_end),
        };
        Ok(Ok((
            msg.meta,
            entry,
            addrs.into_iter().map(|(_, a)| a).collect(),
            probe,
        )))
    }

    /// Asks the resources whether the slot is full; joins only then.
    fn reserve_for_join(
        &mut self,
        meta: WriteMeta,
        entry: WaitEntry,
        addrs: Vec<Addr<ResourceActor>>,
        slot: HoldSlot,
    ) -> AtomicResponse<Self, SchedResult> {
        let (hold, sends) = self.reserve_one(&addrs, slot);
        let ids: Vec<_> = entry.resources.clone();
        let fut = join_all(sends)
            .into_actor(self)
            .then(move |results, act, _| {
                let mut reasons = Vec::new();
                let mut failed = false;
                for (r, conflicts) in ids.iter().zip(results) {
                    match conflicts {
                        Ok(cs) => {
                            reasons.extend(cs.into_iter().map(|(_, c)| Reason::from_slot(*r, c)))
                        }
                        Err(_) => failed = true,
                    }
                }
                let settles: Vec<_> = addrs
                    .iter()
                    .filter_map(|a| {
                        post(
                            a,
                            Settle {
                                hold,
                                commit: false,
                            },
                        )
                    })
                    .collect();
                let result = if failed {
                    Err(ActorError::Unavailable)
                } else {
                    act.finish_join(meta, entry, slot, reasons)
                };
                async move {
                    join_all(settles).await;
                }
                .into_actor(act)
                .map(move |_, _, _| result)
            });
        AtomicResponse::new(Box::pin(fut))
    }

    fn finish_join(
        &mut self,
        meta: WriteMeta,
        entry: WaitEntry,
        slot: HoldSlot,
        reasons: Vec<Reason>,
    ) -> SchedResult {
        if reasons.is_empty() {
            return Err(WaitError::SlotFree.into());
        }
        if !reasons.iter().all(|r| matches!(r, Reason::Booked { .. })) {
            // A day off or outside working hours: no cancellation will open it.
            let failure = planning::OccurrenceFailure {
                index: 1,
                local: slot.local.0,
                reasons,
            };
            return Ok(self.writer.commit_meta(
                meta,
                Outcome::PlanConflicts(vec![failure]),
                Vec::new(),
            ));
        }
        self.last_wait = entry.id.seq();
        let writes = vec![disk::entry(&entry)];
        self.waitlist.put(entry.clone());
        Ok(self
            .writer
            .commit_meta(meta, Outcome::Waitlist(Box::new(entry)), writes))
    }
}

impl Handler<ActOnEntry> for StoreScheduler {
    type Result = AtomicResponse<Self, SchedResult>;

    fn handle(&mut self, msg: ActOnEntry, _: &mut Context<Self>) -> Self::Result {
        let acted = (|| {
            if let Some(answer) = begin_meta(self, &msg.meta)? {
                return Ok(Err(answer));
            }
            self.entry_of(msg.entry, msg.by_member)?;
            let now = self.registry.clock.now();
            Ok(Ok(match msg.action {
                WaitAction::Accept => (self.accept(msg.meta, msg.entry, now)?, None),
                WaitAction::Withdraw => self.withdraw(msg.meta, msg.entry, now)?,
            }))
        })();
        match acted {
            Ok(Ok((answer, None))) => Self::answer(Ok(answer)),
            Ok(Ok((answer, Some(release)))) => {
                AtomicResponse::new(Box::pin(release.map(move |_, _, _| Ok(answer))))
            }
            Ok(Err(answer)) => Self::answer(Ok(answer)),
            Err(e) => Self::answer(Err(e)),
        }
    }
}

impl StoreScheduler {
    /// The offer becomes a booking under the id its hold has had in the calendars all along.
    fn accept(
        &mut self,
        meta: WriteMeta,
        id: WaitId,
        now: Timestamp,
    ) -> Result<Durable<Outcome>, ActorError> {
        let accepted = self.waitlist.accept(id, now)?;
        let WaitState::Accepted { booking, .. } = accepted.state else {
            unreachable!("accept answers an accepted entry");
        };
        if !self.registry.storage.has_account(accepted.member)? {
            return Err(ActorError::NotFound(format!("member {}", accepted.member)));
        }
        let service = self.service(accepted.service)?;
        let b = Booking {
            id: booking,
            store: self.store,
            member: accepted.member,
            service: accepted.service,
            resources: accepted.resources.iter().copied().collect(),
            start: accepted.start,
            end: accepted.end,
            status: if service.requires_review {
                BookingStatus::Pending
            } else {
                BookingStatus::Confirmed
            },
            origin: BookingOrigin::Appointment,
            reminded: false,
        };
        let mut writes = vec![schedule_writes::booking(&b), disk::entry(&accepted)];
        writes.extend(self.booking_figures(&b, now));
        writes.push(self.wait_event("waitlist_accepted", &accepted, booking, now));
        self.put_booking(b);
        self.waitlist.put(accepted.clone());
        Ok(self
            .writer
            .commit_meta(meta, Outcome::Waitlist(Box::new(accepted)), writes))
    }

    /// Leaves the line; a declined offer's slot goes to the next in line.
    fn withdraw(
        &mut self,
        meta: WriteMeta,
        id: WaitId,
        now: Timestamp,
    ) -> Result<(Durable<Outcome>, Option<OfferChain>), ActorError> {
        let left = self.waitlist.withdraw(id, now)?;
        let held = self.waitlist.get(id).and_then(WaitEntry::held);
        let mut writes = vec![disk::entry(&left)];
        if let Some(booking) = held {
            writes.push(self.wait_event("waitlist_declined", &left, booking, now));
        }
        self.waitlist.put(left.clone());
        let answer =
            self.writer
                .commit_meta(meta, Outcome::Waitlist(Box::new(left.clone())), writes);
        Ok((answer, held.map(|b| self.release_offer(&left, b))))
    }
}

impl Handler<ListWaitlist> for StoreScheduler {
    type Result = Result<Durable<WaitPage>, ActorError>;

    fn handle(&mut self, msg: ListWaitlist, _: &mut Context<Self>) -> Self::Result {
        let now = self.registry.clock.now();
        let mut entries = Vec::new();
        let mut next = None;
        for e in self.waitlist.entries_after(msg.after) {
            if msg.member.is_some_and(|m| m != e.member)
                || msg.state.is_some_and(|k| k != e.kind(now))
            {
                continue;
            }
            if entries.len() == msg.limit {
                next = entries.last().map(|l: &WaitEntry| l.id);
                break;
            }
            entries.push(e.clone());
        }
        Ok(self.durable_answer(WaitPage { entries, next, now }))
    }
}

impl Handler<GetWaitEntry> for StoreScheduler {
    type Result = Result<Durable<(WaitEntry, Timestamp)>, ActorError>;

    fn handle(&mut self, msg: GetWaitEntry, _: &mut Context<Self>) -> Self::Result {
        let e = self.entry_of(msg.entry, msg.member)?.clone();
        Ok(self.durable_answer((e, self.registry.clock.now())))
    }
}
