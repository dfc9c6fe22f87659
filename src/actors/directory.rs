//! The chain's directory: creates stores (and their ledger actors) and registers members,
//! keeping phone numbers unique across the chain. One actor, so two registrations of one
//! phone are serialized without a lock.

use std::collections::HashMap;
use std::sync::Arc;

use actix::{Actor, ActorFutureExt, AtomicResponse, Context, Handler, Message, WrapFuture};

use super::pending::Pending;
use super::registry::Registry;
use super::writer::{begin, begin_meta, Writer, Writes};
use super::{ActorError, WriteMeta, WriteResult};
use crate::domain::booking::{BookingMode, ResourceKind, Service, ServiceId};
use crate::domain::closing::{Deltas, Figure};
use crate::domain::counter::CatalogChange;
use crate::domain::follow_up::{Channel, FollowUp};
use crate::domain::idempotency::{Outcome, Request};
use crate::domain::ids::{IdempotencyKey, MemberId, Name, Phone, StoreId, STORE_ID_MAX};
use crate::domain::member::{Member, MemberEdit, Profile, Store};
use crate::domain::oplog::Audit;
use crate::domain::recycle::{BinEntry, BinKind};
use crate::storage::codec::CodecError;
use crate::storage::directory_writes;
use crate::storage::recycle::{bin_key, bin_write};
use crate::storage::{StorageError, Write};

#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct CreateStore {
    pub key: IdempotencyKey,
    pub audit: Audit,
    pub name: Name,
    pub time_zone: chrono_tz::Tz,
}

#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct RegisterMember {
    pub key: IdempotencyKey,
    pub audit: Audit,
    pub phone: Phone,
    pub name: Name,
    pub home: StoreId,
}

pub struct Directory {
    pub(super) registry: Arc<Registry>,
    /// Journal origin and idempotency keys in flight.
    pub(super) writer: Writer,
    last_store: u32,
    last_service: u64,
    last_credential: u64,
    /// Highest member sequence issued per store, loaded from disk on first use.
    last_member: HashMap<StoreId, u32>,
    phones: Pending<Phone, MemberId>,
    /// Members edited or restored but not durable yet: the next edit starts from these.
    members: Pending<MemberId, Member>,
    /// Each member's latest follow-up while not durable: the next one follows it.
    follow_ups: Pending<MemberId, FollowUp>,
    /// Services written but not durable yet (with their deleted flag): a later change
    /// must start from these, not from the older record on disk.
    services: Pending<ServiceId, (Service, bool)>,
    /// Bin entries restored but not durably gone yet: a second restore would write the
    /// binned records over changes made since.
    restored: Pending<(BinKind, u64), ()>,
    /// Credentials issued or revoked but not durable yet: an employee's leaving revokes
    /// keys issued a moment before.
    pub(super) credentials: Pending<u64, crate::domain::access::Credential>,
    /// Sign-in codes sent or guessed at but not durable yet, by phone.
    pub(super) codes: Pending<Phone, crate::domain::member_session::PhoneCodes>,
    /// Sessions opened (true) or ended (false) but not durable yet: staff signing a member
    /// out end the ones in flight too.
    pub(super) sessions: Pending<crate::domain::member_session::TokenHash, (MemberId, bool)>,
    /// Last id of the notifications this actor wrote per store (sign-in codes), loaded
    /// from disk on first use.
    pub(super) last_notice: HashMap<StoreId, u32>,
}

impl Actor for Directory {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        actix::AsyncContext::run_interval(ctx, PURGE_INTERVAL, |act, _| {
            if let Err(e) = act.purge() {
                tracing::error!(error = %e, "purging the recycle bin");
            }
        });
    }
}

impl Writes for Directory {
    fn writer(&mut self) -> &mut Writer {
        &mut self.writer
    }

