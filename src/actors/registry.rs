//! Routing: store id to the address of its ledger actor, and the arbiters actors run on.
//! A lock-free skip list: read by every request, written once per store creation.

use std::sync::Arc;

use actix::{Actor, Addr, ArbiterHandle};
use crossbeam_skiplist::{SkipMap, SkipSet};

use super::scheduler::{SchedulerState, StoreScheduler};
use super::store_ledger::StoreLedger;
use crate::clock::Clock;
use crate::domain::closing::{BusinessDay, Deltas};
use crate::domain::counter::Catalog;
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::ledger::{StoreAccount, Timestamp};
use crate::domain::money::Money;
use crate::storage::{Journal, Storage};

pub struct Registry {
    stores: SkipMap<StoreId, Addr<StoreLedger>>,
    zones: SkipMap<StoreId, chrono_tz::Tz>,
    /// HQ's levels and coupon templates, replaced whole by the directory on each change.
    catalog: SkipMap<(), Arc<Catalog>>,
    schedulers: SkipMap<StoreId, Addr<StoreScheduler>>,
    /// Members whose home is not the store that registered them, once the move is durable.
    /// Published only by the directory; read by every route to a member's ledger.
    homes: SkipMap<MemberId, StoreId>,
    /// Business days closed early by hand: writes that would add to their figures are
    /// refused. Inserted only by the closing actor, before it waits for in-flight writes.
    closed_days: SkipSet<(StoreId, BusinessDay)>,
    pub reminder_lead: chrono::Duration,
    /// How long a waitlist offer holds its slot (`scheduling.waitlist_offer_minutes`).
    pub waitlist_offer: chrono::Duration,
    /// Days a deleted object stays restorable (`recycle_bin.retention_days`).
    pub bin_retention_days: u32,
    arbiters: Vec<ArbiterHandle>,
    pub storage: Storage,
    pub journal: Journal,
    pub clock: Arc<dyn Clock>,
    pub gauges: ActorGauges,
}

/// Closed days a count skips at most (`count_day`): a store closes today by hand, never
/// days ahead, so one is enough; the bound keeps the loop finite.
pub const COUNT_DAY_SKIP_MAX: usize = 7;

/// What the actors hold in memory, for `/metrics`.
#[derive(Clone)]
pub struct ActorGauges {
    pub accounts: prometheus::IntGauge,
    pub resources: prometheus::IntGauge,
}

impl ActorGauges {
    fn new() -> ActorGauges {
        let gauge =
            |name: &str, help: &str| prometheus::IntGauge::new(name, help).expect("valid gauge");
        ActorGauges {
            accounts: gauge(
                "accounts_in_memory",
                "Member accounts loaded into ledger actors",
            ),
            resources: gauge("resources_in_memory", "Resource actors running"),
        }
    }

    pub fn register(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.accounts.clone()))?;
        registry.register(Box::new(self.resources.clone()))
    }
}

impl Registry {
    pub fn new(
        arbiters: Vec<ArbiterHandle>,
        storage: Storage,
        journal: Journal,
        clock: Arc<dyn Clock>,
        reminder_lead: chrono::Duration,
        waitlist_offer: chrono::Duration,
        bin_retention_days: u32,
    ) -> Arc<Registry> {
        assert!(!arbiters.is_empty());
        Arc::new(Registry {
            stores: SkipMap::new(),
            zones: SkipMap::new(),
            catalog: SkipMap::new(),
            schedulers: SkipMap::new(),
            homes: SkipMap::new(),
            closed_days: SkipSet::new(),
            reminder_lead,
            waitlist_offer,
            bin_retention_days,
            arbiters,
            storage,
            journal,
            clock,
            gauges: ActorGauges::new(),
        })
    }

    pub fn store(&self, id: StoreId) -> Option<Addr<StoreLedger>> {
        self.stores.get(&id).map(|e| e.value().clone())
    }

    /// The member's home store: the ledger that owns the account.
    pub fn home_of(&self, member: MemberId) -> StoreId {
        if self.homes.is_empty() {
            return member.origin();
        }
        self.homes
            .get(&member)
            .map_or(member.origin(), |e| *e.value())
    }

    /// Publishes a member's durable move to `home`.
    pub fn publish_home(&self, member: MemberId, home: StoreId) {
        if home == member.origin() {
            self.homes.remove(&member);
        } else {
            self.homes.insert(member, home);
        }
    }

    pub fn scheduler(&self, id: StoreId) -> Option<Addr<StoreScheduler>> {
        self.schedulers.get(&id).map(|e| e.value().clone())
    }

