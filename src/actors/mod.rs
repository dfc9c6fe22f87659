//! Actors wire the pure domain to storage. Each owns its state outright; concurrency comes
//! from many actors on a few arbiter threads, never from locks.
//!
//! - [`store_ledger::StoreLedger`]: one per store; the accounts of members homed there.
//! - [`directory::Directory`]: one per chain; store creation and member registration
//!   (the chain-wide unique phone number).
//! - [`registry::Registry`]: the address book the API routes by; written only when a store
//!   is created.

pub mod bulk_messages;
pub mod closing;
pub mod counter;
pub mod courier;
pub mod directory;
pub mod gifts;
pub mod home_move;
pub mod idempotency;
pub mod member_sessions;
pub mod pending;
pub mod plan_sessions;
pub mod refund_requests;
pub mod registry;
pub mod resource;
pub mod scheduler;
pub mod staff;
pub mod stock;
pub mod store_ledger;
pub mod writer;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Message};

use crate::domain::idempotency::Outcome;
use crate::storage::{StorageError, Ticket};

/// Sends a write to another actor and waits until it is durable: what one actor does when
/// its own answer depends on another's write.
pub(crate) async fn written<A, M>(addr: &Addr<A>, msg: M) -> Result<Outcome, ActorError>
where
    A: Actor + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message<Result = WriteResult> + Send + 'static,
{
    let answer = addr
        .send(msg)
        .await
        .map_err(|_| ActorError::Unavailable)??;
    answer
        .ticket
        .durable()
        .await
        .map_err(|_| ActorError::Unavailable)?;
    Ok(answer.value)
}

/// Depth of every actor's mailbox. A full mailbox makes senders wait; the API gives up after
/// [`crate::api::ACTOR_REPLY_TIMEOUT`] and answers 503.
pub const MAILBOX_CAPACITY: usize = 4_096;

/// What every write carries for idempotency: the key, and for scheduling writes the
/// canonical encoding of the request made by the API.
#[derive(Debug, Clone)]
pub struct WriteMeta {
    pub key: crate::domain::ids::IdempotencyKey,
    pub fingerprint: Vec<u8>,
    /// Who asks, for the operation log.
    pub audit: crate::domain::oplog::Audit,
}

/// An answer that must not reach the client before `ticket` completes.
#[derive(Debug)]
pub struct Durable<T> {
    pub value: T,
    pub ticket: Ticket,
}

pub type WriteResult = Result<Durable<Outcome>, ActorError>;

/// Why an actor refused a write without recording anything.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    #[error("member {0} not found")]
    MemberNotFound(u64),
    #[error("store {0} not found")]
    StoreNotFound(u32),
    #[error("entry {1} of member {0} not found")]
    EntryNotFound(u64, u64),
    #[error("this idempotency key was already used for a different request")]
    IdempotencyConflict,
    #[error("{0} are exhausted")]
    Exhausted(&'static str),
    #[error("{0} not found")]
    NotFound(String),
    #[error("the service-plan feature is turned off in HQ settings")]
    PlansDisabled,
    #[error("{0}")]
    WrongMode(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Recurrence(#[from] crate::domain::recurrence::RecurrenceError),
    #[error("{0}")]
    Transition(#[from] crate::domain::booking::TransitionError),
    #[error("resource {0} has bookings that have not ended; cancel or move them first")]
    ResourceHasBookings(u64),
    #[error("a service's booking mode can't change once saved")]
    ModeImmutable,
    #[error("the server is shutting down")]
    Unavailable,
    #[error("{0}")]
    Closing(#[from] crate::domain::closing::ClosingError),
    #[error("{0}")]
    Recycle(#[from] crate::domain::recycle::RecycleError),
    #[error("{0}")]
    Rule(#[from] crate::domain::ledger::LedgerError),
    #[error("{0}")]
    Profile(#[from] crate::domain::member::ProfileError),
    #[error("{0}")]
    Field(#[from] crate::domain::member_fields::FieldError),
    #[error("{0}")]
    Staff(#[from] crate::domain::staff::StaffError),
    #[error("{0}")]
    Role(#[from] crate::domain::access::RoleError),
    /// The member's home changed while the request was in flight; nothing was done.
    #[error("member {0} moved to another home store while this request was in flight")]
    MemberMoved(u64),
    #[error("{0}")]
    HomeMove(#[from] crate::domain::home_move::HomeMoveError),
    #[error("{0}")]
    Price(#[from] crate::domain::price_list::PriceError),
    #[error("{0}")]
    Stock(#[from] crate::domain::stock::StockError),
    #[error("{0}")]
    Transfer(#[from] crate::domain::transfer::TransferError),
    #[error("too many sign-in codes for this phone; retry in {0} s")]
    Throttled(u32),
    #[error("{0}")]
    Online(#[from] crate::domain::online_booking::OnlineError),
    #[error("{0}")]
    Refund(#[from] crate::domain::refund_request::RefundRequestError),
    #[error("{0}")]
    Wait(#[from] crate::domain::waitlist::WaitError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}
