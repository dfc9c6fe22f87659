//! Who may do what: roles, and the one rule that decides every request. The store a
//! request acts in comes from the object it names (a member's home store, a booking's store)
//! or from the credential, never from the body alone.

use super::booking::ResourceId;
use super::ids::StoreId;

/// Stores a store manager may manage, at most.
pub const MANAGER_STORES_MAX: usize = 64;

/// What a role may do: a closed list, each tied to the route table's rows (`Access`). The
/// five built-in roles are fixed sets of these; HQ defines others (权限设置).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Cap {
    /// Stores, services, settings, credentials, roles, audit, backups.
    ChainAdmin,
    /// HQ's catalog: levels, coupon templates, gifts, member fields, message templates,
    /// bulk coupon issue (会员营销).
    Catalog,
    /// A store's hours, resources, employees, closings, reviews, manual member changes.
    ManageStore,
    /// Counter work on members: register, read, recharge, deduct, refund, checkout.
    Counter,
    /// Any resource's calendar and check-in in the role's stores.
    Calendar,
    /// The calendar and check-in of the credential's own resource only.
    OwnCalendar,
    /// Reading a store's setup and bookings.
    ReadStore,
    /// Typing a price at the counter instead of the price list's (改价).
    PriceOverride,
}

impl Cap {
    pub const ALL: [Cap; 8] = [
        Cap::ChainAdmin,
        Cap::Catalog,
        Cap::ManageStore,
        Cap::Counter,
        Cap::Calendar,
        Cap::OwnCalendar,
        Cap::ReadStore,
        Cap::PriceOverride,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cap::ChainAdmin => "chain_admin",
            Cap::Catalog => "catalog",
            Cap::ManageStore => "manage_store",
            Cap::Counter => "counter",
            Cap::Calendar => "calendar",
            Cap::OwnCalendar => "own_calendar",
            Cap::ReadStore => "read_store",
            Cap::PriceOverride => "price_override",
        }
    }

    pub fn parse(raw: &str) -> Option<Cap> {
        Cap::ALL.into_iter().find(|c| c.name() == raw)
    }
}

/// A set of capabilities, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSet(u16);

impl CapSet {
    pub fn of(caps: &[Cap]) -> CapSet {
        CapSet(caps.iter().fold(0, |bits, c| bits | (1 << *c as u16)))
    }

    pub fn has(self, c: Cap) -> bool {
        self.0 & (1 << c as u16) != 0
    }

    pub fn caps(self) -> Vec<Cap> {
        Cap::ALL.into_iter().filter(|c| self.has(*c)).collect()
    }
}

/// Longest name of a role HQ defines.
pub const ROLE_NAME_LEN_MAX: usize = 32;
/// Most roles HQ defines.
pub const ROLES_MAX: usize = 64;
pub const BUILT_IN_ROLES: [&str; 5] = ["hq_admin", "store_manager", "cashier", "pos", "staff"];

/// A role HQ defined: its name (lower-case letters, digits, `_`) and capabilities.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoleDef {
    pub name: String,
    pub caps: Vec<Cap>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("a role name is 1 to 32 lower-case letters, digits or '_', and not a built-in role's")]
    BadName,
    #[error("a role has at least one capability")]
    NoCapability,
    #[error("a description is at most 200 characters")]
    BadDescription,
    #[error(
        "own_calendar binds a key to one resource: it can't go with calendar or other stores' work"
    )]
    OwnCalendarMixed,
    #[error("the built-in role {0} can't be changed or removed")]
    BuiltIn(String),
    #[error("role {0} is held by {1} API keys that are not revoked")]
    InUse(String, usize),
}