    fn prune_pending(&mut self, durable: u64) {
        self.phones.prune(durable);
        self.members.prune(durable);
        self.follow_ups.prune(durable);
        self.services.prune(durable);
        self.restored.prune(durable);
        self.credentials.prune(durable);
        self.codes.prune(durable);
        self.sessions.prune(durable);
    }
}

/// How often expired recycle-bin entries are purged.
pub const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3_600);

impl Directory {
    pub fn new(
        registry: Arc<Registry>,
        last_store: u32,
        last_service: u64,
        last_credential: u64,
    ) -> Directory {
        let writer = Writer::new(&registry, registry.journal.log(), None);
        Directory {
            registry,
            writer,
            last_store,
            last_service,
            last_credential,
            last_member: HashMap::new(),
            phones: Pending::default(),
            members: Pending::default(),
            follow_ups: Pending::default(),
            services: Pending::default(),
            restored: Pending::default(),
            credentials: Pending::default(),
            codes: Pending::default(),
            sessions: Pending::default(),
            last_notice: HashMap::new(),
        }
    }

    /// A service as this actor last wrote it: pending first, then disk.
    fn service(&self, id: ServiceId) -> Result<Option<(Service, bool)>, StorageError> {
        if let Some((_, s)) = self.services.get(&id) {
            return Ok(Some(s.clone()));
        }
        self.registry.storage.service(id)
    }

    /// Writes a service (create, change, delete or restore) and remembers it until durable.
    fn service_write(&mut self, s: &Service, deleted: bool) -> Write {
        self.services
            .insert(self.writer.next_seq(), s.id, (s.clone(), deleted));
        directory_writes::service(s, deleted)
    }

    /// A bin entry from disk, unless a restore of it is already in flight.
    fn bin_entry(&self, kind: BinKind, id: u64) -> Result<Option<BinEntry>, StorageError> {
        if self.restored.get(&(kind, id)).is_some() {
            return Ok(None);
        }
        self.registry.storage.bin_entry(kind, id)
    }

    pub(super) fn phone_owner(&self, phone: &Phone) -> Result<Option<MemberId>, StorageError> {
        if let Some((_, id)) = self.phones.get(phone) {
            return Ok(Some(*id));
        }
        self.registry.storage.member_by_phone(phone)
    }

    /// A member as this actor last wrote it: pending first, then disk.
    pub(super) fn member(&self, id: MemberId) -> Result<Option<Member>, StorageError> {
        if let Some((_, m)) = self.members.get(&id) {
            return Ok(Some(m.clone()));
        }
        self.registry.storage.member(id)
    }

    /// A member's latest follow-up: pending first, then disk.
    pub(super) fn latest_follow_up(&self, id: MemberId) -> Result<Option<FollowUp>, StorageError> {
        match self.follow_ups.get(&id) {
            Some((_, f)) => Ok(Some(f.clone())),
            None => self.registry.storage.latest_follow_up(id),
        }
    }

    fn next_member(&mut self, home: StoreId) -> Result<Option<MemberId>, StorageError> {
        let last = match self.last_member.get(&home) {
            Some(n) => *n,
            // A deleted member's key is gone, its mark is not.
            None => self.registry.storage.member_mark(home)?,
        };
        let Some(next) = last.checked_add(1) else {
            return Ok(None);
        };
        self.last_member.insert(home, next);
        Ok(Some(MemberId::new(home, next)))
    }
}

impl Handler<CreateStore> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: CreateStore, _ctx: &mut Context<Self>) -> WriteResult {
        let request = Request::CreateStore {
            name: msg.name.clone(),
            time_zone: msg.time_zone,
        };
        if let Some(answer) = begin(self, &msg.key, &request)? {
            return Ok(answer);
        }
        if self.last_store >= STORE_ID_MAX {
            return Err(ActorError::Exhausted("store ids"));
        }
        let id = StoreId::new(self.last_store + 1).expect("bounded by STORE_ID_MAX");
        let time_zone = msg.time_zone;
        let store = Store {
            id,
            name: msg.name,
            time_zone,
            created_at: self.registry.clock.now(),
        };
        let writes = vec![directory_writes::store(&store)];
        let answer = self.writer.commit(
            msg.key,
            request,
            &msg.audit,
            Outcome::StoreCreated(store),
            writes,
        );
        // Safe before durability: anything routed to the new actor is journaled after this.
        self.registry.start_store(id, time_zone, Vec::new())?;
        self.registry
            .start_scheduler(id, time_zone, super::scheduler::SchedulerState::empty());
        self.last_store = id.get();
        Ok(answer)
    }
}

