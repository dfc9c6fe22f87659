//! Durable reads of scheduling state: start-up recovery of each store's scheduler and the
//! read-only routes (events feed, services).

use rocksdb::{Direction, IteratorMode};
use serde::de::DeserializeOwned;

use super::codec::CodecError;
use super::db::{corrupt, decode_at, Storage, StorageError};
use super::keys;
use super::schedule_codec::*;
use std::collections::BTreeMap;

use crate::domain::booking::{Booking, Plan, Resource, Service, ServiceId};
use crate::domain::calendar::BookingId;
use crate::domain::hours::StoreHours;
use crate::domain::ids::StoreId;

impl Storage {
    /// Decoded values of every `tag` key with an id of `store` (ids are `store << 32 | seq`).
    pub(super) fn scan_store<R: DeserializeOwned>(
        &self,
        tag: u8,
        store: StoreId,
    ) -> Result<Vec<R>, StorageError> {
        let lower = keys::id8_store_lower_bound(tag, store);
        let upper = keys::id8_store_upper_bound(tag, store);
        let mut out = Vec::new();
        for item in self
            .db()
            .iterator(IteratorMode::From(&lower, Direction::Forward))
        {
            let (key, value) = item?;
            if key.as_ref() >= upper.as_slice() {
                break;
            }
            out.push(decode_at(&key, &value)?);
        }
        Ok(out)
    }

    /// The highest sequence used under `tag` by `store`, 0 if none.
    pub fn last_store_seq(&self, tag: u8, store: StoreId) -> Result<u32, StorageError> {
        let upper = keys::id8_store_upper_bound(tag, store);
        let lower = keys::id8_store_lower_bound(tag, store);
        let db = self.db();
        let mut it = db.iterator(IteratorMode::From(&upper, Direction::Reverse));
        match it.next().transpose()? {
            Some((key, _))
                if key.len() == 9
                    && key.as_ref() > lower.as_slice()
                    && key.as_ref() < upper.as_slice() =>
            {
                Ok(u64::from_be_bytes(key[1..9].try_into().expect("length checked")) as u32)
            }
            _ => Ok(0),
        }
    }

    pub fn resources_of(&self, store: StoreId) -> Result<Vec<Resource>, StorageError> {
        let recs: Vec<ResourceRec> = self.scan_store(keys::TAG_RESOURCE, store)?;
        recs.into_iter()
            .map(|r| r.try_into().map_err(|e| corrupt(&[keys::TAG_RESOURCE], e)))
            .collect()
    }

    /// A store's plans and every booking: plan occurrences as booked in their plan's
    /// record, overridden by their own `K` record once they changed.
    pub fn plans_and_bookings_of(
        &self,
        store: StoreId,
    ) -> Result<(Vec<Plan>, Vec<Booking>), StorageError> {
        let recs: Vec<BookingRec> = self.scan_store(keys::TAG_BOOKING, store)?;
        let mut bookings: BTreeMap<BookingId, Booking> = BTreeMap::new();
        for r in recs {
            let b = Booking::try_from(r).map_err(|e| corrupt(&[keys::TAG_BOOKING], e))?;
            bookings.insert(b.id, b);
        }
        let recs: Vec<PlanRec> = self.scan_store(keys::TAG_PLAN, store)?;
        let mut plans = Vec::with_capacity(recs.len());
        for r in recs {
            let (plan, booked) = r.into_parts().map_err(|e| corrupt(&[keys::TAG_PLAN], e))?;
            for b in booked {
                bookings.entry(b.id).or_insert(b);
            }
            plans.push(plan);
        }
        Ok((plans, bookings.into_values().collect()))
    }

    pub fn store_hours(&self, store: StoreId) -> Result<StoreHours, StorageError> {
        let key = keys::hours(store);
        match self.get_rec::<StoreHoursRec>(&key)? {
            None => Ok(StoreHours::default()),
            Some(r) => r.try_into().map_err(|e: CodecError| corrupt(&key, e)),
        }
    }