impl RoleDef {
    pub fn new(name: &str, caps: &[Cap], description: &str) -> Result<RoleDef, RoleError> {
        if BUILT_IN_ROLES.contains(&name) || name == Role::MEMBER {
            return Err(RoleError::BuiltIn(name.to_owned()));
        }
        let ok = !name.is_empty()
            && name.len() <= ROLE_NAME_LEN_MAX
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(RoleError::BadName);
        }
        let mut caps = caps.to_vec();
        caps.sort();
        caps.dedup();
        if caps.is_empty() {
            return Err(RoleError::NoCapability);
        }
        if caps.contains(&Cap::OwnCalendar) && caps.contains(&Cap::Calendar) {
            return Err(RoleError::OwnCalendarMixed);
        }
        if description.chars().count() > 200 || description.chars().any(char::is_control) {
            return Err(RoleError::BadDescription);
        }
        Ok(RoleDef {
            name: name.to_owned(),
            caps,
            description: description.to_owned(),
        })
    }

    pub fn set(&self) -> CapSet {
        CapSet::of(&self.caps)
    }
}

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
    /// A role HQ defined, with the capabilities it has now: a change takes effect at the
    /// next request. No stores: every store of the chain.
    Custom {
        name: String,
        caps: CapSet,
        stores: Vec<StoreId>,
        resource: Option<ResourceId>,
    },
    /// A member signed in through their own channel (会员自助): their own account and
    /// bookings only, through `/v1/me`; no capability of any store.
    Member {
        member: super::ids::MemberId,
        session: super::member_session::TokenHash,
    },
}

impl Role {
    /// The name of a signed-in member's role: reserved, never a credential's.
    pub const MEMBER: &'static str = "member";

