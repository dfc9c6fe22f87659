//! The scheduler of one store: it owns the store's hours, its appointments and service
//! plans, and the addresses of its resource actors, and it coordinates every booking.
//!
//! Booking protocol (all or nothing, across several resources):
//! 1. Check the store's rules (business hours, closed dates, DST gaps, the past) purely.
//! 2. `Reserve` the slots on every named resource, concurrently. Each resource places all of
//!    its slots as an in-memory hold, or none and reports why.
//! 3. If any occurrence failed anywhere, `Settle{commit: false}` releases every hold and the
//!    answer lists each failing occurrence with all its reasons. Otherwise the plan, every
//!    booking and the idempotency record go to the journal as one submission (one atomic
//!    WriteBatch), and only then `Settle{commit: true}` turns the holds into bookings.
//!
//! The handler is an `AtomicResponse`: the scheduler takes no other message until the
//! protocol finishes, so two plans of one store never interleave; resources are only ever
//! written through their own store's scheduler. A crash at any point leaves either the whole
//! plan on disk or nothing, because holds are never written.

use std::collections::{BTreeMap, HashMap};

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use actix::fut::{ready, ActorFutureExt, WrapFuture};
use actix::{Actor, Addr, AsyncContext, AtomicResponse, Context, Handler, Message};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use futures::future::join_all;

use super::idempotency::{IdemTable, Who};
use super::plan_sessions::{CompleteLinked, LinkedCompletion, SessionTaken};
use super::registry::Registry;
use super::resource::{
    Free, HasBookingsAfter, HoldSlot, Reconfigure, Reserve, ResourceActor, Settle, Snapshot,
};
use super::writer::{begin_meta, Writer, Writes};
use super::{ActorError, Durable, WriteMeta};
use crate::domain::agenda::Agenda;
use crate::domain::appointments::{self, AppointmentFilter, Cursor, DayIndex};
use crate::domain::booking::*;
use crate::domain::calendar::{BookingId, ResourceSchedule};
use crate::domain::closing;
use crate::domain::hours::{local_to_utc, DateSet, StoreHours, WeeklyHours};
use crate::domain::idempotency::{Outcome, Request};
use crate::domain::ids::{MemberId, Name, StoreId};
use crate::domain::ledger::Timestamp;
use crate::domain::membership::CardId;
use crate::domain::notify::{EventKind, Notification, NotificationId, Source};
use crate::domain::planning::{self, FreeStart, OccurrenceFailure, Slot};
use crate::domain::recurrence::{self, Occurrence, Repeat};
use crate::domain::recycle::{BinEntry, BinKind};
use crate::domain::waitlist::Freed;
use crate::storage::closing::{figure_writes, service_figures_write};
use crate::storage::codec::OutcomeRec;
use crate::storage::notify::notification_writes;
use crate::storage::recycle::{bin_key, bin_write};
use crate::storage::schedule_codec::EventRec;
use crate::storage::schedule_writes;
use crate::storage::{StorageError, Ticket, Write};
use waitlist::OfferChain;

pub mod waitlist;

/// How often a scheduler looks for occurrences to complete and reminders to send.
pub const TICK_INTERVAL: StdDuration = StdDuration::from_secs(1);
/// Bookings completed or reminded per tick; the rest wait for the next tick.
pub const TICK_BATCH_MAX: usize = 1_000;
pub const RESOURCES_PER_STORE_MAX: u32 = 100_000;
/// Most bookings one resource-calendar read returns.
pub const BOOKINGS_PAGE_MAX: usize = 10_000;

pub type SchedResult = Result<Durable<Outcome>, ActorError>;

/// When an appointment starts: an instant, or a wall-clock time in the store's zone.
#[derive(Debug, Clone, Copy)]
pub enum When {
    Instant(Timestamp),
    Local(NaiveDateTime),
}

#[derive(Debug)]
pub enum What {
    Appointment {
        start: When,
    },
    Plan {
        repeat: Repeat,
        dry_run: bool,
        /// A count card of the member, checked usable for the service by the caller; each
        /// completed occurrence takes one session from it.
        count_card: Option<CardId>,
    },
}

#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct Book {
    pub meta: WriteMeta,
    pub member: MemberId,
    pub service: ServiceId,
    pub resources: ResourceIds,
    pub what: What,
    /// Booked by the member from their own channel: the store's online rules apply.
    pub online: bool,
}

#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct SetHours {
    pub meta: WriteMeta,
    pub hours: StoreHours,
}

#[derive(Debug, Clone)]
pub struct ResourceSpec {
    pub name: Name,
    pub kind: ResourceKind,
    pub capacity: u32,
    pub working_hours: WeeklyHours,
    pub days_off: DateSet,
}

#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct PutResource {
    pub meta: WriteMeta,
    /// `None` creates a resource.
    pub id: Option<ResourceId>,
    pub spec: ResourceSpec,
}

#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct DeleteResource {
    pub meta: WriteMeta,
    pub id: ResourceId,
}

#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct Transit {
    pub meta: WriteMeta,
    pub booking: BookingId,
    pub transition: Transition,
    /// Asked by this member from their own channel: only their own appointments, and a
    /// cancellation only before the store's window.
    pub by_member: Option<MemberId>,
}

#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct CancelPlan {
    pub meta: WriteMeta,
    pub plan: PlanId,
    /// One occurrence (1-based), or every one that has not happened yet.
    pub occurrence: Option<u32>,
}

#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct MoveOccurrence {
    pub meta: WriteMeta,
    pub plan: PlanId,
    pub occurrence: u32,
    pub to: NaiveDateTime,
}

/// Move an appointment (not a plan's occurrence) to another start on its resources,
/// checked against the store's rules and the calendars like a new booking.
#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct MoveAppointment {
    pub meta: WriteMeta,
    pub booking: BookingId,
    pub to: NaiveDateTime,
}

/// Complete what has ended, remind what is coming. Answers with the ticket of its writes.
#[derive(Debug, Message)]
#[rtype(result = "Ticket")]
pub struct Tick;

/// Reads answer from memory, with a ticket for the writes they may reflect.
#[derive(Debug)]
pub enum Query {
    Booking(BookingId),
    Plan(PlanId),
    MemberPlans(MemberId),
    Resources,
    Resource(ResourceId),
    Hours,
}

#[derive(Debug)]
pub enum Answer {
    Booking(Booking),
    Plans(Vec<(Plan, Vec<Booking>)>),
    Resources(Vec<Resource>),
    Hours(Tz, StoreHours),
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Durable<Answer>, ActorError>")]
pub struct Read(pub Query);

#[derive(Debug, Message)]
#[rtype(result = "Result<Durable<Vec<FreeStart>>, ActorError>")]
pub struct Availability {
    pub service: ServiceId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub step_minutes: u32,
}

/// Bookings holding a slot on the resource and overlapping `[from, to)`, in time order, at
/// most `BOOKINGS_PAGE_MAX`.
#[derive(Debug, Message)]
#[rtype(result = "Result<Durable<Vec<Booking>>, ActorError>")]
pub struct ResourceBookings {
    pub resource: ResourceId,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// The store's appointment list: one page of its bookings that `filter` keeps, in start
/// order, after `after` (see `domain::appointments`).
#[derive(Debug, Message)]
#[rtype(result = "Result<Durable<AppointmentPage>, ActorError>")]
pub struct ListAppointments {
    pub filter: AppointmentFilter,
    pub after: Option<Cursor>,
    pub limit: usize,
}

/// A page of appointments, and where the next one starts when this one is full.
pub type AppointmentPage = (Vec<Booking>, Option<Cursor>);

/// What the tick acts on: a plan (its occurrences due), or one appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Due {
    Plan(PlanId),
    Appointment(BookingId),
}

pub struct StoreScheduler {
    store: StoreId,
    tz: Tz,
    hours: StoreHours,
    registry: Arc<Registry>,
    /// Journal origin and idempotency keys in flight.
    writer: Writer,
    /// The chain's default lead time (`scheduling.reminder_lead_minutes`).
    reminder_lead: Duration,
    /// This store's lead times and same-day reminder.
    reminders: crate::domain::reminders::ReminderPolicy,
    /// What members may book and cancel from their own channel.
    online: crate::domain::online_booking::OnlineBooking,
    /// Last sequence of this scheduler's notification ids.
    last_notification: u32,
    resources: BTreeMap<ResourceId, (Resource, Addr<ResourceActor>)>,
    bookings: BookingTable,
    /// The bookings by the day they start on, for the appointment list.
    days: DayIndex,
    // Server-made ids: a fast hash is safe and SipHash showed in plan profiles.
    plans: FxHashMap<PlanId, Plan>,
    member_plans: FxHashMap<MemberId, Vec<PlanId>>,
    /// Plans by when the tick must act next on one of their open occurrences: remind, then
    /// complete. One entry per plan and change, not per occurrence.
    agenda: Agenda<Due>,
    last_booking: u32,
    last_plan: u32,
    last_resource: u32,
    last_event: u64,
    next_hold: u64,
    /// Members waiting for full slots, and the offers holding freed ones (候补).
    waitlist: crate::domain::waitlist::Waitlist,
    last_wait: u32,
}

impl Writes for StoreScheduler {
    fn writer(&mut self) -> &mut Writer {
        &mut self.writer
    }
}

impl Actor for StoreScheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // A slot freed just before a crash was not offered yet: offer what is free now.
        let waiting = self.waitlist.waiting(self.registry.clock.now());
        if !waiting.is_empty() {
            ctx.wait(self.offer_chain(waiting.into()));
        }
        ctx.run_interval(TICK_INTERVAL, |act, ctx| {
            if let (_, Some(linked)) = act.tick() {
                ctx.wait(linked.map(|_, _, _| ()));
            }
            if let Some(offers) = act.expire_offers() {
                ctx.wait(offers);
            }
        });
    }
}