    pub fn reminder_policy(
        &self,
        store: StoreId,
    ) -> Result<crate::domain::reminders::ReminderPolicy, StorageError> {
        Ok(self.get_rec(&keys::reminders(store))?.unwrap_or_default())
    }

    /// A service and whether it was deleted.
    pub fn service(&self, id: ServiceId) -> Result<Option<(Service, bool)>, StorageError> {
        let key = keys::id8(keys::TAG_SERVICE, id.0);
        self.get_rec::<ServiceRec>(&key)?
            .map(|r| r.into_domain().map_err(|e| corrupt(&key, e)))
            .transpose()
    }

    pub fn services(&self) -> Result<Vec<(Service, bool)>, StorageError> {
        let mut out = Vec::new();
        for item in self.db().prefix_iterator([keys::TAG_SERVICE]) {
            let (key, value) = item?;
            if key.first() != Some(&keys::TAG_SERVICE) {
                break;
            }
            let rec: ServiceRec = decode_at(&key, &value)?;
            out.push(rec.into_domain().map_err(|e| corrupt(&key, e))?);
        }
        Ok(out)
    }

    pub fn last_service_id(&self) -> Result<u64, StorageError> {
        Ok(self.services()?.last().map_or(0, |(s, _)| s.id.0))
    }

    pub fn plans_enabled(&self) -> Result<bool, StorageError> {
        Ok(self
            .get_rec::<SettingsRec>(&keys::settings())?
            .is_some_and(|s| s.plans_enabled))
    }

    /// A page of a store's event feed, oldest first, strictly after `after`.
    pub fn events(
        &self,
        store: StoreId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRec>, StorageError> {
        let prefix = keys::event_prefix(store);
        let start = keys::event(store, after.saturating_add(1));
        let mut out = Vec::new();
        for item in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = item?;
            if !key.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            out.push(decode_at(&key, &value)?);
        }
        Ok(out)
    }

    pub fn last_event_seq(&self, store: StoreId) -> Result<u64, StorageError> {
        let prefix = keys::event_prefix(store);
        let upper = keys::event(store, u64::MAX);
        let db = self.db();
        let mut it = db.iterator(IteratorMode::From(&upper, Direction::Reverse));
        match it.next().transpose()? {
            Some((key, value)) if key.starts_with(&prefix) => {
                let rec: EventRec = decode_at(&key, &value)?;
                Ok(rec.seq)
            }
            _ => Ok(0),
        }
    }
}

impl Storage {
    pub fn credential_by_hash(
        &self,
        key_hash: &[u8],
    ) -> Result<Option<CredentialRec>, StorageError> {
        self.get_rec(&keys::credential(key_hash))
    }

    pub fn credential_by_id(&self, id: u64) -> Result<Option<CredentialRec>, StorageError> {
        match self
            .db()
            .get_pinned(keys::id8(keys::TAG_CREDENTIAL_ID, id))?
        {
            Some(hash) => self.credential_by_hash(&hash),
            None => Ok(None),
        }
    }

    pub fn credentials(&self) -> Result<Vec<CredentialRec>, StorageError> {
        let mut out = Vec::new();
        for item in self.db().prefix_iterator([keys::TAG_CREDENTIAL]) {
            let (key, value) = item?;
            if key.first() != Some(&keys::TAG_CREDENTIAL) {
                break;
            }
            out.push(decode_at::<CredentialRec>(&key, &value)?);
        }
        out.sort_by_key(|c| c.id);
        Ok(out)
    }

    pub fn last_credential_id(&self) -> Result<u64, StorageError> {
        let upper = keys::id8(keys::TAG_CREDENTIAL_ID, u64::MAX);
        let db = self.db();
        let mut it = db.iterator(IteratorMode::From(&upper, Direction::Reverse));
        match it.next().transpose()? {
            Some((key, _)) if key.len() == 9 && key[0] == keys::TAG_CREDENTIAL_ID => Ok(
                u64::from_be_bytes(key[1..9].try_into().expect("length checked")),
            ),
            _ => Ok(0),
        }
    }
}