    /// The name, borrowed for the built-in roles (every write's audit carries it).
    pub fn label(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Role::Custom { name, .. } => std::borrow::Cow::Owned(name.clone()),
            Role::HqAdmin => "hq_admin".into(),
            Role::StoreManager { .. } => "store_manager".into(),
            Role::Cashier { .. } => "cashier".into(),
            Role::Pos { .. } => "pos".into(),
            Role::Staff { .. } => "staff".into(),
            Role::Member { .. } => Role::MEMBER.into(),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Role::HqAdmin => "hq_admin",
            Role::StoreManager { .. } => "store_manager",
            Role::Cashier { .. } => "cashier",
            Role::Pos { .. } => "pos",
            Role::Staff { .. } => "staff",
            Role::Custom { name, .. } => name,
            Role::Member { .. } => Role::MEMBER,
        }
    }

    /// The member a member's session is for.
    pub fn member(&self) -> Option<super::ids::MemberId> {
        match self {
            Role::Member { member, .. } => Some(*member),
            _ => None,
        }
    }

    /// The store a single-store credential works in.
    pub fn home_store(&self) -> Option<StoreId> {
        match self {
            Role::Cashier { store } | Role::Pos { store } | Role::Staff { store, .. } => {
                Some(*store)
            }
            Role::StoreManager { stores } | Role::Custom { stores, .. } if stores.len() == 1 => {
                Some(stores[0])
            }
            _ => None,
        }
    }

    /// The stores it works in; `None`: all of them. Asked on every check: no allocation.
    pub fn stores(&self) -> Option<&[StoreId]> {
        match self {
            Role::HqAdmin => None,
            Role::Custom { stores, .. } if stores.is_empty() => None,
            Role::StoreManager { stores } | Role::Custom { stores, .. } => Some(stores),
            Role::Cashier { store } | Role::Pos { store } | Role::Staff { store, .. } => {
                Some(std::slice::from_ref(store))
            }
            Role::Member { .. } => Some(&[]),
        }
    }

    /// The resource a key is bound to (own calendar).
    pub fn resource(&self) -> Option<ResourceId> {
        match self {
            Role::Staff { resource, .. } => Some(*resource),
            Role::Custom { resource, .. } => *resource,
            _ => None,
        }
    }

    pub fn caps(&self) -> CapSet {
        use Cap::*;
        match self {
            Role::HqAdmin => CapSet::of(&[
                ChainAdmin,
                Catalog,
                ManageStore,
                Counter,
                Calendar,
                ReadStore,
                PriceOverride,
            ]),
            Role::StoreManager { .. } => {
                CapSet::of(&[ManageStore, Counter, Calendar, ReadStore, PriceOverride])
            }
            Role::Cashier { .. } | Role::Pos { .. } => CapSet::of(&[Counter, ReadStore]),
            Role::Staff { .. } => CapSet::of(&[OwnCalendar, ReadStore]),
            Role::Custom { caps, .. } => *caps,
            Role::Member { .. } => CapSet::default(),
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
    /// HQ's catalog and member marketing.
    Catalog,
    /// A store's hours, resources, bookings and plans.
    ManageStore,
    /// Counter work on the store's members: register, read, recharge, deduct, refund.
    Counter,
    /// A resource's calendar and check-in (a key bound to a resource sees only its own).
    Calendar(Option<ResourceId>),
    /// Reading a store's setup and bookings: anyone working in that store.
    ReadStore,
    /// Typing prices at the counter (改价).
    PriceOverride,
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
        self.role.stores().is_none_or(|s| s.contains(&store))
    }

    /// May this principal use `cap` on an object of `store` (or chain-wide when `None`)?
    pub fn may(&self, cap: Capability, store: Option<StoreId>) -> Result<(), Denied> {
        let caps = self.role.caps();
        // Chain-wide work needs a chain-wide key, whatever its role says.
        let chain_wide = self.role.stores().is_none();
        let role_ok = match cap {
            Capability::ChainAdmin => caps.has(Cap::ChainAdmin) && chain_wide,
            Capability::Catalog => caps.has(Cap::Catalog) && chain_wide,
            Capability::ManageStore => caps.has(Cap::ManageStore),
            Capability::Counter => caps.has(Cap::Counter),
            Capability::PriceOverride => caps.has(Cap::PriceOverride),
            Capability::Calendar(target) => {
                caps.has(Cap::Calendar)
                    || (caps.has(Cap::OwnCalendar)
                        && target.is_none_or(|t| Some(t) == self.role.resource()))
            }
            // Anyone working in a store reads it.
            Capability::ReadStore => caps != CapSet::default(),
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

    #[test]
    fn a_role_hq_defines_has_exactly_its_capabilities_in_its_stores() {
        let front_desk = RoleDef::new("front_desk", &[Cap::Counter, Cap::Calendar], "").unwrap();
        let desk = p(Role::Custom {
            name: front_desk.name.clone(),
            caps: front_desk.set(),
            stores: vec![s(1), s(2)],
            resource: None,
        });
        assert_eq!(desk.may(Capability::Counter, Some(s(2))), Ok(()));
        assert_eq!(
            desk.may(Capability::Calendar(Some(ResourceId(9))), Some(s(1))),
            Ok(())
        );
        assert_eq!(desk.may(Capability::ReadStore, Some(s(1))), Ok(()));
        assert_eq!(
            desk.may(Capability::Counter, Some(s(3))),
            Err(Denied::OtherStore)
        );
        assert_eq!(
            desk.may(Capability::ManageStore, Some(s(1))),
            Err(Denied::Forbidden)
        );
        assert_eq!(desk.may(Capability::Catalog, None), Err(Denied::Forbidden));
        let marketing = p(Role::Custom {
            name: "marketing".into(),
            caps: CapSet::of(&[Cap::Catalog]),
            stores: vec![],
            resource: None,
        });
        assert_eq!(marketing.may(Capability::Catalog, None), Ok(()));
        assert_eq!(
            marketing.may(Capability::ChainAdmin, None),
            Err(Denied::Forbidden)
        );
        let coach = p(Role::Custom {
            name: "coach".into(),
            caps: CapSet::of(&[Cap::OwnCalendar]),
            stores: vec![s(1)],
            resource: Some(ResourceId(7)),
        });
        assert_eq!(
            coach.may(Capability::Calendar(Some(ResourceId(7))), Some(s(1))),
            Ok(())
        );
        assert_eq!(
            coach.may(Capability::Calendar(Some(ResourceId(8))), Some(s(1))),
            Err(Denied::Forbidden)
        );
        for bad in ["", "hq_admin", "Front", "a-b", &"x".repeat(33)] {
            assert!(RoleDef::new(bad, &[Cap::Counter], "").is_err(), "{bad}");
        }
        assert_eq!(RoleDef::new("x", &[], ""), Err(RoleError::NoCapability));
        assert_eq!(
            RoleDef::new("x", &[Cap::Calendar, Cap::OwnCalendar], ""),
            Err(RoleError::OwnCalendarMixed)
        );
    }

    #[test]
    fn built_in_roles_keep_their_meaning() {
        let mgr = Role::StoreManager { stores: vec![s(1)] };
        for (role, cap, want) in [
            (&mgr, Capability::ManageStore, true),
            (&mgr, Capability::Catalog, false),
            (&Role::HqAdmin, Capability::Catalog, true),
            (
                &Role::Cashier { store: s(1) },
                Capability::Calendar(None),
                false,
            ),
            (&Role::Pos { store: s(1) }, Capability::Counter, true),
        ] {
            assert_eq!(
                p(role.clone()).may(cap, None).is_ok(),
                want,
                "{role:?} {cap:?}"
            );
        }
    }
}
