//! Stored values: one format-version byte, then bincode 2 (serde mode) of a flat record.
//! Records mirror the domain types field by field; converting back re-validates, so a
//! corrupt or foreign value is an error, never a domain object that breaks an invariant.

use chrono::DateTime;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::schedule_codec::{
    BookingRec, FailureRec, PlanRec, ResourceRec, ServiceRec, StoreHoursRec,
};
use crate::domain::booking::{Booking, ResourceId};
use crate::domain::checkout::Order;
use crate::domain::counter::Answer;
use crate::domain::idempotency::{Outcome, Request};
use crate::domain::ids::{EntrySeq, IdError, MemberId, Name, Phone, StoreId};
use crate::domain::ledger::{
    Account, Entry, EntryKind, LedgerCommand, LedgerError, TenderKind, Timestamp,
};
use crate::domain::member::{Member, Profile, Store};
use crate::domain::membership::Membership;
use crate::domain::money::{Amount, Money, MoneyError};
use crate::domain::planning::OccurrenceFailure;

/// Bumped whenever a record's encoding changes; decoders dispatch on it.
pub const FORMAT_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty value")]
    Empty,
    #[error("unknown format version {0}")]
    Version(u8),
    #[error("bincode: {0}")]
    Bincode(String),
    #[error("invalid stored value: {0}")]
    Invalid(String),
}

impl From<IdError> for CodecError {
    fn from(e: IdError) -> Self {
        CodecError::Invalid(e.to_string())
    }
}

impl From<MoneyError> for CodecError {
    fn from(e: MoneyError) -> Self {
        CodecError::Invalid(e.to_string())
    }
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    encode_as(FORMAT_VERSION, value)
}

fn encode_as<T: Serialize>(version: u8, value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(version);
    // Encoding plain structs into a Vec cannot fail.
    bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard())
        .expect("bincode encoding of a plain record into memory");
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::Version(version));
    }
    decode_body(body)
}

fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    let (value, used) = bincode::serde::decode_from_slice(body, bincode::config::standard())
        .map_err(|e| CodecError::Bincode(e.to_string()))?;
    if used != body.len() {
        return Err(CodecError::Invalid("trailing bytes".into()));
    }
    Ok(value)
}

fn ts(micros: i64) -> Result<Timestamp, CodecError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| CodecError::Invalid("timestamp".into()))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreRec {
    pub id: u32,
    pub name: String,
    pub time_zone: String,
    pub created_at_us: i64,
}

impl From<&Store> for StoreRec {
    fn from(s: &Store) -> Self {
        StoreRec {
            id: s.id.get(),
            name: s.name.as_str().to_owned(),
            time_zone: s.time_zone.name().to_owned(),
            created_at_us: s.created_at.timestamp_micros(),
        }
    }
}