impl Handler<RegisterMember> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: RegisterMember, _ctx: &mut Context<Self>) -> WriteResult {
        let request = Request::RegisterMember {
            phone: msg.phone.clone(),
            name: msg.name.clone(),
            home: msg.home,
        };
        if let Some(answer) = begin(self, &msg.key, &request)? {
            return Ok(answer);
        }
        if !self.registry.has_store(msg.home) {
            return Err(ActorError::StoreNotFound(msg.home.get()));
        }
        if let Some(owner) = self.phone_owner(&msg.phone)? {
            return Ok(self.writer.commit(
                msg.key,
                request,
                &msg.audit,
                Outcome::PhoneTaken(owner),
                Vec::new(),
            ));
        }
        let id = self
            .next_member(msg.home)?
            .ok_or(ActorError::Exhausted("member ids of this store"))?;
        let member = Member {
            id,
            phone: msg.phone,
            name: msg.name,
            created_at: self.registry.clock.now(),
            profile: Profile {
                fields: crate::domain::member_fields::defaults(
                    &self.registry.catalog().member_fields,
                ),
                ..Profile::default()
            },
        };
        let mut new_member = Deltas::default();
        let day = self.registry.count_day(msg.home, member.created_at);
        new_member.add(msg.home, day, Figure::NewMembers, 1);
        let mut writes = directory_writes::member_registered(&member);
        writes.extend(crate::storage::closing::figure_writes(&new_member));
        self.phones
            .insert(self.writer.next_seq(), member.phone.clone(), id);
        Ok(self.writer.commit(
            msg.key,
            request,
            &msg.audit,
            Outcome::MemberRegistered(member),
            writes,
        ))
    }
}

/// Change a member's profile: phone (unique across the chain), name, gender, birthday,
/// notes, tags.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct EditMember {
    pub meta: WriteMeta,
    pub member: MemberId,
    pub edit: MemberEdit,
}

impl Handler<EditMember> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: EditMember, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let id = msg.member;
        let old = self
            .member(id)?
            .ok_or(ActorError::MemberNotFound(id.get()))?;
        let today = self
            .registry
            .business_day(self.registry.home_of(id), self.registry.clock.now());
        let new = msg
            .edit
            .apply(&old, today, &self.registry.catalog().member_fields)?;
        if new.phone != old.phone {
            match self.phone_owner(&new.phone)? {
                Some(owner) if owner != id => {
                    let outcome = Outcome::PhoneTaken(owner);
                    return Ok(self.writer.commit_meta(msg.meta, outcome, Vec::new()));
                }
                _ => self
                    .phones
                    .insert(self.writer.next_seq(), new.phone.clone(), id),
            }
        }
        let writes = crate::storage::members::edited(&old, &new);
        self.members.insert(self.writer.next_seq(), id, new.clone());
        Ok(self.writer.commit_meta_in(
            msg.meta,
            Some(self.registry.home_of(id)),
            Outcome::MemberEdited(new),
            writes,
        ))
    }
}

/// Record a follow-up visit (回访) of a member, and when to contact them next.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct RecordFollowUp {
    pub meta: WriteMeta,
    pub member: MemberId,
    pub store: StoreId,
    pub channel: Channel,
    /// Checked by `domain::follow_up::check`.
    pub note: String,
    pub next_on: Option<chrono::NaiveDate>,
}

