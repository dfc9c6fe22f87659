//! Who may do what: roles, and the one rule that decides every request. The store a
//! request acts in comes from the object it names (a member's home store, a booking's store)
//! or from the credential, never from the body alone.

use super::booking::ResourceId;
use super::ids::StoreId;

/// Stores a store manager may manage, at most.
pub const MANAGER_STORES_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The whole chain.
    HqAdmin,
    StoreManager {
        stores: Vec<StoreId>,
    },
    /// Counter operations in one store: members, recharge, deduct, refund.
    Cashier {
        store: StoreId,
    },
    /// A POS terminal: the same as a cashier.
    Pos {
        store: StoreId,
    },
    /// Service staff: their own calendar and check-in, in one store.
    Staff {
        store: StoreId,
        resource: ResourceId,
    },
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::HqAdmin => "hq_admin",
            Role::StoreManager { .. } => "store_manager",
            Role::Cashier { .. } => "cashier",
            Role::Pos { .. } => "pos",
            Role::Staff { .. } => "staff",
        }
    }

    /// The store a single-store credential works in.
    pub fn home_store(&self) -> Option<StoreId> {
        match self {
            Role::Cashier { store } | Role::Pos { store } | Role::Staff { store, .. } => {
                Some(*store)
            }
            Role::StoreManager { stores } if stores.len() == 1 => Some(stores[0]),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialId(pub u64);

/// An API key's record. Only the SHA-256 of the key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: CredentialId,
    pub name: super::ids::Name,
    pub role: Role,
    pub revoked: bool,
    pub created_at: super::ledger::Timestamp,
    pub key_hash: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub credential: CredentialId,
    pub role: Role,
    /// The route table's row this request matched (`"POST /v1/members/{member_id}/lock"`):
    /// the operation the log names and the idempotency fingerprint starts with.
    pub operation: &'static str,
}

/// What a route needs, checked against the store it acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Chain-wide administration: stores, services, settings, credentials, audit.
    ChainAdmin,
    /// A store's hours, resources, bookings and plans.
    ManageStore,
    /// Counter work on the store's members: register, read, recharge, deduct, refund.
    Counter,
    /// A resource's calendar and check-in (staff see only their own resource).
    Calendar(Option<ResourceId>),
    /// Reading a store's setup and bookings: anyone working in that store.
    ReadStore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The role can't do this at all: 403.
    Forbidden,
    /// The object belongs to another store: 404, so that its existence stays private.
    OtherStore,
}

impl Principal {
    fn in_store(&self, store: StoreId) -> bool {
        match &self.role {
            Role::HqAdmin => true,
            Role::StoreManager { stores } => stores.contains(&store),
            Role::Cashier { store: s } | Role::Pos { store: s } | Role::Staff { store: s, .. } => {
                *s == store
            }
        }
    }

    /// May this principal use `cap` on an object of `store` (or chain-wide when `None`)?
    pub fn may(&self, cap: Capability, store: Option<StoreId>) -> Result<(), Denied> {
        let role_ok = match (&self.role, cap) {
            (Role::HqAdmin, _) => true,
            (_, Capability::ChainAdmin) => false,
            (Role::StoreManager { .. }, _) => true,
            (Role::Cashier { .. } | Role::Pos { .. }, Capability::Counter) => true,
            (Role::Staff { resource, .. }, Capability::Calendar(target)) => {
                target.is_none_or(|t| t == *resource)
            }
            (_, Capability::ReadStore) => true,
            _ => false,
        };
        if !role_ok {
            return Err(Denied::Forbidden);
        }
        match store {
            Some(s) if !self.in_store(s) => Err(Denied::OtherStore),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> StoreId {
        StoreId::new(n).unwrap()
    }

    fn p(role: Role) -> Principal {
        Principal {
            credential: CredentialId(1),
            role,
            operation: "",
        }
    }

    #[test]
    fn store_scoped_credentials_never_reach_other_stores() {
        let pos = p(Role::Pos { store: s(1) });
        assert_eq!(pos.may(Capability::Counter, Some(s(1))), Ok(()));
        assert_eq!(
            pos.may(Capability::Counter, Some(s(2))),
            Err(Denied::OtherStore)
        );
        assert_eq!(
            pos.may(Capability::ChainAdmin, None),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            pos.may(Capability::ManageStore, Some(s(1))),
            Err(Denied::Forbidden)
        );
        let mgr = p(Role::StoreManager {
            stores: vec![s(1), s(3)],
        });
        assert_eq!(mgr.may(Capability::ManageStore, Some(s(3))), Ok(()));
        assert_eq!(
            mgr.may(Capability::Counter, Some(s(2))),
            Err(Denied::OtherStore)
        );
        assert_eq!(
            mgr.may(Capability::ChainAdmin, None),
            Err(Denied::Forbidden)
        );
        let staff = p(Role::Staff {
            store: s(1),
            resource: ResourceId(7),
        });
        assert_eq!(
            staff.may(Capability::Calendar(Some(ResourceId(7))), Some(s(1))),
            Ok(())
        );
        assert_eq!(
            staff.may(Capability::Calendar(Some(ResourceId(8))), Some(s(1))),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            staff.may(Capability::Counter, Some(s(1))),
            Err(Denied::Forbidden)
        );
        let hq = p(Role::HqAdmin);
        assert_eq!(hq.may(Capability::ChainAdmin, None), Ok(()));
        assert_eq!(hq.may(Capability::Counter, Some(s(9))), Ok(()));
    }
}