/// Everything a scheduler recovers from disk at start-up.
pub struct SchedulerState {
    pub hours: StoreHours,
    pub reminders: crate::domain::reminders::ReminderPolicy,
    pub online: crate::domain::online_booking::OnlineBooking,
    pub resources: Vec<Resource>,
    pub bookings: Vec<Booking>,
    pub plans: Vec<Plan>,
    pub last_booking: u32,
    pub last_plan: u32,
    pub last_resource: u32,
    pub last_event: u64,
    pub last_notification: u32,
    pub waitlist: Vec<crate::domain::waitlist::WaitEntry>,
}

impl SchedulerState {
    pub fn empty() -> SchedulerState {
        SchedulerState {
            hours: StoreHours::default(),
            reminders: Default::default(),
            online: Default::default(),
            resources: Vec::new(),
            bookings: Vec::new(),
            plans: Vec::new(),
            last_booking: 0,
            last_plan: 0,
            last_resource: 0,
            last_event: 0,
            last_notification: 0,
            waitlist: Vec::new(),
        }
    }

    pub fn load(
        storage: &crate::storage::Storage,
        store: StoreId,
    ) -> Result<SchedulerState, StorageError> {
        let (plans, bookings) = storage.plans_and_bookings_of(store)?;
        // Occurrences live in their plan's record until they change: ask both.
        let marks = storage.schedule_marks(store)?;
        let waitlist = storage.waitlist_of(store)?;
        // An offer takes a booking id before the booking exists, if it ever does.
        let offered = waitlist.iter().filter_map(|e| e.booking_id());
        let last_booking = bookings
            .iter()
            .map(|b| b.id)
            .chain(offered)
            .map(|id| id.0 as u32)
            .max()
            .unwrap_or(0)
            .max(marks.booking);
        Ok(SchedulerState {
            hours: storage.store_hours(store)?,
            reminders: storage.reminder_policy(store)?,
            online: storage.online_booking(store)?,
            resources: storage.resources_of(store)?,
            bookings,
            plans,
            last_booking,
            last_plan: marks.plan,
            // A deleted resource's key is gone, its mark is not.
            last_resource: marks.resource,
            last_event: storage.last_event_seq(store)?,
            last_notification: storage
                .last_notification_seq(store, crate::domain::notify::Source::Scheduler)?,
            waitlist,
        })
    }
}

/// The agenda entry that acts on `b`: its plan's, or its own for an appointment.
fn due_key(b: &Booking) -> Due {
    match b.origin {
        BookingOrigin::Plan { plan, .. } => Due::Plan(plan),
        BookingOrigin::Appointment => Due::Appointment(b.id),
    }
}

fn staff_writes(
    staff: &BTreeMap<crate::domain::staff::EmployeeId, closing::Deltas>,
) -> impl Iterator<Item = Write> + '_ {
    staff
        .iter()
        .flat_map(|(e, d)| crate::storage::staff::figure_writes(*e, d))
}

fn store_seq_id(store: StoreId, seq: u32) -> u64 {
    (u64::from(store.get()) << 32) | u64::from(seq)
}

pub fn store_of_id(id: u64) -> Option<StoreId> {
    StoreId::new(u32::try_from(id >> 32).ok()?).ok()
}

impl StoreScheduler {
    pub fn new(
        store: StoreId,
        tz: Tz,
        registry: Arc<Registry>,
        reminder_lead: Duration,
        state: SchedulerState,
    ) -> StoreScheduler {
        let writer = Writer::new(
            &registry,
            registry.journal.log_for(store.get()),
            Some(store),
        );
        let mut by_resource: HashMap<ResourceId, Vec<(BookingId, Timestamp, Timestamp)>> =
            HashMap::new();
        for b in state.bookings.iter().filter(|b| b.status.holds_slot()) {
            for r in &b.resources {
                by_resource
                    .entry(*r)
                    .or_default()
                    .push((b.id, b.start, b.end));
            }
        }
        let waitlist = crate::domain::waitlist::Waitlist::from_entries(state.waitlist);
        for (id, e) in waitlist.holds() {
            for r in &e.resources {
                by_resource
                    .entry(*r)
                    .or_default()
                    .push((id, e.start, e.end));
            }
        }
        let mut resources = BTreeMap::new();
        for r in state.resources {
            let bookings = by_resource.remove(&r.id).unwrap_or_default();
            let addr = spawn_resource(&registry, &r, tz, bookings);
            resources.insert(r.id, (r, addr));
        }
        let mut s = StoreScheduler {
            store,
            tz,
            hours: state.hours,
            registry,
            writer,
            reminder_lead,
            reminders: state.reminders,
            online: state.online,
            resources,
            bookings: BookingTable::new(store),
            days: DayIndex::default(),
            plans: FxHashMap::default(),
            member_plans: FxHashMap::default(),
            agenda: Agenda::default(),
            last_booking: state.last_booking,
            last_plan: state.last_plan,
            last_resource: state.last_resource,
            last_event: state.last_event,
            last_notification: state.last_notification,
            next_hold: 1,
            last_wait: waitlist.last_seq(),
            waitlist,
        };
        for p in state.plans {
            s.member_plans.entry(p.member).or_default().push(p.id);
            s.plans.insert(p.id, p);
        }
        s.put_bookings(state.bookings);
        s
    }

    /// Inserts or replaces a booking in memory, keeping the tick's agenda right.
    fn put_booking(&mut self, b: Booking) {
        let before = self.bookings.get(&b.id);
        if let Some((due, at)) = self.newly_due(&b, before.as_ref()) {
            self.agenda.add(at, due);
        }
        if before.is_none_or(|o| o.start != b.start) {
            self.days.add(b.id, b.start);
        }
        self.bookings.insert(b);
    }

    /// Many bookings at once (a new plan, the state at start): one agenda entry per plan, at
    /// its earliest occurrence due, and one per appointment.
    fn put_bookings(&mut self, bookings: impl IntoIterator<Item = Booking>) {
        let mut earliest: FxHashMap<Due, Timestamp> = FxHashMap::default();
        for b in bookings {
            if let Some((due, at)) = self.newly_due(&b, self.bookings.get(&b.id).as_ref()) {
                let e = earliest.entry(due).or_insert(at);
                *e = (*e).min(at);
            }
            self.days.add(b.id, b.start);
            self.bookings.insert(b);
        }
        for (due, at) in earliest {
            self.agenda.add(at, due);
        }
    }

    /// The agenda entry `b` needs if it replaced `before`, the version in memory. The agenda
    /// keeps stale entries (checked when due), so only a change of due time adds one.
    fn newly_due(&self, b: &Booking, before: Option<&Booking>) -> Option<(Due, Timestamp)> {
        let before = before.and_then(|o| self.next_due(o));
        self.next_due(b)
            .filter(|at| before != Some(*at))
            .map(|at| (due_key(b), at))
    }