impl Handler<RecordFollowUp> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: RecordFollowUp, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let id = msg.member;
        self.member(id)?
            .ok_or(ActorError::MemberNotFound(id.get()))?;
        let before = self.latest_follow_up(id)?;
        let seq = before.as_ref().map_or(0, |f| f.seq) + 1;
        let f = FollowUp {
            member: id,
            seq,
            at: self.registry.clock.now(),
            store: msg.store,
            credential: msg.meta.audit.credential.0,
            channel: msg.channel,
            note: msg.note,
            next_on: msg.next_on,
        };
        let home = self.registry.home_of(id);
        let writes = crate::storage::follow_ups::recorded(before.as_ref(), &f, home);
        self.follow_ups
            .insert(self.writer.next_seq(), id, f.clone());
        Ok(self.writer.commit_meta_in(
            msg.meta,
            Some(msg.store),
            Outcome::FollowUp(Box::new(f)),
            writes,
        ))
    }
}

/// Move a member to the recycle bin. The directory hands its latest record to the home
/// ledger, which checks that nothing of value is left and writes the move; the directory
/// waits for that write to be durable, so no edit can put the member's records back.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct BinMember {
    pub meta: WriteMeta,
    pub member: MemberId,
}

impl Handler<BinMember> for Directory {
    type Result = AtomicResponse<Self, WriteResult>;

    fn handle(&mut self, msg: BinMember, _ctx: &mut Context<Self>) -> Self::Result {
        let record = match self.member(msg.member) {
            Ok(r) => r,
            Err(e) => return AtomicResponse::new(Box::pin(actix::fut::ready(Err(e.into())))),
        };
        // The ledger writes through its own lane: this actor's edits must land first.
        let own = self.writer.ticket_for_latest();
        let ledger = self.registry.store(self.registry.home_of(msg.member));
        let bin = super::store_ledger::BinMember {
            meta: msg.meta,
            member: msg.member,
            record,
        };
        let done = async move {
            own.durable().await.map_err(|_| ActorError::Unavailable)?;
            let ledger = ledger.ok_or(ActorError::MemberNotFound(bin.member.get()))?;
            super::written(&ledger, bin).await
        };
        AtomicResponse::new(Box::pin(done.into_actor(self).map(|value, act, _| {
            Ok(super::Durable {
                value: value?,
                ticket: act.writer.ticket(0),
            })
        })))
    }
}

/// Create (`id: None`) or update a chain-wide service. Its booking mode can't change.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct PutService {
    pub meta: WriteMeta,
    pub id: Option<ServiceId>,
    pub name: Name,
    pub duration_minutes: u32,
    pub mode: BookingMode,
    pub resource_kinds: Vec<ResourceKind>,
    pub requires_review: bool,
}

#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct DeleteService {
    pub meta: WriteMeta,
    pub id: ServiceId,
}

/// HQ advanced settings: the chain-wide service-plan switch.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct SetSettings {
    pub meta: WriteMeta,
    pub plans_enabled: bool,
}

impl Handler<PutService> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: PutService, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let id = match msg.id {
            Some(id) => {
                match self.service(id)? {
                    Some((existing, false)) if existing.mode != msg.mode => {
                        return Err(ActorError::ModeImmutable)
                    }
                    Some((_, false)) => {}
                    _ => return Err(ActorError::NotFound(format!("service {}", id.0))),
                }
                id
            }
            None => {
                self.last_service += 1;
                ServiceId(self.last_service)
            }
        };
        let service = Service {
            id,
            name: msg.name,
            duration_minutes: msg.duration_minutes,
            mode: msg.mode,
            resource_kinds: msg.resource_kinds,
            requires_review: msg.requires_review,
        };
        let mut writes = vec![self.service_write(&service, false)];
        if msg.id.is_none() {
            writes.push(directory_writes::service_mark(id));
        }
        Ok(self
            .writer
            .commit_meta(msg.meta, Outcome::Service(service), writes))
    }
}

