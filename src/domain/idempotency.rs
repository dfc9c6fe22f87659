//! Idempotent writes: what a write asked for, what it answered, and how a retry is judged.

use super::booking::{Booking, Plan, Resource, ResourceId, Service};
use super::hours::StoreHours;
use super::ids::{MemberId, Name, Phone, StoreId};
use super::ledger::{Entry, LedgerCommand, LedgerError};
use super::member::{Member, Store};
use super::planning::OccurrenceFailure;

/// Every write the server accepts, as it is remembered under its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Ledger(LedgerCommand),
    RegisterMember {
        phone: Phone,
        name: Name,
        home: StoreId,
    },
    CreateStore {
        name: Name,
        time_zone: chrono_tz::Tz,
    },
    /// Scheduling writes are remembered by a canonical encoding of what was asked: the
    /// route and the parsed body, made by the API.
    Fingerprint(Vec<u8>),
}

/// The first answer to a write. Business rejections are answers too: a retry of a deduction
/// refused for insufficient balance is refused again, even after a recharge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Posted(Entry),
    Rejected(LedgerError),
    MemberRegistered(Member),
    /// A member's profile (phone, name, ...) after an edit.
    MemberEdited(Member),
    /// A follow-up visit recorded (回访).
    FollowUp(Box<super::follow_up::FollowUp>),
    /// A store's reminder policy after a change.
    Reminders(StoreId, super::reminders::ReminderPolicy),
    /// An employee hired, edited or gone (员工).
    Employee(Box<super::staff::Employee>),
    PhoneTaken(MemberId),
    StoreCreated(Store),
    Service(Service),
    Settings {
        plans_enabled: bool,
    },
    StoreHours(StoreId, StoreHours),
    Resource(Resource),
    ResourceDeleted(ResourceId),
    Booking(Booking),
    Plan(Plan, Vec<Booking>),
    PlanConflicts(Vec<OccurrenceFailure>),
    Credential(super::access::Credential),
    /// A counter operation on a member's account.
    Counter(Box<super::counter::Answer>),
    /// A walk-in order paid or returned, or an order held.
    Order(Box<super::checkout::Order>),
    /// HQ's catalog changed; the change itself is the answer.
    Catalog(Box<super::counter::CatalogChange>),
    /// A store's stock of a gift after a restock or correction.
    GiftStock {
        store: StoreId,
        gift: super::gift::GiftId,
        stock: i64,
    },
    /// A business day sealed by hand (日结); the sealed record is read from disk.
    DayClosed {
        store: StoreId,
        day: chrono::NaiveDate,
    },
    ClosingMode {
        store: StoreId,
        manual: bool,
    },
    /// An object moved to the recycle bin, or restored from it.
    Binned(super::recycle::BinKind, u64),
    Restored(super::recycle::BinKind, u64),
    /// A member's home store moved (会员转店).
    HomeMoved(Box<super::home_move::HomeMove>),
    /// Products received, adjusted or counted at a store.
    StockMoved(Box<super::stock::StockMove>),
    /// A transfer between stores (调拨) sent or received.
    Transfer(Box<super::transfer::Transfer>),
    /// Signing in and out of the member channel.
    MemberChannel(Box<super::member_session::ChannelOutcome>),
    /// A store's online-booking policy after a change.
    OnlineBooking(StoreId, super::online_booking::OnlineBooking),
    /// A refund request asked, rejected or withdrawn (退款审核).
    RefundRequest(Box<super::refund_request::RefundRequest>),
    /// A bulk message queued for a member (群发): its notification id.
    MessageQueued {
        member: MemberId,
        notification: u64,
    },
    /// A waitlist entry joined, accepted or withdrawn (候补).
    Waitlist(Box<super::waitlist::WaitEntry>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// The key is new: apply the request.
    Fresh,
    /// The same request came before: answer what was answered then, change nothing.
    Repeat(Box<Outcome>),
    /// The key was used for a different request: refuse, change nothing.
    Conflict,
}

pub fn judge(stored: Option<(&Request, &Outcome)>, incoming: &Request) -> Replay {
    match stored {
        None => Replay::Fresh,
        Some((req, outcome)) if req == incoming => Replay::Repeat(Box::new(outcome.clone())),
        Some(_) => Replay::Conflict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Amount;

    #[test]
    fn same_request_repeats_other_request_conflicts() {
        let member = MemberId::new(StoreId::new(1).unwrap(), 1);
        let store = StoreId::new(1).unwrap();
        let ded = |n| {
            Request::Ledger(LedgerCommand::Deduct {
                member,
                store,
                amount: Amount::new(n).unwrap(),
            })
        };
        let outcome = Outcome::PhoneTaken(member);
        assert_eq!(judge(None, &ded(5)), Replay::Fresh);
        assert_eq!(
            judge(Some((&ded(5), &outcome)), &ded(5)),
            Replay::Repeat(Box::new(outcome.clone()))
        );
        assert_eq!(judge(Some((&ded(5), &outcome)), &ded(6)), Replay::Conflict);
    }
}