    /// When the tick must act on `b` next: remind its member (the completion is added to
    /// the agenda once that is done, so a new plan costs one entry per occurrence), then,
    /// for a plan's occurrence, complete it. Staff complete appointments.
    fn next_due(&self, b: &Booking) -> Option<Timestamp> {
        if b.status.is_final() || b.status == BookingStatus::Pending {
            return None;
        }
        match (b.origin, b.reminded) {
            (_, false) => Some(
                self.reminders
                    .due(b.start, b.service, self.tz, self.reminder_lead),
            ),
            (BookingOrigin::Plan { .. }, true) => Some(b.end),
            (BookingOrigin::Appointment, true) => None,
        }
    }

    /// Occurrences due at `now`, at most [`TICK_BATCH_MAX`], from the plans the agenda says
    /// are due. Each plan taken goes back on the agenda at its next occurrence not taken;
    /// what the tick does to those taken adds their own next entries.
    fn take_due(&mut self, now: Timestamp) -> Vec<Booking> {
        let mut entries = self.agenda.take_due(now, TICK_BATCH_MAX);
        // A plan can be on the agenda twice; taking its occurrences twice would act twice.
        entries.sort_unstable_by_key(|(_, d)| *d);
        entries.dedup_by_key(|(_, d)| *d);
        let mut out = Vec::new();
        for (at, due) in entries {
            let id = match due {
                Due::Plan(id) => id,
                Due::Appointment(id) => {
                    // Its own entry: a change of its due time added another.
                    match self.bookings.get(&id) {
                        Some(_) if out.len() == TICK_BATCH_MAX => self.agenda.add(at, due),
                        Some(b) if self.next_due(&b).is_some_and(|d| d <= now) => out.push(b),
                        _ => {}
                    }
                    continue;
                }
            };
            let Some(plan) = self.plans.get(&id) else {
                continue;
            };
            if out.len() == TICK_BATCH_MAX {
                self.agenda.add(at, due);
                continue;
            }
            let mut next: Option<Timestamp> = None;
            for b in plan.occurrences.iter().filter_map(|o| self.bookings.get(o)) {
                let Some(due) = self.next_due(&b) else {
                    continue;
                };
                if due <= now && out.len() < TICK_BATCH_MAX {
                    out.push(b.clone());
                } else {
                    next = Some(next.map_or(due, |n| n.min(due)));
                }
            }
            if let Some(at) = next {
                self.agenda.add(at, due);
            }
        }
        out
    }

    /// The day-figure writes of writing `b` over the version in memory (so: call before
    /// `put_booking`). Counted on the business day it happens, or the next open one after a
    /// manual close (`Registry::count_day`).
    fn booking_figures(&self, b: &Booking, now: Timestamp) -> Vec<Write> {
        let before = self.bookings.get(&b.id).map(|o| o.status);
        let day = self.registry.count_day(self.store, now);
        let deltas = closing::of_booking(before, b, day);
        let mut writes: Vec<Write> = figure_writes(&deltas).collect();
        if let Some(s) = closing::ServiceFigures::of(&deltas) {
            writes.push(service_figures_write(self.store, day, b.service, s));
        }
        let mut staff = BTreeMap::new();
        self.credit_staff(b, &deltas, &mut staff);
        writes.extend(staff_writes(&staff));
        writes
    }

    /// Credits a booking's figures (booked, completed, served minutes, no-shows) to the
    /// employees its resources are (服务人员).
    fn credit_staff(
        &self,
        b: &Booking,
        deltas: &closing::Deltas,
        to: &mut BTreeMap<crate::domain::staff::EmployeeId, closing::Deltas>,
    ) {
        let catalog = self.registry.catalog();
        if deltas.is_empty() || catalog.staff.is_empty() {
            return;
        }
        for r in b.resources.iter() {
            if let Some(e) = catalog.staff.of_resource(*r) {
                to.entry(e).or_default().absorb(deltas);
            }
        }
    }

    /// The id of this scheduler's next notification; none once the sequence is used up.
    fn next_notification(&mut self) -> Option<NotificationId> {
        let n = self
            .last_notification
            .checked_add(1)
            .filter(|n| *n <= crate::domain::notify::SEQ_MAX)?;
        self.last_notification = n;
        Some(NotificationId::new(self.store, Source::Scheduler, n))
    }

    /// The plan reminder for the member, if the chain has a template for it.
    fn reminder_notification(&mut self, b: &Booking, now: Timestamp) -> Vec<Write> {
        let catalog = self.registry.catalog();
        let event = match b.origin {
            BookingOrigin::Plan { .. } => EventKind::PlanReminder,
            BookingOrigin::Appointment => EventKind::AppointmentReminder,
        };
        let Some(template) = catalog.templates.get(&event) else {
            return Vec::new();
        };
        let Some(id) = self.next_notification() else {
            return Vec::new();
        };
        let plan = match b.origin {
            BookingOrigin::Plan { plan, .. } => plan.0.to_string(),
            BookingOrigin::Appointment => String::new(),
        };
        let start = b
            .start
            .with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M")
            .to_string();
        let vars = vec![
            ("member_id", b.member.get().to_string()),
            ("store_id", self.store.get().to_string()),
            ("start", start),
            ("plan", plan),
            ("booking", b.id.0.to_string()),
        ];
        notification_writes(
            &Notification::new(id, b.member, self.store, template, &vars, now),
            None,
        )
    }

    fn event_write(&mut self, kind: &str, b: &Booking, now: Timestamp) -> Write {
        let plan = match b.origin {
            BookingOrigin::Plan { plan, .. } => Some(plan.0),
            BookingOrigin::Appointment => None,
        };
        self.feed_event(kind, b.id, plan, b.member, b.start, now)
    }

    /// The next line of the store's event feed.
    fn feed_event(
        &mut self,
        kind: &str,
        booking: BookingId,
        plan: Option<u64>,
        member: MemberId,
        start: Timestamp,
        now: Timestamp,
    ) -> Write {
        self.last_event += 1;
        let rec = EventRec {
            seq: self.last_event,
            at_us: now.timestamp_micros(),
            kind: kind.to_owned(),
            booking: booking.0,
            plan,
            member: member.get(),
            start_us: start.timestamp_micros(),
        };
        schedule_writes::event(self.store, &rec)
    }

    fn service(&self, id: ServiceId) -> Result<Service, ActorError> {
        match self.registry.storage.service(id)? {
            Some((s, false)) => Ok(s),
            _ => Err(ActorError::NotFound(format!("service {}", id.0))),
        }
    }

    /// The named resources, checked against the service: one resource of each needed kind.
    fn pick_resources(
        &self,
        service: &Service,
        ids: &[ResourceId],
    ) -> Result<Vec<(ResourceId, Addr<ResourceActor>)>, ActorError> {
        let mut kinds: Vec<&ResourceKind> = Vec::new();
        let mut out = Vec::new();
        for id in ids {
            let (r, addr) = self.resources.get(id).ok_or_else(|| {
                ActorError::NotFound(format!("resource {} in store {}", id.0, self.store))
            })?;
            kinds.push(&r.kind);
            out.push((*id, addr.clone()));
        }
        let mut want: Vec<&ResourceKind> = service.resource_kinds.iter().collect();
        want.sort();
        kinds.sort();
        if want != kinds {
            let names: Vec<&str> = want.iter().map(|k| k.as_str()).collect();
            return Err(ActorError::Invalid(format!(
                "service {} needs exactly one resource of each kind {:?}",
                service.id.0, names
            )));
        }
        Ok(out)
    }