impl Handler<DeleteService> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: DeleteService, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let Some((service, false)) = self.service(msg.id)? else {
            return Err(ActorError::NotFound(format!("service {}", msg.id.0)));
        };
        // The record stays, flagged, so history can still name it; the bin entry makes it
        // restorable until the retention ends.
        let bin = BinEntry::new(
            BinKind::Service,
            msg.id.0,
            service.name.as_str(),
            self.registry.clock.now(),
            msg.meta.audit.credential.0,
        );
        let writes = vec![self.service_write(&service, true), bin_write(&bin)];
        Ok(self
            .writer
            .commit_meta(msg.meta, Outcome::Service(service), writes))
    }
}

impl Handler<SetSettings> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: SetSettings, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let writes = vec![directory_writes::settings(msg.plans_enabled)];
        Ok(self.writer.commit_meta(
            msg.meta,
            Outcome::Settings {
                plans_enabled: msg.plans_enabled,
            },
            writes,
        ))
    }
}

/// Issue an API key: the API made the key and sends only its hash.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct CreateCredential {
    pub meta: WriteMeta,
    pub name: Name,
    pub role: crate::domain::access::Role,
    pub key_hash: [u8; 32],
    /// The employee the key is for: revoked when they leave.
    pub employee: Option<crate::domain::staff::EmployeeId>,
}

/// Revoke an API key; it stops working with the next request.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct RevokeCredential {
    pub meta: WriteMeta,
    pub id: u64,
}

impl Handler<CreateCredential> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: CreateCredential, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let id = self.last_credential + 1;
        if let crate::domain::access::Role::Custom { name, .. } = &msg.role {
            if !self.registry.catalog().roles.contains_key(name) {
                return Err(ActorError::NotFound(format!("role {name}")));
            }
        }
        let linked = match msg.employee {
            Some(e) => {
                let catalog = self.registry.catalog();
                let employee = catalog
                    .staff
                    .get(e)
                    .ok_or_else(|| ActorError::NotFound(format!("employee {}", e.0)))?;
                Some(employee.link_key(id, msg.role.stores().unwrap_or_default())?)
            }
            None => None,
        };
        self.last_credential = id;
        let credential = crate::domain::access::Credential {
            id: crate::domain::access::CredentialId(id),
            name: msg.name,
            role: msg.role,
            revoked: false,
            created_at: self.registry.clock.now(),
            key_hash: msg.key_hash,
        };
        let mut writes = directory_writes::credential(&credential);
        writes.extend(linked.iter().map(directory_writes::employee));
        self.credentials
            .insert(self.writer.next_seq(), id, credential.clone());
        let answer = self
            .writer
            .commit_meta(msg.meta, Outcome::Credential(credential), writes);
        if let Some(employee) = linked {
            let mut catalog = (*self.registry.catalog()).clone();
            catalog.staff.put(employee);
            self.registry.publish_catalog(catalog);
        }
        Ok(answer)
    }
}

impl Directory {
    /// A credential as this actor last wrote it: pending first, then disk.
    pub(super) fn credential(
        &self,
        id: u64,
    ) -> Result<Option<crate::domain::access::Credential>, ActorError> {
        if let Some((_, c)) = self.credentials.get(&id) {
            return Ok(Some(c.clone()));
        }
        self.registry
            .storage
            .credential_by_id(id)?
            .map(|rec| {
                rec.try_into()
                    .map_err(|e: CodecError| ActorError::Invalid(e.to_string()))
            })
            .transpose()
    }

    /// How many keys not revoked hold role `name`, those in flight included.
    fn holders_of(&self, name: &str) -> Result<usize, ActorError> {
        // Each key as last written: in flight over disk, those not on disk yet included.
        let mut holds: HashMap<u64, bool> = HashMap::new();
        for rec in self.registry.storage.credentials()? {
            holds.insert(rec.id, rec.role == name && !rec.revoked);
        }
        for c in self.credentials.values() {
            holds.insert(c.id.0, c.role.name() == name && !c.revoked);
        }
        Ok(holds.values().filter(|h| **h).count())
    }

