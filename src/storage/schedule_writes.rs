//! The scheduler's writes: which keys a booking, a plan, an event of the member feed, a
//! store's hours, a resource and a binned resource take, and how they are encoded; and the
//! high-water marks a scheduler recovers its id sequences from. The scheduler says what
//! changed; this module alone knows the layout.

use super::codec::{self, CodecError};
use super::db::{Storage, StorageError};
use super::journal::Write;
use super::keys;
use super::ledger_writes::BinRecords;
use super::schedule_codec::{BookingRec, EventRec, PlanRec, ResourceRec, StoreHoursRec};
use crate::domain::booking::{Booking, Plan, Resource};
use crate::domain::hours::StoreHours;
use crate::domain::ids::StoreId;

pub fn booking(b: &Booking) -> Write {
    Write::put(
        keys::id8(keys::TAG_BOOKING, b.id.0),
        codec::encode(&BookingRec::from(b)),
    )
}

/// The plan's record, holding its occurrences as booked.
pub fn plan(p: &Plan, booked: &[Booking]) -> Write {
    Write::put(
        keys::id8(keys::TAG_PLAN, p.id.0),
        codec::encode(&PlanRec::new(p, booked)),
    )
}

/// Event `rec.seq` of `store`'s member-facing feed.
pub fn event(store: StoreId, rec: &EventRec) -> Write {
    Write::put(keys::event(store, rec.seq), codec::encode(rec))
}

pub fn store_hours(store: StoreId, hours: &StoreHours) -> Write {
    Write::put(
        keys::hours(store),
        codec::encode(&StoreHoursRec::from(hours)),
    )
}

pub fn reminder_policy(store: StoreId, policy: &crate::domain::reminders::ReminderPolicy) -> Write {
    Write::put(keys::reminders(store), codec::encode(policy))
}

/// A resource, and when it is new, the mark that keeps its id from being issued again.
pub fn resource(resource: &Resource, new: bool) -> Vec<Write> {
    let mut writes = vec![Write::put(
        keys::id8(keys::TAG_RESOURCE, resource.id.0),
        codec::encode(&ResourceRec::from(resource)),
    )];
    if new {
        writes.push(super::id_mark_write(
            keys::IdKind::Resource,
            u64::from(resource.store.get()),
            resource.id.0 & u64::from(u32::MAX),
        ));
    }
    writes
}

/// A resource moved to the recycle bin: the record it held, and its deletion.
pub fn binned_resource(resource: &Resource) -> (BinRecords, Write) {
    let key = keys::id8(keys::TAG_RESOURCE, resource.id.0);
    let held = vec![(key.clone(), codec::encode(&ResourceRec::from(resource)))];
    (held, Write::delete(key))
}

/// The resource a bin entry's record holds.
pub fn resource_of_bin_record(value: &[u8]) -> Result<ResourceRec, CodecError> {
    codec::decode(value)
}

/// The highest sequences a store's scheduler has issued, from disk.
pub struct ScheduleMarks {
    pub booking: u32,
    pub plan: u32,
    pub resource: u32,
}

impl Storage {
    /// What `store`'s scheduler has issued: the highest key present, or for resources the
    /// mark a deleted one left, whichever is higher.
    pub fn schedule_marks(&self, store: StoreId) -> Result<ScheduleMarks, StorageError> {
        Ok(ScheduleMarks {
            booking: self.last_store_seq(keys::TAG_BOOKING, store)?,
            plan: self.last_store_seq(keys::TAG_PLAN, store)?,
            resource: self.last_store_seq(keys::TAG_RESOURCE, store)?.max(
                u32::try_from(self.id_mark(keys::IdKind::Resource, u64::from(store.get()))?)
                    .unwrap_or(u32::MAX),
            ),
        })
    }
}