    fn answer<T: 'static>(
        value: Result<T, ActorError>,
    ) -> AtomicResponse<Self, Result<T, ActorError>> {
        AtomicResponse::new(Box::pin(ready(value)))
    }

    /// The count card that pays for `b`, when `b` is an occurrence of a linked plan.
    fn linked_card(&self, b: &Booking) -> Option<(CardId, String)> {
        match b.origin {
            BookingOrigin::Plan { plan, index } => {
                let card = self.plans.get(&plan)?.count_card?;
                Some((card, format!("plan {} occurrence {index}", plan.0)))
            }
            BookingOrigin::Appointment => None,
        }
    }

    /// Hands linked completions to the members' home ledgers, which write each with the
    /// session it takes. `done` holds each booking as it was before, to put back when its
    /// completion was not written. The returned future must run with the mailbox blocked
    /// (`ctx.wait` or an `AtomicResponse`): memory already shows the completions, and no
    /// read may see them before the ledgers' writes are durable.
    ///
    /// The ledgers' writes go through their own journal lanes, so this scheduler's earlier
    /// writes (a reminder of the same booking, say) must be durable before they are sent:
    /// otherwise the later record could land first and be overwritten by the older one.
    fn complete_linked(&mut self, done: Vec<(Booking, LinkedCompletion)>) -> LinkedFuture {
        let own = self.writer.ticket_for_latest();
        let mut by_home: BTreeMap<StoreId, (Vec<Booking>, Vec<LinkedCompletion>)> = BTreeMap::new();
        for (old, item) in done {
            let group = by_home
                .entry(self.registry.home_of(item.member))
                .or_default();
            group.0.push(old);
            group.1.push(item);
        }
        let store = self.store;
        let sends: Vec<_> = by_home
            .into_iter()
            .map(|(home, (olds, items))| {
                let ledger = self.registry.store(home);
                async move {
                    let Some(ledger) = ledger else {
                        return (olds, None);
                    };
                    match ledger.send(CompleteLinked { store, items }).await {
                        Ok(d) => {
                            if d.ticket.durable().await.is_err() {
                                return (olds, None);
                            }
                            (olds, Some(d.value))
                        }
                        Err(_) => (olds, None),
                    }
                }
            })
            .collect();
        let sent = async move {
            // A stopped journal fails the ledgers' writes too; their failure is handled below.
            let _ = own.durable().await;
            join_all(sends).await
        };
        Box::pin(sent.into_actor(self).map(|groups, act, _| {
            let now = act.registry.clock.now();
            let mut notes = Vec::new();
            let mut failed = 0;
            for (olds, results) in groups {
                let results = results.unwrap_or_default();
                for (i, old) in olds.into_iter().enumerate() {
                    match results.get(i) {
                        Some(SessionTaken::Taken { .. }) => {}
                        Some(SessionTaken::NotTaken(why)) => {
                            tracing::warn!(booking = old.id.0, %why, "completed without a session");
                            notes.push(act.event_write("count_card_not_charged", &old, now));
                        }
                        Some(SessionTaken::Failed) | None => {
                            failed += 1;
                            act.put_booking(old);
                        }
                    }
                }
            }
            if failed > 0 {
                tracing::warn!(failed, "linked completions not written; retried next tick");
            }
            if !notes.is_empty() {
                act.writer.submit(notes);
            }
            failed == 0
        }))
    }

    /// Completes and reminds what is due. Linked completions come back as a future that
    /// must run with the mailbox blocked (see [`Self::complete_linked`]).
    fn tick(&mut self) -> (Ticket, Option<LinkedFuture>) {
        let now = self.registry.clock.now();
        let mut writes = Vec::new();
        let mut linked = Vec::new();
        for mut b in self.take_due(now) {
            let appointment = matches!(b.origin, BookingOrigin::Appointment);
            if now < b.end || appointment {
                // Due for its reminder (an appointment over unreminded is only marked).
                b.reminded = true;
                writes.push(schedule_writes::booking(&b));
                if now < b.start {
                    writes.push(self.event_write("reminder", &b, now));
                    writes.extend(self.reminder_notification(&b, now));
                }
                self.put_booking(b);
                continue;
            }
            let Ok(status) = transition(b.status, Transition::Complete) else {
                continue;
            };
            let old = b.clone();
            b.status = status;
            b.reminded = true;
            let mut w = vec![
                schedule_writes::booking(&b),
                self.event_write("completed", &b, now),
            ];
            w.extend(self.booking_figures(&b, now));
            match self.linked_card(&b) {
                Some((card, reason)) => linked.push((
                    old,
                    LinkedCompletion {
                        member: b.member,
                        card,
                        service: b.service,
                        reason,
                        writes: w,
                    },
                )),
                None => writes.append(&mut w),
            }
            self.put_booking(b);
        }
        let ticket = self.writer.submit(writes);
        let linked = (!linked.is_empty()).then(|| self.complete_linked(linked));
        (ticket, linked)
    }
}

type LinkedFuture = std::pin::Pin<Box<dyn actix::ActorFuture<StoreScheduler, Output = bool>>>;

pub fn spawn_resource(
    registry: &Arc<Registry>,
    r: &Resource,
    tz: Tz,
    bookings: Vec<(BookingId, Timestamp, Timestamp)>,
) -> Addr<ResourceActor> {
    let r2 = r.clone();
    registry.gauges.resources.inc();
    ResourceActor::start_in_arbiter(registry.arbiter(r.id.0 as usize), move |ctx| {
        ctx.set_mailbox_capacity(super::MAILBOX_CAPACITY);
        ResourceActor::new(&r2, tz, bookings)
    })
}

/// What the reserve phase needs to finish a booking.
struct PendingBook {
    meta: WriteMeta,
    hold: u64,
    addrs: Vec<(ResourceId, Addr<ResourceActor>)>,
    slots: Vec<Slot>,
    failures: Vec<OccurrenceFailure>,
    template: Booking,
    plan: Option<PlanId>,
    dry_run: bool,
    /// For a move: the booking being moved and its plan.
    moving: Option<Booking>,
    count_card: Option<CardId>,
}