    /// The writes that revoke credential `id`, remembered until durable.
    pub(super) fn revoke(
        &mut self,
        id: u64,
    ) -> Result<Option<(crate::domain::access::Credential, Vec<Write>)>, ActorError> {
        let Some(mut credential) = self.credential(id)? else {
            return Ok(None);
        };
        credential.revoked = true;
        let writes = directory_writes::credential(&credential);
        self.credentials
            .insert(self.writer.next_seq(), id, credential.clone());
        Ok(Some((credential, writes)))
    }
}

impl Handler<RevokeCredential> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: RevokeCredential, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let (credential, writes) = self
            .revoke(msg.id)?
            .ok_or_else(|| ActorError::NotFound(format!("credential {}", msg.id)))?;
        Ok(self
            .writer
            .commit_meta(msg.meta, Outcome::Credential(credential), writes))
    }
}

#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct ChangeCatalog {
    pub meta: WriteMeta,
    pub change: CatalogChange,
}

impl Handler<ChangeCatalog> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: ChangeCatalog, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let mut catalog = (*self.registry.catalog()).clone();
        let invalid = |e: String| ActorError::Invalid(e);
        let mut change = msg.change;
        match &mut change {
            CatalogChange::Level(level) => {
                catalog
                    .levels
                    .put(level.clone())
                    .map_err(|e| invalid(e.to_string()))?;
            }
            CatalogChange::Override {
                store,
                level,
                rules,
            } => {
                if !self.registry.has_store(*store) {
                    return Err(ActorError::StoreNotFound(store.get()));
                }
                catalog
                    .levels
                    .put_override(*store, *level, rules.clone())
                    .map_err(|e| ActorError::NotFound(format!("level {}: {e}", level.0)))?;
            }
            CatalogChange::CouponTemplate(t) => {
                catalog.coupons.insert(t.id, t.clone());
            }
            CatalogChange::Gift(g) => {
                if !catalog.gifts.contains_key(&g.id)
                    && catalog.gifts.len() >= crate::domain::gift::GIFTS_MAX
                {
                    return Err(ActorError::Exhausted("gift definitions"));
                }
                catalog.gifts.insert(g.id, g.clone());
            }
            CatalogChange::MessageTemplate(t) => {
                catalog.templates.insert(t.event, t.clone());
            }
            CatalogChange::Webhook(url) => {
                catalog.webhook = url.clone();
            }
            CatalogChange::MemberField(f) => {
                f.check()?;
                catalog.member_fields.insert(f.id, f.clone());
            }
            CatalogChange::Role(r) => {
                if !catalog.roles.contains_key(&r.name)
                    && catalog.roles.len() >= crate::domain::access::ROLES_MAX
                {
                    return Err(ActorError::Exhausted("role definitions"));
                }
                catalog.roles.insert(r.name.clone(), r.clone());
            }
            CatalogChange::Item(item) => {
                let prices = std::sync::Arc::make_mut(&mut catalog.prices);
                **item = prices.put((**item).clone())?;
            }
            CatalogChange::ItemOverride {
                item,
                store,
                store_item,
            } => {
                if !self.registry.has_store(*store) {
                    return Err(ActorError::StoreNotFound(store.get()));
                }
                let prices = std::sync::Arc::make_mut(&mut catalog.prices);
                *store_item =
                    prices.put_override(*item, *store, store_item.price, store_item.available)?;
            }
            CatalogChange::RoleRemoved(name) => {
                if catalog.roles.remove(name).is_none() {
                    return Err(ActorError::NotFound(format!("role {name}")));
                }
                let holders = self.holders_of(name)?;
                if holders > 0 {
                    return Err(
                        crate::domain::access::RoleError::InUse(name.clone(), holders).into(),
                    );
                }
            }
        }
        let writes = directory_writes::catalog_change(&change);
        let answer = self
            .writer
            .commit_meta(msg.meta, Outcome::Catalog(Box::new(change)), writes);
        // Safe before durability: operations that read it are journaled after this.
        self.registry.publish_catalog(catalog);
        Ok(answer)
    }
}