impl TryFrom<StoreRec> for Store {
    type Error = CodecError;
    fn try_from(r: StoreRec) -> Result<Self, CodecError> {
        Ok(Store {
            id: StoreId::new(r.id)?,
            name: Name::new(&r.name, "store name")?,
            time_zone: r
                .time_zone
                .parse()
                .map_err(|_| CodecError::Invalid("time zone".into()))?,
            created_at: ts(r.created_at_us)?,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberRec {
    pub id: u64,
    pub phone: String,
    pub name: String,
    pub created_at_us: i64,
}

impl From<&Member> for MemberRec {
    fn from(m: &Member) -> Self {
        MemberRec {
            id: m.id.get(),
            phone: m.phone.as_str().to_owned(),
            name: m.name.as_str().to_owned(),
            created_at_us: m.created_at.timestamp_micros(),
        }
    }
}

/// The record and the profile stored beside it (`storage::members`).
impl TryFrom<(MemberRec, Profile)> for Member {
    type Error = CodecError;
    fn try_from((r, profile): (MemberRec, Profile)) -> Result<Self, CodecError> {
        Ok(Member {
            id: MemberId::parse(r.id)?,
            phone: Phone::new(&r.phone)?,
            name: Name::new(&r.name, "member name")?,
            created_at: ts(r.created_at_us)?,
            profile,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRec {
    pub member: u64,
    pub balance: i64,
    pub bonus: i64,
    pub last_entry: u64,
    pub membership: Membership,
    pub last_visit_us: Option<i64>,
}

/// Accounts are written in format 2 (with `last_visit_us`) and read in either.
const ACCOUNT_FORMAT: u8 = 2;

/// An account as format 1 wrote it, before the last visit was kept.
#[derive(Deserialize)]
struct AccountRecV1 {
    member: u64,
    balance: i64,
    bonus: i64,
    last_entry: u64,
    membership: Membership,
}

impl AccountRec {
    pub fn encode(&self) -> Vec<u8> {
        encode_as(ACCOUNT_FORMAT, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<AccountRec, CodecError> {
        match bytes.split_first().ok_or(CodecError::Empty)? {
            (&ACCOUNT_FORMAT, body) => decode_body(body),
            (&FORMAT_VERSION, body) => {
                let v1: AccountRecV1 = decode_body(body)?;
                Ok(AccountRec {
                    member: v1.member,
                    balance: v1.balance,
                    bonus: v1.bonus,
                    last_entry: v1.last_entry,
                    membership: v1.membership,
                    last_visit_us: None,
                })
            }
            (&version, _) => Err(CodecError::Version(version)),
        }
    }
}

impl From<&Account> for AccountRec {
    fn from(a: &Account) -> Self {
        AccountRec {
            member: a.member.get(),
            balance: a.balance.minor(),
            bonus: a.bonus.minor(),
            last_entry: a.last_entry.0,
            membership: a.membership.clone(),
            last_visit_us: a.last_visit.map(|t| t.timestamp_micros()),
        }
    }
}

impl TryFrom<AccountRec> for Account {
    type Error = CodecError;
    fn try_from(r: AccountRec) -> Result<Self, CodecError> {
        let account = Account {
            member: MemberId::parse(r.member)?,
            balance: Money::from_minor(r.balance),
            bonus: Money::from_minor(r.bonus),
            last_entry: EntrySeq(r.last_entry),
            membership: r.membership,
            last_visit: r.last_visit_us.map(ts).transpose()?,
        };
        if !account.check() {
            return Err(CodecError::Invalid(
                "member account breaks an invariant".into(),
            ));
        }
        Ok(account)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryRec {
    pub member: u64,
    pub seq: u64,
    pub kind: EntryKindRec,
    pub store: u32,
    pub amount: i64,
    pub bonus: i64,
    pub balance_after: i64,
    pub at_us: i64,
}

/// The entry kinds as stored; the domain enum itself, which has no invariant of its own.
pub type EntryKindRec = EntryKind;

impl From<&Entry> for EntryRec {
    fn from(e: &Entry) -> Self {
        EntryRec {
            member: e.member.get(),
            seq: e.seq.0,
            kind: e.kind,
            store: e.store.get(),
            amount: e.amount.minor(),
            bonus: e.bonus.minor(),
            balance_after: e.balance_after.minor(),
            at_us: e.at.timestamp_micros(),
        }
    }
}

impl TryFrom<EntryRec> for Entry {
    type Error = CodecError;
    fn try_from(r: EntryRec) -> Result<Self, CodecError> {
        if r.bonus < 0 || r.bonus > r.amount || r.balance_after < 0 {
            return Err(CodecError::Invalid("entry amounts".into()));
        }
        Ok(Entry {
            member: MemberId::parse(r.member)?,
            seq: EntrySeq(r.seq),
            kind: r.kind,
            store: StoreId::new(r.store)?,
            amount: Amount::new(r.amount)?,
            bonus: Money::from_minor(r.bonus),
            balance_after: Money::from_minor(r.balance_after),
            at: ts(r.at_us)?,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RequestRec {
    Recharge {
        member: u64,
        store: u32,
        amount: i64,
        tender: TenderKind,
    },
    Deduct {
        member: u64,
        store: u32,
        amount: i64,
    },
    Refund {
        member: u64,
        deduction: u64,
        amount: Option<i64>,
    },
    RegisterMember {
        phone: String,
        name: String,
        home: u32,
    },
    CreateStore {
        name: String,
        time_zone: String,
    },
    Fingerprint(Vec<u8>),
}

impl From<&Request> for RequestRec {
    fn from(r: &Request) -> Self {
        match r {
            Request::Ledger(LedgerCommand::Recharge {
                member,
                store,
                amount,
                tender,
            }) => RequestRec::Recharge {
                member: member.get(),
                store: store.get(),
                amount: amount.minor(),
                tender: *tender,
            },
            Request::Ledger(LedgerCommand::Deduct {
                member,
                store,
                amount,
            }) => RequestRec::Deduct {
                member: member.get(),
                store: store.get(),
                amount: amount.minor(),
            },
            Request::Ledger(LedgerCommand::Refund {
                member,
                deduction,
                amount,
            }) => RequestRec::Refund {
                member: member.get(),
                deduction: deduction.0,
                amount: amount.map(Amount::minor),
            },
            Request::RegisterMember { phone, name, home } => RequestRec::RegisterMember {
                phone: phone.as_str().to_owned(),
                name: name.as_str().to_owned(),
                home: home.get(),
            },
            Request::CreateStore { name, time_zone } => RequestRec::CreateStore {
                name: name.as_str().to_owned(),
                time_zone: time_zone.name().to_owned(),
            },
            Request::Fingerprint(bytes) => RequestRec::Fingerprint(bytes.clone()),
        }
    }
}

impl TryFrom<RequestRec> for Request {
    type Error = CodecError;
    fn try_from(r: RequestRec) -> Result<Self, CodecError> {
        Ok(match r {
            RequestRec::Recharge {
                member,
                store,
                amount,
                tender,
            } => Request::Ledger(LedgerCommand::Recharge {
                member: MemberId::parse(member)?,
                store: StoreId::new(store)?,
                amount: Amount::new(amount)?,
                tender,
            }),
            RequestRec::Deduct {
                member,
                store,
                amount,
            } => Request::Ledger(LedgerCommand::Deduct {
                member: MemberId::parse(member)?,
                store: StoreId::new(store)?,
                amount: Amount::new(amount)?,
            }),
            RequestRec::Refund {
                member,
                deduction,
                amount,
            } => Request::Ledger(LedgerCommand::Refund {
                member: MemberId::parse(member)?,
                deduction: EntrySeq(deduction),
                amount: amount.map(Amount::new).transpose()?,
            }),
            RequestRec::RegisterMember { phone, name, home } => Request::RegisterMember {
                phone: Phone::new(&phone)?,
                name: Name::new(&name, "member name")?,
                home: StoreId::new(home)?,
            },
            RequestRec::CreateStore { name, time_zone } => Request::CreateStore {
                name: Name::new(&name, "store name")?,
                time_zone: time_zone
                    .parse()
                    .map_err(|_| CodecError::Invalid("time zone".into()))?,
            },
            RequestRec::Fingerprint(bytes) => Request::Fingerprint(bytes),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum OutcomeRec {
    Posted(EntryRec),
    Rejected(LedgerError),
    MemberRegistered(MemberRec),
    PhoneTaken(u64),
    StoreCreated(StoreRec),
    Service(ServiceRec),
    Settings(bool),
    StoreHours(u32, StoreHoursRec),
    Resource(ResourceRec),
    ResourceDeleted(u64),
    Booking(BookingRec),
    /// The bookings only when some differ from the plan record's lines as booked.
    Plan(PlanRec, Vec<BookingRec>),
    PlanConflicts(Vec<FailureRec>),
    Credential(super::schedule_codec::CredentialRec),
    Counter(Box<Answer>),
    Order(Box<Order>),
    Catalog(Box<crate::domain::counter::CatalogChange>),
    GiftStock(u32, u32, i64),
    DayClosed(u32, chrono::NaiveDate),
    ClosingMode(u32, bool),
    Binned(crate::domain::recycle::BinKind, u64),
    Restored(crate::domain::recycle::BinKind, u64),
    /// A new plan, answered as its own record (tag `L`, written once in the same batch)
    /// reads: the record is not stored twice. Resolved by `Storage::idempotency`.
    PlanAsBooked(u64),
    MemberEdited(MemberRec, super::members::ProfileRec),
    FollowUp(Box<crate::domain::follow_up::FollowUp>),
    /// A registration that started with a profile (member-field defaults).
    MemberRegisteredWith(MemberRec, super::members::ProfileRec),
    Employee(Box<crate::domain::staff::Employee>),
    Reminders(u32, crate::domain::reminders::ReminderPolicy),
    HomeMoved(Box<crate::domain::home_move::HomeMove>),
    StockMoved(Box<crate::domain::stock::StockMove>),
    Transfer(Box<crate::domain::transfer::Transfer>),
    MemberChannel(Box<crate::domain::member_session::ChannelOutcome>),
    OnlineBooking(u32, crate::domain::online_booking::OnlineBooking),
    RefundRequest(Box<crate::domain::refund_request::RefundRequest>),
    MessageQueued(u64, u64),
    Waitlist(Box<crate::domain::waitlist::WaitEntry>),
}

impl From<&Outcome> for OutcomeRec {
    fn from(o: &Outcome) -> Self {
        match o {
            Outcome::Posted(e) => OutcomeRec::Posted(e.into()),
            Outcome::Rejected(err) => OutcomeRec::Rejected(err.clone()),
            Outcome::MemberRegistered(m) if m.profile.is_empty() => {
                OutcomeRec::MemberRegistered(m.into())
            }
            Outcome::MemberRegistered(m) => {
                OutcomeRec::MemberRegisteredWith(m.into(), (&m.profile).into())
            }
            Outcome::MemberEdited(m) => OutcomeRec::MemberEdited(m.into(), (&m.profile).into()),
            Outcome::FollowUp(f) => OutcomeRec::FollowUp(f.clone()),
            Outcome::Employee(e) => OutcomeRec::Employee(e.clone()),
            Outcome::Reminders(s, p) => OutcomeRec::Reminders(s.get(), p.clone()),
            Outcome::PhoneTaken(id) => OutcomeRec::PhoneTaken(id.get()),
            Outcome::StoreCreated(s) => OutcomeRec::StoreCreated(s.into()),
            Outcome::Service(s) => OutcomeRec::Service(ServiceRec::new(s, false)),
            Outcome::Settings { plans_enabled } => OutcomeRec::Settings(*plans_enabled),
            Outcome::StoreHours(store, h) => OutcomeRec::StoreHours(store.get(), h.into()),
            Outcome::Resource(r) => OutcomeRec::Resource(r.into()),
            Outcome::ResourceDeleted(id) => OutcomeRec::ResourceDeleted(id.0),
            Outcome::Booking(b) => OutcomeRec::Booking(b.into()),
            // Bookings as booked are the plan record's own lines: stored once.
            Outcome::Plan(p, bs) => OutcomeRec::Plan(
                PlanRec::new(p, bs),
                if PlanRec::is_as_booked(p, bs) {
                    Vec::new()
                } else {
                    bs.iter().map(BookingRec::from).collect()
                },
            ),
            Outcome::Credential(c) => OutcomeRec::Credential(c.into()),
            Outcome::Counter(a) => OutcomeRec::Counter(a.clone()),
            Outcome::Order(o) => OutcomeRec::Order(o.clone()),
            Outcome::Catalog(c) => OutcomeRec::Catalog(c.clone()),
            Outcome::GiftStock { store, gift, stock } => {
                OutcomeRec::GiftStock(store.get(), gift.0, *stock)
            }
            Outcome::DayClosed { store, day } => OutcomeRec::DayClosed(store.get(), *day),
            Outcome::ClosingMode { store, manual } => OutcomeRec::ClosingMode(store.get(), *manual),
            Outcome::Binned(k, id) => OutcomeRec::Binned(*k, *id),
            Outcome::Restored(k, id) => OutcomeRec::Restored(*k, *id),
            Outcome::HomeMoved(m) => OutcomeRec::HomeMoved(m.clone()),
            Outcome::StockMoved(m) => OutcomeRec::StockMoved(m.clone()),
            Outcome::Transfer(t) => OutcomeRec::Transfer(t.clone()),
            Outcome::MemberChannel(c) => OutcomeRec::MemberChannel(c.clone()),
            Outcome::OnlineBooking(s, p) => OutcomeRec::OnlineBooking(s.get(), p.clone()),
            Outcome::RefundRequest(r) => OutcomeRec::RefundRequest(r.clone()),
            Outcome::Waitlist(e) => OutcomeRec::Waitlist(e.clone()),
            Outcome::MessageQueued {
                member,
                notification,
            } => OutcomeRec::MessageQueued(member.get(), *notification),
            Outcome::PlanConflicts(fs) => {
                OutcomeRec::PlanConflicts(fs.iter().map(FailureRec::from).collect())
            }
        }
    }
}

impl TryFrom<OutcomeRec> for Outcome {
    type Error = CodecError;
    fn try_from(r: OutcomeRec) -> Result<Self, CodecError> {
        Ok(match r {
            OutcomeRec::Posted(e) => Outcome::Posted(e.try_into()?),
            OutcomeRec::Rejected(err) => Outcome::Rejected(err),
            OutcomeRec::MemberRegistered(m) => {
                Outcome::MemberRegistered((m, Profile::default()).try_into()?)
            }
            OutcomeRec::MemberEdited(m, p) => Outcome::MemberEdited((m, p.try_into()?).try_into()?),
            OutcomeRec::FollowUp(f) => Outcome::FollowUp(f),
            OutcomeRec::Employee(e) => Outcome::Employee(e),
            OutcomeRec::Reminders(s, p) => Outcome::Reminders(StoreId::new(s)?, p),
            OutcomeRec::MemberRegisteredWith(m, p) => {
                Outcome::MemberRegistered((m, p.try_into()?).try_into()?)
            }
            OutcomeRec::PhoneTaken(id) => Outcome::PhoneTaken(MemberId::parse(id)?),
            OutcomeRec::StoreCreated(s) => Outcome::StoreCreated(s.try_into()?),
            OutcomeRec::Service(s) => Outcome::Service(s.into_domain()?.0),
            OutcomeRec::Settings(plans_enabled) => Outcome::Settings { plans_enabled },
            OutcomeRec::StoreHours(store, h) => {
                Outcome::StoreHours(StoreId::new(store)?, h.try_into()?)
            }
            OutcomeRec::Resource(r) => Outcome::Resource(r.try_into()?),
            OutcomeRec::ResourceDeleted(id) => Outcome::ResourceDeleted(ResourceId(id)),
            OutcomeRec::Booking(b) => Outcome::Booking(b.try_into()?),
            OutcomeRec::Plan(p, bs) => {
                let (plan, booked) = p.into_parts()?;
                let bookings = if bs.is_empty() {
                    booked
                } else {
                    bs.into_iter()
                        .map(Booking::try_from)
                        .collect::<Result<_, _>>()?
                };
                Outcome::Plan(plan, bookings)
            }
            OutcomeRec::Credential(c) => Outcome::Credential(c.try_into()?),
            OutcomeRec::Counter(a) => Outcome::Counter(a),
            OutcomeRec::Order(o) => Outcome::Order(o),
            OutcomeRec::Catalog(c) => Outcome::Catalog(c),
            OutcomeRec::GiftStock(store, gift, stock) => Outcome::GiftStock {
                store: StoreId::new(store)?,
                gift: crate::domain::gift::GiftId(gift),
                stock,
            },
            OutcomeRec::DayClosed(store, day) => Outcome::DayClosed {
                store: StoreId::new(store)?,
                day,
            },
            OutcomeRec::ClosingMode(store, manual) => Outcome::ClosingMode {
                store: StoreId::new(store)?,
                manual,
            },
            OutcomeRec::Binned(k, id) => Outcome::Binned(k, id),
            OutcomeRec::Restored(k, id) => Outcome::Restored(k, id),
            OutcomeRec::HomeMoved(m) => Outcome::HomeMoved(m),
            OutcomeRec::StockMoved(m) => Outcome::StockMoved(m),
            OutcomeRec::Transfer(t) => Outcome::Transfer(t),
            OutcomeRec::MemberChannel(c) => Outcome::MemberChannel(c),
            OutcomeRec::OnlineBooking(s, p) => Outcome::OnlineBooking(StoreId::new(s)?, p),
            OutcomeRec::RefundRequest(r) => Outcome::RefundRequest(r),
            OutcomeRec::Waitlist(e) => Outcome::Waitlist(e),
            OutcomeRec::MessageQueued(m, n) => Outcome::MessageQueued {
                member: MemberId::parse(m)?,
                notification: n,
            },
            OutcomeRec::PlanAsBooked(id) => {
                return Err(CodecError::Invalid(format!(
                    "plan {id} is read from its own record"
                )))
            }
            OutcomeRec::PlanConflicts(fs) => Outcome::PlanConflicts(
                fs.into_iter()
                    .map(OccurrenceFailure::try_from)
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

/// What an idempotency key remembers: when, what was asked, what was answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdemRec {
    pub at_us: i64,
    pub request: RequestRec,
    pub outcome: OutcomeRec,
}

impl IdemRec {
    pub fn new(at: Timestamp, request: &Request, outcome: &Outcome) -> IdemRec {
        IdemRec::stored_as(at, request, outcome.into())
    }

    pub fn stored_as(at: Timestamp, request: &Request, outcome: OutcomeRec) -> IdemRec {
        IdemRec {
            at_us: at.timestamp_micros(),
            request: request.into(),
            outcome,
        }
    }

    pub fn into_domain(self) -> Result<(Request, Outcome), CodecError> {
        Ok((self.request.try_into()?, self.outcome.try_into()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trips_through_bytes() {
        let e = Entry {
            member: MemberId::new(StoreId::new(3).unwrap(), 9),
            seq: EntrySeq(4),
            kind: EntryKind::Deduction {
                refunded: Money::from_minor(7),
            },
            store: StoreId::new(5).unwrap(),
            amount: Amount::new(100).unwrap(),
            bonus: Money::from_minor(3),
            balance_after: Money::from_minor(12),
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
        };
        let bytes = encode(&EntryRec::from(&e));
        assert_eq!(bytes[0], FORMAT_VERSION);
        let back: Entry = decode::<EntryRec>(&bytes).unwrap().try_into().unwrap();
        assert_eq!(back, e);
    }

    fn account_rec(last_visit_us: Option<i64>) -> AccountRec {
        AccountRec {
            member: 1 << 32 | 1,
            balance: 5,
            bonus: 0,
            last_entry: 1,
            membership: Membership::default(),
            last_visit_us,
        }
    }

    #[test]
    fn rejects_unknown_version_and_garbage() {
        let mut bytes = account_rec(None).encode();
        bytes[0] = 99;
        assert!(matches!(
            AccountRec::decode(&bytes),
            Err(CodecError::Version(99))
        ));
        assert!(AccountRec::decode(&[]).is_err());
        assert!(AccountRec::decode(&[ACCOUNT_FORMAT, 0xff]).is_err());
    }

    /// Accounts written before the last visit was kept read as never visited; new ones
    /// keep it.
    #[test]
    fn accounts_of_both_formats_read() {
        #[derive(Serialize)]
        struct V1 {
            member: u64,
            balance: i64,
            bonus: i64,
            last_entry: u64,
            membership: Membership,
        }
        let old = encode(&V1 {
            member: 1 << 32 | 1,
            balance: 5,
            bonus: 0,
            last_entry: 1,
            membership: Membership::default(),
        });
        assert_eq!(old[0], FORMAT_VERSION);
        let read = AccountRec::decode(&old).unwrap();
        assert_eq!((read.balance, read.last_visit_us), (5, None));
        let new = account_rec(Some(1_700_000_000_000_000)).encode();
        assert_eq!(new[0], ACCOUNT_FORMAT);
        let account = Account::try_from(AccountRec::decode(&new).unwrap()).unwrap();
        assert_eq!(
            account.last_visit.map(|t| t.timestamp_micros()),
            Some(1_700_000_000_000_000)
        );
    }
}