impl StoreScheduler {
    fn reserve_then_finish(&mut self, p: PendingBook) -> AtomicResponse<Self, SchedResult> {
        let left = p.moving.as_ref().map(Freed::of);
        let sends: Vec<_> = p
            .addrs
            .iter()
            .map(|(_, addr)| {
                let msg = Reserve {
                    hold: p.hold,
                    slots: p
                        .slots
                        .iter()
                        .zip(p.template_ids())
                        .map(|(s, id)| HoldSlot {
                            index: s.index,
                            booking: id,
                            start: s.start,
                            end: s.end,
                            local: (s.local, s.local_end),
                        })
                        .collect(),
                    replacing: p.moving.iter().map(|b| (b.id, b.start, b.end)).collect(),
                };
                addr.send(msg)
            })
            .collect();
        let fut = join_all(sends)
            .into_actor(self)
            .then(move |results, act, _| {
                let (result, commit) = act.finish(p, results);
                let settles: Vec<_> = commit
                    .0
                    .iter()
                    .filter_map(|addr| {
                        post(
                            addr,
                            Settle {
                                hold: commit.1,
                                commit: commit.2,
                            },
                        )
                    })
                    .collect();
                let frees: Vec<_> = commit
                    .3
                    .into_iter()
                    .filter_map(|(addr, f)| post(&addr, f))
                    .collect();
                let moved = commit.2 && result.is_ok();
                async move {
                    join_all(settles).await;
                    join_all(frees).await;
                }
                .into_actor(act)
                .then(move |_, act, _| match left.filter(|_| moved) {
                    Some(left) => act.offers_after(vec![left]),
                    None => Box::pin(ready(())),
                })
                .map(move |_, _, _| result)
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// Enqueues a message whose answer nobody needs. With room in the mailbox it is queued at
/// once and the scheduler goes on: the resource handles its messages in order, so the next
/// reservation or read sees it applied, and the scheduler does not wait a round trip to
/// another thread. A full mailbox gives back a request to await, which keeps the order and
/// holds the scheduler back. A stopped resource has nothing left to settle.
fn post<M>(addr: &Addr<ResourceActor>, msg: M) -> Option<actix::dev::Request<ResourceActor, M>>
where
    M: Message<Result = ()> + Send + 'static,
    ResourceActor: Handler<M>,
{
    match addr.try_send(msg) {
        Ok(()) => None,
        Err(actix::prelude::SendError::Full(msg)) => Some(addr.send(msg)),
        Err(actix::prelude::SendError::Closed(_)) => None,
    }
}

type SettlePlan = (
    Vec<Addr<ResourceActor>>,
    u64,
    bool,
    Vec<(Addr<ResourceActor>, Free)>,
);

impl PendingBook {
    /// Booking ids for the slots, in slot order: the moved booking keeps its id.
    fn template_ids(&self) -> Vec<BookingId> {
        match &self.moving {
            Some(b) => vec![b.id; self.slots.len()],
            None => {
                let first = self.template.id.0;
                (0..self.slots.len() as u64)
                    .map(|i| BookingId(first + i))
                    .collect()
            }
        }
    }
}

impl StoreScheduler {
    fn finish(
        &mut self,
        mut p: PendingBook,
        results: Vec<
            Result<Vec<(usize, crate::domain::calendar::SlotConflict)>, actix::MailboxError>,
        >,
    ) -> (SchedResult, SettlePlan) {
        let addrs: Vec<Addr<ResourceActor>> = p.addrs.iter().map(|(_, a)| a.clone()).collect();
        let mut conflicts = Vec::new();
        for ((id, _), r) in p.addrs.iter().zip(results) {
            match r {
                Ok(cs) => conflicts.extend(cs.into_iter().map(|(i, c)| (*id, i, c))),
                Err(_) => {
                    return (
                        Err(ActorError::Unavailable),
                        (addrs, p.hold, false, Vec::new()),
                    )
                }
            }
        }
        let failures = planning::merge(std::mem::take(&mut p.failures), &p.slots, conflicts);
        let release = (addrs.clone(), p.hold, false, Vec::new());
        if !failures.is_empty() {
            let outcome = Outcome::PlanConflicts(failures);
            if p.dry_run {
                return (
                    Ok(Durable {
                        value: outcome,
                        ticket: self.writer.ticket(0),
                    }),
                    release,
                );
            }
            return (
                Ok(self.writer.commit_meta(p.meta, outcome, Vec::new())),
                release,
            );
        }
        let ids = p.template_ids();
        let bookings: Vec<Booking> = p
            .slots
            .iter()
            .zip(&ids)
            .map(|(s, id)| Booking {
                id: *id,
                start: s.start,
                end: s.end,
                origin: match p.plan {
                    Some(plan) => BookingOrigin::Plan {
                        plan,
                        index: s.index as u32,
                    },
                    None => BookingOrigin::Appointment,
                },
                ..p.template.clone()
            })
            .collect();
        let now = self.registry.clock.now();
        if p.dry_run {
            let plan = Plan {
                id: PlanId(0),
                store: self.store,
                member: p.template.member,
                service: p.template.service,
                resources: p.template.resources.clone(),
                occurrences: Vec::new(),
                created_at: now,
                count_card: p.count_card,
            };
            return (
                Ok(Durable {
                    value: Outcome::Plan(plan, bookings),
                    ticket: self.writer.ticket(0),
                }),
                release,
            );
        }
        // A plan's new bookings are lines of its record (below), an appointment its own.
        let mut writes: Vec<Write> = match p.plan {
            Some(_) => Vec::new(),
            None => bookings.iter().map(schedule_writes::booking).collect(),
        };
        // New bookings, all of one service: their figures add up before they are encoded.
        let day = self.registry.count_day(self.store, now);
        let mut figures = closing::Deltas::default();
        let mut staff = BTreeMap::new();
        for b in &bookings {
            let one = closing::of_booking(None, b, day);
            self.credit_staff(b, &one, &mut staff);
            figures.absorb(&one);
        }
        writes.extend(figure_writes(&figures));
        writes.extend(staff_writes(&staff));
        if let (Some(first), Some(s)) = (bookings.first(), closing::ServiceFigures::of(&figures)) {
            writes.push(service_figures_write(self.store, day, first.service, s));
        }
        let outcome = if let Some(old) = p.moving {
            let moved = Booking {
                reminded: false,
                origin: old.origin,
                status: old.status,
                ..bookings[0].clone()
            };
            writes = vec![schedule_writes::booking(&moved)];
            // The resources dropped the old slot when they took the hold.
            self.put_booking(moved.clone());
            match old.origin {
                BookingOrigin::Plan { plan, .. } => {
                    let plan = self.plans[&plan].clone();
                    let occ = self.plan_bookings(&plan);
                    Outcome::Plan(plan, occ)
                }
                BookingOrigin::Appointment => Outcome::Booking(moved),
            }
        } else if let Some(plan_id) = p.plan {
            let plan = Plan {
                id: plan_id,
                store: self.store,
                member: p.template.member,
                service: p.template.service,
                resources: p.template.resources.clone(),
                occurrences: ids.clone(),
                created_at: now,
                count_card: p.count_card,
            };
            writes.push(schedule_writes::plan(&plan, &bookings));
            self.last_plan = plan_id.0 as u32;
            self.last_booking = ids.last().map_or(self.last_booking, |b| b.0 as u32);
            self.member_plans
                .entry(plan.member)
                .or_default()
                .push(plan.id);
            self.plans.insert(plan.id, plan.clone());
            self.put_bookings(bookings.iter().cloned());
            // The plan record just written is the answer: the idempotency record names it.
            let stored = OutcomeRec::PlanAsBooked(plan_id.0);
            let durable = self.writer.commit_meta_stored_as(
                p.meta,
                Outcome::Plan(plan, bookings),
                stored,
                writes,
            );
            return (Ok(durable), (addrs, p.hold, true, Vec::new()));
        } else {
            let b = bookings
                .into_iter()
                .next()
                .expect("an appointment has one slot");
            self.last_booking = b.id.0 as u32;
            self.put_booking(b.clone());
            Outcome::Booking(b)
        };
        let durable = self.writer.commit_meta(p.meta, outcome, writes);
        (Ok(durable), (addrs, p.hold, true, Vec::new()))
    }

    fn plan_bookings(&self, plan: &Plan) -> Vec<Booking> {
        plan.occurrences
            .iter()
            .filter_map(|id| self.bookings.get(id))
            .collect()
    }

    fn durable_answer<T>(&self, value: T) -> Durable<T> {
        Durable {
            value,
            ticket: self.writer.ticket_for_latest(),
        }
    }
}

impl Handler<Book> for StoreScheduler {
    type Result = AtomicResponse<Self, SchedResult>;

    fn handle(&mut self, msg: Book, _: &mut Context<Self>) -> Self::Result {
        let prepared = self.prepare_book(msg);
        self.reserve_prepared(prepared)
    }
}

impl StoreScheduler {
    /// Validation and the store's own rules; `Ok(Err(answer))` is a replay.
    fn prepare_book(
        &mut self,
        msg: Book,
    ) -> Result<Result<PendingBook, Durable<Outcome>>, ActorError> {
        let dry_run = matches!(msg.what, What::Plan { dry_run: true, .. });
        if !dry_run {
            if let Some(answer) = begin_meta(self, &msg.meta)? {
                return Ok(Err(answer));
            }
        }
        if !self.registry.storage.has_account(msg.member)? {
            return Err(ActorError::NotFound(format!("member {}", msg.member)));
        }
        let service = self.service(msg.service)?;
        if msg.online && service.mode != BookingMode::Appointment {
            return Err(crate::domain::online_booking::OnlineError::PlanService.into());
        }
        let occurrences = match &msg.what {
            What::Appointment { start } => {
                if service.mode != BookingMode::Appointment {
                    return Err(ActorError::WrongMode(
                        "this service is booked through service plans, not as an appointment",
                    ));
                }
                let (local, start) = match *start {
                    When::Instant(t) => (t.with_timezone(&self.tz).naive_local(), Some(t)),
                    When::Local(l) => (l, local_to_utc(self.tz, l)),
                };
                if let (true, Some(at)) = (msg.online, start) {
                    self.online.may_book(at, self.registry.clock.now())?;
                }
                vec![Occurrence {
                    index: 1,
                    local,
                    start,
                }]
            }
            What::Plan { repeat, .. } => {
                if !self.registry.storage.plans_enabled()? {
                    return Err(ActorError::PlansDisabled);
                }
                if service.mode != BookingMode::ServicePlan {
                    return Err(ActorError::WrongMode(
                        "this service is booked as single appointments; it can't be put in a plan",
                    ));
                }
                recurrence::expand(repeat, self.tz)?
            }
        };
        let addrs = self.pick_resources(&service, &msg.resources)?;
        let now = self.registry.clock.now();
        let (slots, failures) = planning::check_store_rules(
            &occurrences,
            service.duration(),
            self.tz,
            &self.hours,
            now,
        );
        let is_plan = matches!(msg.what, What::Plan { .. });
        let plan = if is_plan {
            let seq = self
                .last_plan
                .checked_add(1)
                .ok_or(ActorError::Exhausted("plan ids"))?;
            Some(PlanId(store_seq_id(self.store, seq)))
        } else {
            None
        };
        let first = self
            .last_booking
            .checked_add(1)
            .filter(|f| f.checked_add(slots.len() as u32).is_some())
            .ok_or(ActorError::Exhausted("booking ids"))?;
        let status = if !is_plan && service.requires_review {
            BookingStatus::Pending
        } else {
            BookingStatus::Confirmed
        };
        let template = Booking {
            id: BookingId(store_seq_id(self.store, first)),
            store: self.store,
            member: msg.member,
            service: service.id,
            resources: msg.resources.clone(),
            start: now,
            end: now,
            status,
            origin: BookingOrigin::Appointment,
            reminded: false,
        };
        let hold = self.next_hold;
        self.next_hold += 1;
        Ok(Ok(PendingBook {
            meta: msg.meta,
            hold,
            addrs,
            slots,
            failures,
            template,
            plan,
            dry_run,
            moving: None,
            count_card: match msg.what {
                What::Plan { count_card, .. } => count_card,
                What::Appointment { .. } => None,
            },
        }))
    }
}

impl Handler<MoveOccurrence> for StoreScheduler {
    type Result = AtomicResponse<Self, SchedResult>;

    fn handle(&mut self, msg: MoveOccurrence, _: &mut Context<Self>) -> Self::Result {
        let prepared = (|| {
            if let Some(answer) = begin_meta(self, &msg.meta)? {
                return Ok(Err(answer));
            }
            let plan = self
                .plans
                .get(&msg.plan)
                .ok_or_else(|| ActorError::NotFound(format!("plan {}", msg.plan.0)))?
                .clone();
            let id = *plan
                .occurrences
                .get((msg.occurrence as usize).wrapping_sub(1))
                .ok_or_else(|| {
                    ActorError::NotFound(format!(
                        "occurrence {} of plan {}",
                        msg.occurrence, plan.id.0
                    ))
                })?;
            let old = self.bookings.expect(&id);
            let index = msg.occurrence;
            Ok(Ok(self.prepare_move(
                msg.meta,
                old,
                index,
                msg.to,
                Some(&plan),
            )?))
        })();
        self.reserve_prepared(prepared)
    }
}

impl Handler<MoveAppointment> for StoreScheduler {
    type Result = AtomicResponse<Self, SchedResult>;

    fn handle(&mut self, msg: MoveAppointment, _: &mut Context<Self>) -> Self::Result {
        let prepared = (|| {
            if let Some(answer) = begin_meta(self, &msg.meta)? {
                return Ok(Err(answer));
            }
            let old = self
                .bookings
                .get(&msg.booking)
                .ok_or_else(|| ActorError::NotFound(format!("booking {}", msg.booking.0)))?;
            if let BookingOrigin::Plan { plan, index } = old.origin {
                return Err(ActorError::Invalid(format!(
                    "booking {} is occurrence {index} of plan {}: move it with POST /v1/plans/{}/occurrences/{index}/move",
                    old.id.0, plan.0, plan.0
                )));
            }
            Ok(Ok(self.prepare_move(msg.meta, old, 1, msg.to, None)?))
        })();
        self.reserve_prepared(prepared)
    }
}

impl StoreScheduler {
    /// Reserves a prepared booking or move; a repeat's answer or a refusal answers at once.
    fn reserve_prepared(
        &mut self,
        prepared: Result<Result<PendingBook, Durable<Outcome>>, ActorError>,
    ) -> AtomicResponse<Self, SchedResult> {
        match prepared {
            Ok(Ok(p)) => self.reserve_then_finish(p),
            Ok(Err(answer)) => Self::answer(Ok(answer)),
            Err(e) => Self::answer(Err(e)),
        }
    }

    /// A move of booking `old` (occurrence `index` of `plan`, or an appointment) to the
    /// local start `to`, ready to reserve: a booking that has ended its life can't move.
    fn prepare_move(
        &mut self,
        meta: WriteMeta,
        old: Booking,
        index: u32,
        to: NaiveDateTime,
        plan: Option<&Plan>,
    ) -> Result<PendingBook, ActorError> {
        if old.status.is_final() {
            let what = match plan {
                Some(_) => format!("occurrence {index}"),
                None => format!("appointment {}", old.id.0),
            };
            return Err(ActorError::Invalid(format!(
                "{what} is {} and can't move",
                old.status.as_str()
            )));
        }
        let service = self.service(old.service)?;
        let addrs = self.pick_resources(&service, &old.resources)?;
        let occ = [Occurrence {
            index: index as usize,
            local: to,
            start: local_to_utc(self.tz, to),
        }];
        let now = self.registry.clock.now();
        let (slots, failures) =
            planning::check_store_rules(&occ, service.duration(), self.tz, &self.hours, now);
        let hold = self.next_hold;
        self.next_hold += 1;
        Ok(PendingBook {
            meta,
            hold,
            addrs,
            slots,
            failures,
            template: old.clone(),
            plan: plan.map(|p| p.id),
            dry_run: false,
            moving: Some(old),
            count_card: plan.and_then(|p| p.count_card),
        })
    }
}

impl StoreScheduler {
    /// Applies a transition to bookings, journals them, and frees slots they release.
    fn transit_many(
        &mut self,
        meta: WriteMeta,
        ids: &[BookingId],
        t: Transition,
        outcome: impl FnOnce(&Self) -> Outcome,
    ) -> AtomicResponse<Self, SchedResult> {
        let now = self.registry.clock.now();
        let mut writes = Vec::new();
        let mut frees = Vec::new();
        let mut freed_slots = Vec::new();
        for id in ids {
            let mut b = self.bookings.expect(id);
            let Ok(status) = transition(b.status, t) else {
                continue;
            };
            let freed = b.status.holds_slot() && !status.holds_slot();
            b.status = status;
            writes.push(schedule_writes::booking(&b));
            writes.extend(self.booking_figures(&b, now));
            if freed {
                freed_slots.push(Freed::of(&b));
                for r in &b.resources {
                    if let Some((_, addr)) = self.resources.get(r) {
                        frees.extend(post(
                            addr,
                            Free {
                                booking: b.id,
                                start: b.start,
                            },
                        ));
                    }
                }
            }
            self.put_booking(b);
        }
        let outcome = outcome(self);
        let durable = self.writer.commit_meta(meta, outcome, writes);
        AtomicResponse::new(Box::pin(
            async move {
                join_all(frees).await;
            }
            .into_actor(self)
            .then(move |_, act, _| act.offers_after(freed_slots))
            .map(move |_, _, _| Ok(durable)),
        ))
    }
}

impl StoreScheduler {
    /// Staff complete one booking. An occurrence of a plan linked to a count card is
    /// written by the member's home ledger with the session it takes and this request's
    /// idempotency record, all in one submission.
    fn complete_one(
        &mut self,
        meta: WriteMeta,
        id: BookingId,
    ) -> AtomicResponse<Self, SchedResult> {
        let Some((card, reason)) = self.linked_card(&self.bookings.expect(&id)) else {
            return self.transit_many(meta, &[id], Transition::Complete, |s| {
                Outcome::Booking(s.bookings.expect(&id))
            });
        };
        let old = self.bookings.expect(&id);
        let mut b = old.clone();
        b.status = BookingStatus::Completed;
        let now = self.registry.clock.now();
        let outcome = Outcome::Booking(b.clone());
        let request = Request::Fingerprint(meta.fingerprint);
        let who = Who {
            audit: &meta.audit,
            store: Some(self.store),
        };
        let mut writes = vec![
            schedule_writes::booking(&b),
            self.event_write("completed", &b, now),
        ];
        writes.extend(self.booking_figures(&b, now));
        writes.extend(IdemTable::writes(now, &meta.key, &request, &outcome, who));
        let item = LinkedCompletion {
            member: b.member,
            card,
            service: b.service,
            reason,
            writes,
        };
        self.put_booking(b);
        let linked = self.complete_linked(vec![(old, item)]);
        AtomicResponse::new(Box::pin(linked.map(move |written, act, _| {
            if written {
                // Covers the `count_card_not_charged` note too: the answer is read-your-writes.
                Ok(Durable {
                    value: outcome,
                    ticket: act.writer.ticket_for_latest(),
                })
            } else {
                Err(ActorError::Unavailable)
            }
        })))
    }
}

impl Handler<Transit> for StoreScheduler {
    type Result = AtomicResponse<Self, SchedResult>;

    fn handle(&mut self, msg: Transit, _: &mut Context<Self>) -> Self::Result {
        let checked = (|| {
            if let Some(answer) = begin_meta(self, &msg.meta)? {
                return Ok(Err(answer));
            }
            let b = self
                .bookings
                .get(&msg.booking)
                .filter(|b| msg.by_member.is_none_or(|m| m == b.member))
                .ok_or_else(|| ActorError::NotFound(format!("booking {}", msg.booking.0)))?;
            transition(b.status, msg.transition)?;
            if msg.by_member.is_some() {
                if !matches!(b.origin, BookingOrigin::Appointment) {
                    return Err(crate::domain::online_booking::OnlineError::PlanService.into());
                }
                self.online.may_cancel(b.start, self.registry.clock.now())?;
            }
            Ok(Ok(()))
        })();
        match checked {
            Ok(Ok(())) if msg.transition == Transition::Complete => {
                self.complete_one(msg.meta, msg.booking)
            }
            Ok(Ok(())) => {
                let id = msg.booking;
                self.transit_many(msg.meta, &[id], msg.transition, |s| {
                    Outcome::Booking(s.bookings.expect(&id))
                })
            }
            Ok(Err(answer)) => Self::answer(Ok(answer)),
            Err(e) => Self::answer(Err(e)),
        }
    }
}

impl Handler<CancelPlan> for StoreScheduler {
    type Result = AtomicResponse<Self, SchedResult>;

    fn handle(&mut self, msg: CancelPlan, _: &mut Context<Self>) -> Self::Result {
        let checked = (|| {
            if let Some(answer) = begin_meta(self, &msg.meta)? {
                return Ok(Err(answer));
            }
            let plan = self
                .plans
                .get(&msg.plan)
                .ok_or_else(|| ActorError::NotFound(format!("plan {}", msg.plan.0)))?;
            let ids: Vec<BookingId> = match msg.occurrence {
                Some(n) => {
                    let id = *plan
                        .occurrences
                        .get((n as usize).wrapping_sub(1))
                        .ok_or_else(|| {
                            ActorError::NotFound(format!("occurrence {n} of plan {}", plan.id.0))
                        })?;
                    transition(self.bookings.expect(&id).status, Transition::Cancel)?;
                    vec![id]
                }
                None => plan.occurrences.clone(),
            };
            Ok(Ok(ids))
        })();
        match checked {
            Ok(Ok(ids)) => {
                let plan_id = msg.plan;
                self.transit_many(msg.meta, &ids, Transition::Cancel, |s| {
                    let plan = s.plans[&plan_id].clone();
                    let occ = s.plan_bookings(&plan);
                    Outcome::Plan(plan, occ)
                })
            }
            Ok(Err(answer)) => Self::answer(Ok(answer)),
            Err(e) => Self::answer(Err(e)),
        }
    }
}

/// Set a store's reminder policy: open visits not yet reminded are reminded by it.
#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct SetReminders {
    pub meta: WriteMeta,
    pub policy: crate::domain::reminders::ReminderPolicy,
}

impl Handler<SetReminders> for StoreScheduler {
    type Result = SchedResult;

    fn handle(&mut self, msg: SetReminders, _: &mut Context<Self>) -> SchedResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        msg.policy
            .check()
            .map_err(|e| ActorError::Invalid(e.to_string()))?;
        let write = schedule_writes::reminder_policy(self.store, &msg.policy);
        self.reminders = msg.policy.clone();
        // Earlier due times need agenda entries of their own; later ones are checked
        // against the policy when their old entry comes due.
        let due: Vec<(Due, Timestamp)> = self
            .bookings
            .values()
            .filter(|b| !b.reminded)
            .filter_map(|b| Some((due_key(&b), self.next_due(&b)?)))
            .collect();
        for (d, at) in due {
            self.agenda.add(at, d);
        }
        Ok(self.writer.commit_meta(
            msg.meta,
            Outcome::Reminders(self.store, msg.policy),
            vec![write],
        ))
    }
}

/// Set what members may book and cancel online in this store; bookings already made keep
/// their times, and cancel by the new window.
#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct SetOnlineBooking {
    pub meta: WriteMeta,
    pub policy: crate::domain::online_booking::OnlineBooking,
}

impl Handler<SetOnlineBooking> for StoreScheduler {
    type Result = SchedResult;