/// Move a gift or coupon template of the catalog to the recycle bin.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct BinCatalogItem {
    pub meta: WriteMeta,
    pub kind: BinKind,
    pub id: u32,
}

impl Handler<BinCatalogItem> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: BinCatalogItem, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let mut catalog = (*self.registry.catalog()).clone();
        let not_found = || ActorError::NotFound(format!("{} {}", msg.kind.name(), msg.id));
        let (key, value, label) = match msg.kind {
            BinKind::Gift => {
                let g = catalog
                    .gifts
                    .remove(&crate::domain::gift::GiftId(msg.id))
                    .ok_or_else(not_found)?;
                let (key, value) = directory_writes::gift_record(&g);
                (key, value, g.name.as_str().to_owned())
            }
            BinKind::CouponTemplate => {
                let t = catalog
                    .coupons
                    .remove(&crate::domain::coupon::TemplateId(msg.id))
                    .ok_or_else(not_found)?;
                let (key, value) = directory_writes::coupon_record(&t);
                (key, value, t.name.clone())
            }
            _ => return Err(not_found()),
        };
        let bin = BinEntry::new(
            msg.kind,
            u64::from(msg.id),
            label,
            self.registry.clock.now(),
            msg.meta.audit.credential.0,
        )
        .holding(vec![(key.clone(), value)]);
        let answer = self.writer.commit_meta(
            msg.meta,
            Outcome::Binned(msg.kind, u64::from(msg.id)),
            vec![Write::delete(key), bin_write(&bin)],
        );
        self.registry.publish_catalog(catalog);
        Ok(answer)
    }
}

/// Put a service, gift or coupon template back from the recycle bin.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct RestoreChainItem {
    pub meta: WriteMeta,
    pub kind: BinKind,
    pub id: u64,
}

impl Handler<RestoreChainItem> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: RestoreChainItem, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let not_found =
            || ActorError::NotFound(format!("{} {} in the recycle bin", msg.kind.name(), msg.id));
        let entry = self.bin_entry(msg.kind, msg.id)?.ok_or_else(not_found)?;
        entry.check_restore(self.registry.bin_retention_days, self.registry.clock.now())?;
        let invalid = |e: CodecError| ActorError::Invalid(e.to_string());
        let mut catalog = (*self.registry.catalog()).clone();
        let mut writes = vec![Write::delete(bin_key(msg.kind, msg.id))];
        match msg.kind {
            BinKind::Service => {
                let Some((service, true)) = self.service(ServiceId(msg.id))? else {
                    return Err(not_found());
                };
                writes.push(self.service_write(&service, false));
            }
            BinKind::Gift | BinKind::CouponTemplate => {
                let (key, value) = entry.records.first().cloned().ok_or_else(not_found)?;
                if msg.kind == BinKind::Gift {
                    let g = directory_writes::gift_of_bin_record(&value).map_err(invalid)?;
                    catalog.gifts.insert(g.id, g);
                } else {
                    let t = directory_writes::coupon_of_bin_record(&value).map_err(invalid)?;
                    catalog.coupons.insert(t.id, t);
                }
                writes.push(Write::put(key, value));
            }
            BinKind::Member | BinKind::Resource => return Err(not_found()),
        }
        self.restored
            .insert(self.writer.next_seq(), (msg.kind, msg.id), ());
        let answer = self
            .writer
            .commit_meta(msg.meta, Outcome::Restored(msg.kind, msg.id), writes);
        self.registry.publish_catalog(catalog);
        Ok(answer)
    }
}

