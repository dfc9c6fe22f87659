//! Identifiers and validated strings. Each one is checked once, at the edge.

use std::fmt;

/// Store ids fit in 21 bits so that a [`MemberId`] (store << 32 | seq) stays below 2^53
/// and survives JavaScript clients, which read JSON numbers as f64.
pub const STORE_ID_MAX: u32 = (1 << 21) - 1;
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 128;
pub const PHONE_LEN_MIN: usize = 5;
pub const PHONE_LEN_MAX: usize = 20;
pub const NAME_LEN_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("store id must be between 1 and {STORE_ID_MAX}")]
    StoreOutOfRange,
    #[error("not a valid member id")]
    BadMemberId,
    #[error("idempotency key must be 1 to {IDEMPOTENCY_KEY_LEN_MAX} visible ASCII characters")]
    BadIdempotencyKey,
    #[error(
        "phone must be {PHONE_LEN_MIN} to {PHONE_LEN_MAX} digits, optionally starting with '+'"
    )]
    BadPhone,
    #[error("{0} must be 1 to {NAME_LEN_MAX} characters without control characters")]
    BadName(&'static str),
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(try_from = "u32", into = "u32")]
pub struct StoreId(u32);

impl TryFrom<u32> for StoreId {
    type Error = IdError;
    fn try_from(raw: u32) -> Result<Self, IdError> {
        StoreId::new(raw)
    }
}

impl From<StoreId> for u32 {
    fn from(s: StoreId) -> u32 {
        s.0
    }
}

impl StoreId {
    pub const MIN: StoreId = StoreId(1);
    pub const MAX: StoreId = StoreId(STORE_ID_MAX);

    pub fn new(raw: u32) -> Result<StoreId, IdError> {
        if raw == 0 || raw > STORE_ID_MAX {
            return Err(IdError::StoreOutOfRange);
        }
        Ok(StoreId(raw))
    }

    pub fn from_u64(raw: u64) -> Result<StoreId, IdError> {
        u32::try_from(raw)
            .map_err(|_| IdError::StoreOutOfRange)
            .and_then(StoreId::new)
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A member's id carries the store that registered the member (`id = origin << 32 | seq`,
/// seq from 1): the member's home store unless the member moved since, which the registry
/// records (`Registry::home_of`), so routing needs no lookup for a member who never moved.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(try_from = "u64", into = "u64")]
pub struct MemberId(u64);

impl TryFrom<u64> for MemberId {
    type Error = IdError;
    fn try_from(raw: u64) -> Result<Self, IdError> {
        MemberId::parse(raw)
    }
}

impl From<MemberId> for u64 {
    fn from(m: MemberId) -> u64 {
        m.0
    }
}

impl MemberId {
    pub fn new(home: StoreId, seq: u32) -> MemberId {
        debug_assert!(seq > 0);
        MemberId((u64::from(home.get()) << 32) | u64::from(seq))
    }

    pub fn parse(raw: u64) -> Result<MemberId, IdError> {
        let store = u32::try_from(raw >> 32).map_err(|_| IdError::BadMemberId)?;
        StoreId::new(store).map_err(|_| IdError::BadMemberId)?;
        if raw as u32 == 0 {
            return Err(IdError::BadMemberId);
        }
        Ok(MemberId(raw))
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// The store that registered the member and issued this id; the home store only for a
    /// member who never moved.
    pub fn origin(self) -> StoreId {
        StoreId((self.0 >> 32) as u32)
    }

    pub fn seq(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Position of an entry in one member's ledger, starting at 1.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct EntrySeq(pub u64);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn new(raw: &str) -> Result<IdempotencyKey, IdError> {
        Self::check(raw)?;
        Ok(IdempotencyKey(raw.to_owned()))
    }

    /// Is `raw` a key (1 to 128 visible ASCII characters)?
    pub fn check(raw: &str) -> Result<(), IdError> {
        let ok = !raw.is_empty()
            && raw.len() <= IDEMPOTENCY_KEY_LEN_MAX
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(())
        } else {
            Err(IdError::BadIdempotencyKey)
        }
    }

    /// The key `raw` as sent by a client in `scope`: keys of different scopes never meet,
    /// so one store's terminal can't take another's keys first.
    pub fn scoped(scope: &KeyScope, raw: &str) -> Result<IdempotencyKey, IdError> {
        let key = IdempotencyKey::new(raw)?;
        Ok(IdempotencyKey(match scope {
            KeyScope::Store(s) => format!("s{}/{}", s.get(), key.0),
            KeyScope::Credential(c) => format!("c{c}/{}", key.0),
            KeyScope::Member(m) => format!("m{m}/{}", key.0),
            KeyScope::Phone(hash) => format!("p{hash:016x}/{}", key.0),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as the client sent it, without its scope.
    pub fn client_part(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(_, k)| k)
    }
}

/// Whose idempotency keys these are: a store's (every credential working in only that
/// store shares them, as a payment API's keys belong to the account), or one credential's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    Store(StoreId),
    Credential(u64),
    /// A signed-in member's own writes.
    Member(MemberId),
    /// Signing in, before there is a session: the phone's.
    Phone(u64),
}

/// A phone number, normalised by dropping spaces and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub fn new(raw: &str) -> Result<Phone, IdError> {
        let cleaned: String = raw.chars().filter(|c| *c != ' ' && *c != '-').collect();
        let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
        let ok = (PHONE_LEN_MIN..=PHONE_LEN_MAX).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(IdError::BadPhone);
        }
        Ok(Phone(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A human-readable name (member, store): trimmed, non-empty, bounded, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    pub fn new(raw: &str, what: &'static str) -> Result<Name, IdError> {
        let trimmed = raw.trim();
        let ok = !trimmed.is_empty()
            && trimmed.chars().count() <= NAME_LEN_MAX
            && !trimmed.chars().any(char::is_control);
        if !ok {
            return Err(IdError::BadName(what));
        }
        Ok(Name(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_id_round_trips_and_carries_its_origin() {
        let store = StoreId::new(STORE_ID_MAX).unwrap();
        let id = MemberId::new(store, u32::MAX);
        assert!(id.get() < (1u64 << 53));
        assert_eq!(MemberId::parse(id.get()), Ok(id));
        assert_eq!(id.origin(), store);
        assert_eq!(id.seq(), u32::MAX);
    }

    #[test]
    fn member_id_rejects_garbage() {
        assert!(MemberId::parse(0).is_err());
        assert!(MemberId::parse(1).is_err(), "store 0");
        assert!(MemberId::parse(1 << 32).is_err(), "seq 0");
        assert!(MemberId::parse(u64::MAX).is_err());
    }

    #[test]
    fn phone_and_key_validation() {
        assert_eq!(Phone::new("138-0013 8000").unwrap().as_str(), "13800138000");
        assert!(Phone::new("+8613800138000").is_ok());
        assert!(Phone::new("12ab5678").is_err());
        assert!(Phone::new("").is_err());
        assert!(IdempotencyKey::new("a b").is_err());
        assert!(IdempotencyKey::new(&"k".repeat(129)).is_err());
        assert!(IdempotencyKey::new("pos-7-000123").is_ok());
        assert!(Name::new("  ", "name").is_err());
        assert!(Name::new("张三", "name").is_ok());
    }
}