    fn handle(&mut self, msg: SetOnlineBooking, _: &mut Context<Self>) -> SchedResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        msg.policy.check()?;
        let write = crate::storage::member_sessions::online_booking(self.store, &msg.policy);
        self.online = msg.policy.clone();
        Ok(self.writer.commit_meta(
            msg.meta,
            Outcome::OnlineBooking(self.store, msg.policy),
            vec![write],
        ))
    }
}

impl Handler<SetHours> for StoreScheduler {
    type Result = SchedResult;

    fn handle(&mut self, msg: SetHours, _: &mut Context<Self>) -> SchedResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let write = schedule_writes::store_hours(self.store, &msg.hours);
        self.hours = msg.hours.clone();
        Ok(self.writer.commit_meta(
            msg.meta,
            Outcome::StoreHours(self.store, msg.hours),
            vec![write],
        ))
    }
}

impl Handler<PutResource> for StoreScheduler {
    type Result = SchedResult;

    fn handle(&mut self, msg: PutResource, ctx: &mut Context<Self>) -> SchedResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let spec = msg.spec;
        let id = match msg.id {
            Some(id) => {
                let (existing, _) = self
                    .resources
                    .get(&id)
                    .ok_or_else(|| ActorError::NotFound(format!("resource {}", id.0)))?;
                if existing.kind != spec.kind {
                    return Err(ActorError::Invalid("a resource's kind can't change".into()));
                }
                id
            }
            None => {
                let seq = self
                    .last_resource
                    .checked_add(1)
                    .filter(|s| *s <= RESOURCES_PER_STORE_MAX)
                    .ok_or(ActorError::Exhausted("resource ids of this store"))?;
                ResourceId(store_seq_id(self.store, seq))
            }
        };
        let resource = Resource {
            id,
            store: self.store,
            name: spec.name,
            kind: spec.kind,
            capacity: spec.capacity,
            working_hours: spec.working_hours,
            days_off: spec.days_off,
        };
        let writes = schedule_writes::resource(&resource, msg.id.is_none());
        let durable =
            self.writer
                .commit_meta(msg.meta, Outcome::Resource(resource.clone()), writes);
        match self.resources.get_mut(&id) {
            Some((r, addr)) => {
                *r = resource.clone();
                // Capacity or hours changes apply to new bookings; existing ones stay. A
                // full mailbox is waited for with this mailbox paused, so that no later
                // booking reaches the resource before its new configuration.
                if let Err(actix::prelude::SendError::Full(m)) =
                    addr.try_send(Reconfigure(resource))
                {
                    let send = addr.send(m);
                    ctx.wait(actix::fut::wrap_future(async move {
                        let _ = send.await;
                    }));
                }
                // More capacity or longer hours may open slots members wait for.
                ctx.wait(self.offers_after(vec![Freed {
                    resources: vec![id],
                    start: Timestamp::MIN_UTC,
                    end: Timestamp::MAX_UTC,
                }]));
            }
            None => {
                self.last_resource = id.0 as u32;
                let addr = spawn_resource(&self.registry, &resource, self.tz, Vec::new());
                self.resources.insert(id, (resource, addr));
            }
        }
        Ok(durable)
    }
}

