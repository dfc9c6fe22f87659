//! One actor per service resource: it alone owns the resource's calendar.
//!
//! Its half of the booking protocol: `Reserve` checks every slot and, only if all fit,
//! places them as a hold (in memory, not durable); `Settle` then commits the hold (the
//! store scheduler has already journaled the bookings) or releases it. A crash between the
//! two loses only memory: nothing of an unsettled hold was ever written.

use std::collections::HashMap;

use actix::{Actor, Context, Handler, Message};
use chrono::NaiveDateTime;

use crate::domain::booking::Resource;
use crate::domain::calendar::{BookingId, Calendar, ResourceSchedule, SlotConflict};
use crate::domain::ledger::Timestamp;

#[derive(Debug, Clone, Copy)]
pub struct HoldSlot {
    pub index: usize,
    pub booking: BookingId,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `start` and `end` on the store's clock, which is the resource's.
    pub local: (NaiveDateTime, NaiveDateTime),
}

/// Reserve every slot or none. `replacing` are bookings being moved: they don't count
/// against the new slots, and come back if the hold is released.
#[derive(Debug, Message)]
#[rtype(result = "Vec<(usize, SlotConflict)>")]
pub struct Reserve {
    pub hold: u64,
    pub slots: Vec<HoldSlot>,
    pub replacing: Vec<(BookingId, Timestamp, Timestamp)>,
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Settle {
    pub hold: u64,
    pub commit: bool,
}

/// Take a booking off the calendar (cancelled or rejected).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Free {
    pub booking: BookingId,
    pub start: Timestamp,
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Reconfigure(pub Resource);

#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct HasBookingsAfter(pub Timestamp);

/// The resource's schedule restricted to `[from, to)`, for availability.
#[derive(Debug, Message)]
#[rtype(result = "ResourceSchedule")]
pub struct Snapshot {
    pub from: Timestamp,
    pub to: Timestamp,
}

struct Hold {
    placed: Vec<(BookingId, Timestamp)>,
    replaced: Vec<(BookingId, Timestamp, Timestamp)>,
}

pub struct ResourceActor {
    schedule: ResourceSchedule,
    holds: HashMap<u64, Hold>,
}

impl Actor for ResourceActor {
    type Context = Context<Self>;
}

impl ResourceActor {
    pub fn new(
        resource: &Resource,
        time_zone: chrono_tz::Tz,
        bookings: impl IntoIterator<Item = (BookingId, Timestamp, Timestamp)>,
    ) -> ResourceActor {
        let mut calendar = Calendar::new(resource.capacity);
        for (id, start, end) in bookings {
            calendar.insert(id, start, end);
        }
        ResourceActor {
            schedule: ResourceSchedule {
                time_zone,
                working_hours: resource.working_hours.clone(),
                days_off: resource.days_off.clone(),
                calendar,
            },
            holds: HashMap::new(),
        }
    }
}

impl Handler<Reserve> for ResourceActor {
    type Result = actix::MessageResult<Reserve>;

    fn handle(&mut self, msg: Reserve, _: &mut Context<Self>) -> Self::Result {
        let calendar = &mut self.schedule.calendar;
        for (id, start, _) in &msg.replacing {
            calendar.remove(*id, *start);
        }
        let mut placed = Vec::with_capacity(msg.slots.len());
        let mut conflicts = Vec::new();
        for slot in &msg.slots {
            match self
                .schedule
                .try_insert(slot.booking, slot.start, slot.end, Some(slot.local))
            {
                Ok(()) => placed.push((slot.booking, slot.start)),
                Err(c) => conflicts.push((slot.index, c)),
            }
        }
        let hold = Hold {
            placed,
            replaced: msg.replacing,
        };
        if conflicts.is_empty() {
            self.holds.insert(msg.hold, hold);
        } else {
            self.undo(hold);
        }
        actix::MessageResult(conflicts)
    }
}

impl ResourceActor {
    fn undo(&mut self, hold: Hold) {
        for (id, start) in hold.placed {
            self.schedule.calendar.remove(id, start);
        }
        for (id, start, end) in hold.replaced {
            self.schedule.calendar.insert(id, start, end);
        }
    }
}

impl Handler<Settle> for ResourceActor {
    type Result = ();

    fn handle(&mut self, msg: Settle, _: &mut Context<Self>) {
        if let Some(hold) = self.holds.remove(&msg.hold) {
            if !msg.commit {
                self.undo(hold);
            }
        }
    }
}

impl Handler<Free> for ResourceActor {
    type Result = ();

    fn handle(&mut self, msg: Free, _: &mut Context<Self>) {
        self.schedule.calendar.remove(msg.booking, msg.start);
    }
}

impl Handler<Reconfigure> for ResourceActor {
    type Result = ();

    fn handle(&mut self, msg: Reconfigure, _: &mut Context<Self>) {
        self.schedule.working_hours = msg.0.working_hours;
        self.schedule.days_off = msg.0.days_off;
        self.schedule.calendar.set_capacity(msg.0.capacity);
    }
}

impl Handler<HasBookingsAfter> for ResourceActor {
    type Result = bool;

    fn handle(&mut self, msg: HasBookingsAfter, _: &mut Context<Self>) -> bool {
        self.schedule.calendar.has_bookings_after(msg.0)
    }
}

impl Handler<Snapshot> for ResourceActor {
    type Result = actix::MessageResult<Snapshot>;

    fn handle(&mut self, msg: Snapshot, _: &mut Context<Self>) -> Self::Result {
        let mut calendar = Calendar::new(self.schedule.calendar.capacity());
        for (id, start, end) in self.schedule.calendar.overlapping(msg.from, msg.to) {
            calendar.insert(id, start, end);
        }
        actix::MessageResult(ResourceSchedule {
            time_zone: self.schedule.time_zone,
            working_hours: self.schedule.working_hours.clone(),
            days_off: self.schedule.days_off.clone(),
            calendar,
        })
    }
}