/// Put a member back from the recycle bin. The directory does it, not the home ledger,
/// because it owns phone uniqueness: a registration of the same phone still in flight is
/// seen here. The ledger holds nothing of a binned member (see `StoreLedger::account`), so
/// it loads the account from disk once this is durable.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct RestoreMember {
    pub meta: WriteMeta,
    pub member: MemberId,
}

impl Handler<RestoreMember> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: RestoreMember, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let home = self.registry.home_of(msg.member);
        let not_found =
            || ActorError::NotFound(format!("member {} in the recycle bin", msg.member.get()));
        let entry = self
            .bin_entry(BinKind::Member, msg.member.get())?
            .filter(|e| e.store == Some(home))
            .ok_or_else(not_found)?;
        entry.check_restore(self.registry.bin_retention_days, self.registry.clock.now())?;
        let (_, mvalue) = entry.records.first().ok_or_else(not_found)?;
        let rec = directory_writes::member_of_bin_record(mvalue)
            .map_err(|e| ActorError::Invalid(e.to_string()))?;
        let phone = Phone::new(&rec.phone).map_err(|e| ActorError::Invalid(e.to_string()))?;
        match self.phone_owner(&phone)? {
            // A restore of this member already in flight.
            Some(owner) if owner == msg.member => return Err(not_found()),
            Some(_) => {
                return Err(crate::domain::recycle::RecycleError::PhoneTaken(rec.phone).into())
            }
            None => {}
        }
        let mut writes: Vec<Write> = entry
            .records
            .iter()
            .map(|(k, v)| Write::put(k.clone(), v.clone()))
            .collect();
        writes.push(Write::delete(bin_key(BinKind::Member, msg.member.get())));
        let member = crate::storage::members::member_of_records(&entry.records)
            .map_err(|e| ActorError::Invalid(e.to_string()))?;
        self.phones
            .insert(self.writer.next_seq(), phone, msg.member);
        self.members
            .insert(self.writer.next_seq(), msg.member, member);
        self.restored.insert(
            self.writer.next_seq(),
            (BinKind::Member, msg.member.get()),
            (),
        );
        let outcome = Outcome::Restored(BinKind::Member, msg.member.get());
        Ok(self
            .writer
            .commit_meta_in(msg.meta, Some(home), outcome, writes))
    }
}

/// Purge expired recycle-bin entries now (also run every `PURGE_INTERVAL`).
#[derive(Debug, Message)]
#[rtype(result = "Result<crate::storage::Ticket, ActorError>")]
pub struct PurgeBin;

impl Handler<PurgeBin> for Directory {
    type Result = Result<crate::storage::Ticket, ActorError>;

    fn handle(&mut self, _: PurgeBin, _ctx: &mut Context<Self>) -> Self::Result {
        self.purge()
    }
}

impl Directory {
    /// Deletes every expired bin entry, and a purged service's record. Safe beside other
    /// owners' writes: an expired entry can never be restored, so nobody else touches it.
    fn purge(&mut self) -> Result<crate::storage::Ticket, ActorError> {
        let now = self.registry.clock.now();
        let retention = self.registry.bin_retention_days;
        let mut writes = Vec::new();
        let mut purged = 0;
        for e in self.registry.storage.bin_entries(None)? {
            if !e.expired(retention, now) {
                continue;
            }
            writes.push(Write::delete(bin_key(e.kind, e.id)));
            if e.kind == BinKind::Service {
                writes.push(directory_writes::service_purged(e.id));
            }
            purged += 1;
        }
        if writes.is_empty() {
            return Ok(self.writer.ticket_for_latest());
        }
        tracing::info!(purged, "recycle bin purged");
        Ok(self.writer.submit(writes))
    }
}

impl Handler<super::closing::Barrier> for Directory {
    type Result = actix::MessageResult<super::closing::Barrier>;

    fn handle(&mut self, _: super::closing::Barrier, _: &mut Self::Context) -> Self::Result {
        actix::MessageResult(self.writer.ticket_for_latest())
    }
}