impl Handler<DeleteResource> for StoreScheduler {
    type Result = AtomicResponse<Self, SchedResult>;

    fn handle(&mut self, msg: DeleteResource, _: &mut Context<Self>) -> Self::Result {
        match begin_meta(self, &msg.meta) {
            Ok(Some(answer)) => return Self::answer(Ok(answer)),
            Err(e) => return Self::answer(Err(e)),
            Ok(None) => {}
        }
        let Some((_, addr)) = self.resources.get(&msg.id) else {
            return Self::answer(Err(ActorError::NotFound(format!("resource {}", msg.id.0))));
        };
        let now = self.registry.clock.now();
        let ask = addr.send(HasBookingsAfter(now));
        AtomicResponse::new(Box::pin(ask.into_actor(self).map(
            move |busy, act, _| match busy {
                Err(_) => Err(ActorError::Unavailable),
                Ok(true) => Err(ActorError::ResourceHasBookings(msg.id.0)),
                Ok(false) => {
                    let Some((resource, _)) = act.resources.remove(&msg.id) else {
                        return Err(ActorError::NotFound(format!("resource {}", msg.id.0)));
                    };
                    act.registry.gauges.resources.dec();
                    let (held, deletion) = schedule_writes::binned_resource(&resource);
                    let bin = BinEntry::new(
                        BinKind::Resource,
                        msg.id.0,
                        resource.name.as_str(),
                        act.registry.clock.now(),
                        msg.meta.audit.credential.0,
                    )
                    .in_store(act.store)
                    .holding(held);
                    let writes = vec![deletion, bin_write(&bin)];
                    Ok(act
                        .writer
                        .commit_meta(msg.meta, Outcome::ResourceDeleted(msg.id), writes))
                }
            },
        )))
    }
}

/// Put a resource back from the recycle bin.
#[derive(Debug, Message)]
#[rtype(result = "SchedResult")]
pub struct RestoreResource {
    pub meta: WriteMeta,
    pub id: ResourceId,
}

impl Handler<RestoreResource> for StoreScheduler {
    type Result = SchedResult;

