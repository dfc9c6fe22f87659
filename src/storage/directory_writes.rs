//! The directory's writes: which keys a store, a registered member, a service, the chain's
//! settings, a credential and each kind of catalog change take, how they are encoded, and
//! how the catalog items and members the recycle bin holds are read back. The directory says
//! what changed; this module alone knows the layout.

use super::codec::{self, AccountRec, CodecError, MemberRec, StoreRec};
use super::db::{Storage, StorageError};
use super::journal::Write;
use super::keys;
use super::schedule_codec::{CredentialRec, ServiceRec, SettingsRec};
use crate::domain::access::Credential;
use crate::domain::booking::{Service, ServiceId};
use crate::domain::counter::CatalogChange;
use crate::domain::coupon::CouponTemplate;
use crate::domain::gift::Gift;
use crate::domain::ids::StoreId;
use crate::domain::ledger::Account;
use crate::domain::member::{Member, Store};

pub fn store(store: &Store) -> Write {
    Write::put(keys::store(store.id), codec::encode(&StoreRec::from(store)))
}

/// A new member: its id's mark, its records (`storage::members`) and its empty account.
pub fn member_registered(member: &Member) -> Vec<Write> {
    let id = member.id;
    let mut writes = vec![super::id_mark_write(
        keys::IdKind::Member,
        u64::from(id.origin().get()),
        u64::from(id.seq()),
    )];
    writes.extend(super::members::registered(member));
    writes.push(Write::put(
        keys::account(id),
        AccountRec::from(&Account::open(id)).encode(),
    ));
    writes
}

/// A service, `deleted` while it is in the recycle bin.
pub fn service(s: &Service, deleted: bool) -> Write {
    Write::put(
        keys::id8(keys::TAG_SERVICE, s.id.0),
        codec::encode(&ServiceRec::new(s, deleted)),
    )
}

/// The mark that keeps a new service's id from being issued again.
pub fn service_mark(id: ServiceId) -> Write {
    super::id_mark_write(keys::IdKind::Service, 0, id.0)
}

/// A service purged from the recycle bin (its mark stays).
pub fn service_purged(id: u64) -> Write {
    Write::delete(keys::id8(keys::TAG_SERVICE, id))
}

pub fn settings(plans_enabled: bool) -> Write {
    Write::put(
        keys::settings(),
        codec::encode(&SettingsRec { plans_enabled }),
    )
}

/// A credential under its key's hash, and its id's pointer to that hash.
pub fn credential(c: &Credential) -> Vec<Write> {
    vec![
        Write::put(
            keys::credential(&c.key_hash),
            codec::encode(&CredentialRec::from(c)),
        ),
        Write::put(
            keys::id8(keys::TAG_CREDENTIAL_ID, c.id.0),
            c.key_hash.to_vec(),
        ),
    ]
}

/// The record a catalog change puts.
/// An employee's record: hired, edited or gone, it is kept (history and figures stay).
pub fn employee(e: &crate::domain::staff::Employee) -> Write {
    Write::put(keys::catalog_employee(e.id.0), codec::encode(e))
}

pub fn catalog_change(change: &CatalogChange) -> Vec<Write> {
    let one = match change {
        CatalogChange::Level(level) => {
            Write::put(keys::catalog_level(level.id.0), codec::encode(level))
        }
        CatalogChange::Override {
            store,
            level,
            rules,
        } => Write::put(
            keys::catalog_override(*store, level.0),
            codec::encode(rules),
        ),
        CatalogChange::CouponTemplate(t) => {
            Write::put(keys::catalog_coupon(t.id.0), codec::encode(t))
        }
        CatalogChange::Gift(g) => Write::put(keys::catalog_gift(g.id.0), codec::encode(g)),
        CatalogChange::MessageTemplate(t) => {
            Write::put(super::notify::template_key(t.event), codec::encode(t))
        }
        CatalogChange::Role(r) => Write::put(keys::catalog_role(&r.name), codec::encode(r)),
        CatalogChange::RoleRemoved(name) => Write::delete(keys::catalog_role(name)),
        CatalogChange::Webhook(url) => Write::put(super::notify::webhook_key(), codec::encode(url)),
        CatalogChange::MemberField(f) => {
            Write::put(keys::catalog_member_field(f.id), codec::encode(f))
        }
        CatalogChange::Item(item) => return super::stock::item_writes(item).into(),
        CatalogChange::ItemOverride {
            item,
            store,
            store_item,
        } => return super::stock::store_item_writes(*item, *store, store_item).into(),
    };
    vec![one]
}

/// A gift definition as the recycle bin holds it: (key, value).
pub fn gift_record(g: &Gift) -> (Vec<u8>, Vec<u8>) {
    (keys::catalog_gift(g.id.0), codec::encode(g))
}

/// A coupon template as the recycle bin holds it: (key, value).
pub fn coupon_record(t: &CouponTemplate) -> (Vec<u8>, Vec<u8>) {
    (keys::catalog_coupon(t.id.0), codec::encode(t))
}

pub fn gift_of_bin_record(value: &[u8]) -> Result<Gift, CodecError> {
    codec::decode(value)
}

pub fn coupon_of_bin_record(value: &[u8]) -> Result<CouponTemplate, CodecError> {
    codec::decode(value)
}

pub fn member_of_bin_record(value: &[u8]) -> Result<MemberRec, CodecError> {
    codec::decode(value)
}

impl Storage {
    /// The highest member sequence `home` has issued: the mark a deleted member left, or
    /// the highest member key present, whichever is higher.
    pub fn member_mark(&self, home: StoreId) -> Result<u32, StorageError> {
        let mark = self.id_mark(keys::IdKind::Member, u64::from(home.get()))?;
        Ok(u32::try_from(mark)
            .unwrap_or(u32::MAX)
            .max(self.last_member_seq(home)?))
    }
}