    pub fn ledgers(&self) -> Vec<Addr<StoreLedger>> {
        self.stores.iter().map(|e| e.value().clone()).collect()
    }

    pub fn store_ids(&self) -> Vec<StoreId> {
        self.stores.iter().map(|e| *e.key()).collect()
    }

    pub fn schedulers(&self) -> Vec<Addr<StoreScheduler>> {
        self.schedulers.iter().map(|e| e.value().clone()).collect()
    }

    /// Starts the scheduler of `store` over its recovered state.
    pub fn start_scheduler(
        self: &Arc<Self>,
        store: StoreId,
        tz: chrono_tz::Tz,
        state: SchedulerState,
    ) {
        let arbiter = &self.arbiters[(store.get() as usize + 1) % self.arbiters.len()];
        let registry = self.clone();
        let lead = self.reminder_lead;
        let addr = StoreScheduler::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(super::MAILBOX_CAPACITY);
            StoreScheduler::new(store, tz, registry, lead, state)
        });
        self.schedulers.insert(store, addr);
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .get(&())
            .map(|e| e.value().clone())
            .unwrap_or_default()
    }

    /// Publishes a new catalog. Only the directory calls this, in the handler that submits
    /// the change; later writes that use it are journaled after it.
    pub fn publish_catalog(&self, catalog: Catalog) {
        self.catalog.insert((), Arc::new(catalog));
    }

    pub fn time_zone(&self, store: StoreId) -> chrono_tz::Tz {
        self.zones
            .get(&store)
            .map_or(chrono_tz::UTC, |e| *e.value())
    }

    /// The zone of a store that exists; a store's zone never changes.
    pub fn zone_of(&self, store: StoreId) -> Option<chrono_tz::Tz> {
        self.zones.get(&store).map(|e| *e.value())
    }

    /// The store's business day at `at`, in its own time zone.
    pub fn business_day(&self, store: StoreId, at: Timestamp) -> BusinessDay {
        at.with_timezone(&self.time_zone(store)).date_naive()
    }

    pub fn day_closed(&self, store: StoreId, day: BusinessDay) -> bool {
        self.closed_days.contains(&(store, day))
    }

    /// The day a count that is not a sale (a registration, a booking's change) lands on:
    /// its business day, or the next day not closed when that one was closed by hand. A
    /// sealed day's figures never move, and such writes are not refused for it.
    pub fn count_day(&self, store: StoreId, at: Timestamp) -> BusinessDay {
        let mut day = self.business_day(store, at);
        for _ in 0..COUNT_DAY_SKIP_MAX {
            if !self.day_closed(store, day) {
                break;
            }
            day = day.succ_opt().unwrap_or(day);
        }
        day
    }

    /// The first of `deltas`' days that is closed, if any.
    pub fn closed_in(&self, deltas: &Deltas) -> Option<(StoreId, BusinessDay)> {
        deltas
            .iter()
            .map(|(k, _)| *k)
            .find(|(s, d)| self.day_closed(*s, *d))
    }

    pub fn mark_closed(&self, store: StoreId, day: BusinessDay) {
        self.closed_days.insert((store, day));
    }

    pub fn has_store(&self, id: StoreId) -> bool {
        self.stores.contains_key(&id)
    }

    pub fn store_count(&self) -> usize {
        self.stores.len()
    }

    /// Starts the ledger actor of `store` with its store-side `book` and makes it routable.
    pub fn start_store(
        self: &Arc<Self>,
        store: StoreId,
        tz: chrono_tz::Tz,
        book: Vec<(StoreAccount, Money)>,
    ) -> Result<(), crate::storage::StorageError> {
        debug_assert!(!self.has_store(store));
        self.zones.insert(store, tz);
        let next_order = self.storage.last_order_seq(store)?.saturating_add(1);
        let last_notification = self
            .storage
            .last_notification_seq(store, crate::domain::notify::Source::Ledger)?;
        let arbiter = &self.arbiters[store.get() as usize % self.arbiters.len()];
        let registry = self.clone();
        let addr = StoreLedger::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(super::MAILBOX_CAPACITY);
            StoreLedger::new(store, registry, book, next_order, last_notification)
        });
        self.stores.insert(store, addr);
        Ok(())
    }

    /// Every arbiter, to serve HTTP on.
    pub fn arbiters(&self) -> Vec<ArbiterHandle> {
        self.arbiters.clone()
    }

    pub fn arbiter(&self, n: usize) -> &ArbiterHandle {
        &self.arbiters[n % self.arbiters.len()]
    }
}