    fn handle(&mut self, msg: RestoreResource, _: &mut Context<Self>) -> SchedResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let not_found =
            || ActorError::NotFound(format!("resource {} in the recycle bin", msg.id.0));
        // Live again (a restore not durable yet): the disk's bin entry is stale, and a new
        // actor would drop the calendar the live one holds.
        if self.resources.contains_key(&msg.id) {
            return Err(not_found());
        }
        let entry = self
            .registry
            .storage
            .bin_entry(BinKind::Resource, msg.id.0)?
            .filter(|e| e.store == Some(self.store))
            .ok_or_else(not_found)?;
        let now = self.registry.clock.now();
        entry.check_restore(self.registry.bin_retention_days, now)?;
        let (key, value) = entry.records.first().cloned().ok_or_else(not_found)?;
        let rec = schedule_writes::resource_of_bin_record(&value)
            .map_err(|e| ActorError::Invalid(e.to_string()))?;
        let resource = Resource::try_from(rec).map_err(|e| ActorError::Invalid(e.to_string()))?;
        let writes = vec![
            Write::put(key, value),
            Write::delete(bin_key(BinKind::Resource, msg.id.0)),
        ];
        let durable = self.writer.commit_meta(
            msg.meta,
            Outcome::Restored(BinKind::Resource, msg.id.0),
            writes,
        );
        let addr = spawn_resource(&self.registry, &resource, self.tz, Vec::new());
        self.resources.insert(resource.id, (resource, addr));
        Ok(durable)
    }
}

impl Handler<Tick> for StoreScheduler {
    type Result = AtomicResponse<Self, Ticket>;

    fn handle(&mut self, _: Tick, _: &mut Context<Self>) -> Self::Result {
        let (ticket, linked) = self.tick();
        let offers = self.expire_offers();
        if linked.is_none() && offers.is_none() {
            return AtomicResponse::new(Box::pin(ready(ticket)));
        }
        // Linked completions' notes and offers are submitted after `ticket`.
        let linked: OfferChain = match linked {
            Some(l) => Box::pin(l.map(|_, _, _| ())),
            None => Box::pin(ready(())),
        };
        AtomicResponse::new(Box::pin(
            linked
                .then(move |_, _, _| match offers {
                    Some(o) => o,
                    None => Box::pin(ready(())),
                })
                .map(move |_, act, _| act.writer.ticket_for_latest()),
        ))
    }
}

impl Handler<Read> for StoreScheduler {
    type Result = Result<Durable<Answer>, ActorError>;

    fn handle(&mut self, msg: Read, _: &mut Context<Self>) -> Self::Result {
        let answer = match msg.0 {
            Query::Booking(id) => Answer::Booking(
                self.bookings
                    .get(&id)
                    .ok_or_else(|| ActorError::NotFound(format!("booking {}", id.0)))?,
            ),
            Query::Plan(id) => {
                let plan = self
                    .plans
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| ActorError::NotFound(format!("plan {}", id.0)))?;
                let occ = self.plan_bookings(&plan);
                Answer::Plans(vec![(plan, occ)])
            }
            Query::MemberPlans(member) => Answer::Plans(
                self.member_plans
                    .get(&member)
                    .into_iter()
                    .flatten()
                    .map(|id| {
                        let plan = self.plans[id].clone();
                        let occ = self.plan_bookings(&plan);
                        (plan, occ)
                    })
                    .collect(),
            ),
            Query::Resources => {
                Answer::Resources(self.resources.values().map(|(r, _)| r.clone()).collect())
            }
            Query::Resource(id) => Answer::Resources(vec![self
                .resources
                .get(&id)
                .map(|(r, _)| r.clone())
                .ok_or_else(|| ActorError::NotFound(format!("resource {}", id.0)))?]),
            Query::Hours => Answer::Hours(self.tz, self.hours.clone()),
        };
        Ok(self.durable_answer(answer))
    }
}

impl Handler<Availability> for StoreScheduler {
    type Result = AtomicResponse<Self, Result<Durable<Vec<FreeStart>>, ActorError>>;

    fn handle(&mut self, msg: Availability, _: &mut Context<Self>) -> Self::Result {
        let service = match self.service(msg.service) {
            Ok(s) => s,
            Err(e) => return Self::answer(Err(e)),
        };
        let from_local = msg.from.and_time(chrono::NaiveTime::MIN);
        let to_local = msg
            .to
            .succ_opt()
            .unwrap_or(msg.to)
            .and_time(chrono::NaiveTime::MIN);
        let (Some(from), Some(to)) = (
            local_to_utc(self.tz, from_local)
                .or_else(|| local_to_utc(self.tz, from_local + Duration::hours(1))),
            local_to_utc(self.tz, to_local)
                .or_else(|| local_to_utc(self.tz, to_local + Duration::hours(1))),
        ) else {
            return Self::answer(Err(ActorError::Invalid("date range".into())));
        };
        let kinds: Vec<ResourceKind> = service.resource_kinds.clone();
        let mut asks = Vec::new();
        for (i, kind) in kinds.iter().enumerate() {
            for (id, (r, addr)) in &self.resources {
                if &r.kind == kind {
                    asks.push((
                        i,
                        *id,
                        addr.send(Snapshot {
                            from,
                            to: to + service.duration(),
                        }),
                    ));
                }
            }
        }
        let (meta, futs): (Vec<(usize, ResourceId)>, Vec<_>) =
            asks.into_iter().map(|(i, id, f)| ((i, id), f)).unzip();
        let fut = join_all(futs).into_actor(self).map(move |snaps, act, _| {
            let mut per_kind: Vec<Vec<(ResourceId, ResourceSchedule)>> =
                vec![Vec::new(); kinds.len()];
            for ((i, id), snap) in meta.into_iter().zip(snaps) {
                per_kind[i].push((id, snap.map_err(|_| ActorError::Unavailable)?));
            }
            let now = act.registry.clock.now();
            let starts = planning::free_starts(
                act.tz,
                &act.hours,
                service.duration(),
                msg.from,
                msg.to,
                Duration::minutes(i64::from(msg.step_minutes)),
                now,
                &per_kind,
            );
            Ok(act.durable_answer(starts))
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// Asks the resource's calendar which bookings are in the range, then reads them here:
/// scanning every booking of the store was a second per thousand resources in a store
/// holding a few hundred thousand.
impl Handler<ResourceBookings> for StoreScheduler {
    type Result = AtomicResponse<Self, Result<Durable<Vec<Booking>>, ActorError>>;

    fn handle(&mut self, msg: ResourceBookings, _: &mut Context<Self>) -> Self::Result {
        let Some((_, addr)) = self.resources.get(&msg.resource) else {
            return Self::answer(Err(ActorError::NotFound(format!(
                "resource {}",
                msg.resource.0
            ))));
        };
        let ask = addr.send(Snapshot {
            from: msg.from,
            to: msg.to,
        });
        let fut = ask.into_actor(self).map(move |snap, act, _| {
            let snap = snap.map_err(|_| ActorError::Unavailable)?;
            let mut list: Vec<Booking> = snap
                .calendar
                .iter()
                .filter_map(|(id, _, _)| act.bookings.get(&id))
                .filter(|b| {
                    b.status.holds_slot()
                        && b.resources.contains(&msg.resource)
                        && b.start < msg.to
                        && b.end > msg.from
                })
                .collect();
            list.sort_by_key(|b| (b.start, b.id));
            list.truncate(BOOKINGS_PAGE_MAX);
            Ok(act.durable_answer(list))
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

impl Handler<ListAppointments> for StoreScheduler {
    type Result = Result<Durable<AppointmentPage>, ActorError>;

    fn handle(&mut self, msg: ListAppointments, _: &mut Context<Self>) -> Self::Result {
        let (filter, after, limit) = (&msg.filter, msg.after, msg.limit);
        let page = match filter.starts {
            Some((from, to)) => {
                let ids = self.days.candidates(from, to);
                let found = ids.iter().filter_map(|id| self.bookings.get(id));
                appointments::page(found, filter, after, limit)
            }
            None => appointments::page(self.bookings.values(), filter, after, limit),
        };
        Ok(self.durable_answer(page))
    }
}

impl Handler<super::closing::Barrier> for StoreScheduler {
    type Result = actix::MessageResult<super::closing::Barrier>;

    fn handle(&mut self, _: super::closing::Barrier, _: &mut Self::Context) -> Self::Result {
        actix::MessageResult(self.writer.ticket_for_latest())
    }
}
