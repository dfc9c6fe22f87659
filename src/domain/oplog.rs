//! The operation log (操作日志): who did what, when, in which store, to which objects, with
//! what result. One record per write, made from the write's request and outcome and written
//! in the same journal submission as the change.

use serde::{Deserialize, Serialize};

use super::access::{CredentialId, Principal};
use super::idempotency::{Outcome, Request};
use super::ids::StoreId;
use super::ledger::Timestamp;

/// Objects one record names, at most.
pub const OBJECTS_MAX: usize = 4;
/// Longest operation text kept.
pub const OPERATION_LEN_MAX: usize = 200;

/// Who is writing, and through which route: carried by every write message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    pub credential: CredentialId,
    pub role: std::borrow::Cow<'static, str>,
    pub operation: String,
    /// The employee the write is credited to (导购, who sold or recharged), when named.
    pub employee: Option<super::staff::EmployeeId>,
}

impl Audit {
    /// Who, and which operation: the route table's row the request matched.
    pub fn new(p: &Principal) -> Audit {
        Audit {
            credential: p.credential,
            role: p.role.label(),
            operation: p.operation.chars().take(OPERATION_LEN_MAX).collect(),
            employee: None,
        }
    }

    /// Writes the server makes by itself (plan completions by the clock).
    pub fn system(operation: &str) -> Audit {
        Audit {
            credential: CredentialId(0),
            role: "system".into(),
            operation: operation.to_owned(),
            employee: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OpRecord {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub credential: u64,
    pub role: String,
    /// Where it happened; `None` for chain-wide operations (HQ catalog, stores, credentials).
    pub store: Option<StoreId>,
    pub operation: String,
    /// `kind:id`, e.g. `member:4294967297`, `plan:8589934593`.
    pub objects: Vec<String>,
    /// `ok`, or the reason a business rule refused it.
    pub result: String,
    pub idempotency_key: String,
}

impl OpRecord {
    pub fn new(
        audit: &Audit,
        at: Timestamp,
        actor_store: Option<StoreId>,
        key: &str,
        request: &Request,
        outcome: &Outcome,
    ) -> OpRecord {
        OpRecord {
            at,
            credential: audit.credential.0,
            role: audit.role.clone().into_owned(),
            store: store_of(outcome).or(actor_store),
            operation: audit.operation.clone(),
            objects: objects(request, outcome, audit.employee),
            result: match outcome {
                Outcome::Rejected(e) => format!("rejected: {e}"),
                Outcome::PlanConflicts(fs) => {
                    format!("rejected: {} conflicting occurrences", fs.len())
                }
                Outcome::PhoneTaken(_) => "rejected: phone taken".to_owned(),
                Outcome::MemberChannel(c) => match &**c {
                    super::member_session::ChannelOutcome::SignInRefused(e) => {
                        format!("rejected: {e}")
                    }
                    _ => "ok".to_owned(),
                },
                _ => "ok".to_owned(),
            },
            idempotency_key: key.to_owned(),
        }
    }
}

/// The store where a change happened, when the outcome says.
fn store_of(outcome: &Outcome) -> Option<StoreId> {
    match outcome {
        Outcome::Posted(e) => Some(e.store),
        Outcome::Counter(a) => a
            .entry
            .map(|e| e.store)
            .or(a.order.as_ref().map(|o| o.store)),
        Outcome::Order(o) => Some(o.store),
        Outcome::StoreCreated(s) => Some(s.id),
        Outcome::StoreHours(s, _) => Some(*s),
        Outcome::Resource(r) => Some(r.store),
        Outcome::Booking(b) => Some(b.store),
        Outcome::Plan(p, _) => Some(p.store),
        Outcome::GiftStock { store, .. } => Some(*store),
        Outcome::FollowUp(f) => Some(f.store),
        Outcome::Reminders(s, _) | Outcome::OnlineBooking(s, _) => Some(*s),
        Outcome::StockMoved(m) => Some(m.store),
        Outcome::DayClosed { store, .. } | Outcome::ClosingMode { store, .. } => Some(*store),
        _ => None,
    }
}

fn objects(
    request: &Request,
    outcome: &Outcome,
    employee: Option<super::staff::EmployeeId>,
) -> Vec<String> {
    let mut out = Vec::new();
    match request {
        Request::Ledger(c) => out.push(format!("member:{}", c.member())),
        Request::RegisterMember { .. } | Request::CreateStore { .. } | Request::Fingerprint(_) => {}
    }
    match outcome {
        Outcome::MemberRegistered(m) | Outcome::MemberEdited(m) => {
            out.push(format!("member:{}", m.id))
        }
        Outcome::FollowUp(f) => out.push(format!("member:{}", f.member)),
        Outcome::Employee(e) => out.push(format!("employee:{}", e.id.0)),
        Outcome::PhoneTaken(m) => out.push(format!("member:{m}")),
        Outcome::StoreCreated(s) => out.push(format!("store:{}", s.id)),
        Outcome::Service(s) => out.push(format!("service:{}", s.id.0)),
        Outcome::Resource(r) => out.push(format!("resource:{}", r.id.0)),
        Outcome::ResourceDeleted(r) => out.push(format!("resource:{}", r.0)),
        Outcome::Booking(b) => {
            out.push(format!("booking:{}", b.id.0));
            out.push(format!("member:{}", b.member));
        }
        Outcome::Plan(p, _) if p.id.0 != 0 => {
            out.push(format!("plan:{}", p.id.0));
            out.push(format!("member:{}", p.member));
        }
        Outcome::Credential(c) => out.push(format!("credential:{}", c.id.0)),
        Outcome::Counter(a) => {
            out.push(format!("member:{}", a.account.member));
            if let Some(o) = &a.order {
                out.push(format!("order:{}", o.id.0));
                typed_prices(o, &mut out);
            }
        }
        Outcome::Order(o) => {
            out.push(format!("order:{}", o.id.0));
            typed_prices(o, &mut out);
        }
        Outcome::Catalog(c) => match &**c {
            super::counter::CatalogChange::Item(i) => out.push(format!("item:{}", i.id.0)),
            super::counter::CatalogChange::ItemOverride { item, store, .. } => {
                out.push(format!("item:{}", item.0));
                out.push(format!("store:{store}"));
            }
            _ => {}
        },
        Outcome::StockMoved(m) => {
            out.extend(m.lines.iter().map(|l| format!("item:{}", l.item.0)));
        }
        // Found from both stores.
        Outcome::Transfer(t) => {
            out.push(format!("transfer:{}", t.id.0));
            out.push(format!("store:{}", t.from));
            out.push(format!("store:{}", t.to));
        }
        Outcome::GiftStock { gift, .. } => out.push(format!("gift:{}", gift.0)),
        Outcome::MemberChannel(c) => match &**c {
            super::member_session::ChannelOutcome::SessionOpened(s) => {
                out.push(format!("member:{}", s.member))
            }
            super::member_session::ChannelOutcome::SessionsEnded { member, .. } => {
                out.push(format!("member:{member}"))
            }
            _ => {}
        },
        Outcome::DayClosed { store, day } => out.push(format!("closing:{store}:{day}")),
        Outcome::Binned(k, id) | Outcome::Restored(k, id) => out.push(format!("{}:{id}", k.name())),
        // Found from the member and from both stores.
        Outcome::MessageQueued { member, .. } => out.push(format!("member:{member}")),
        Outcome::RefundRequest(r) => {
            out.push(format!("member:{}", r.member));
            out.push(format!("refund_request:{}", r.id.0));
        }
        Outcome::Waitlist(e) => {
            out.push(format!("member:{}", e.member));
            out.push(format!("waitlist:{}", e.id.0));
        }
        Outcome::HomeMoved(m) => {
            out.push(format!("member:{}", m.member));
            out.push(format!("store:{}", m.from));
            out.push(format!("store:{}", m.to));
        }
        _ => {}
    }
    out.dedup();
    // The employee credited is kept even when the change names many objects.
    if let Some(e) = employee {
        out.truncate(OBJECTS_MAX - 1);
        out.push(format!("employee:{}", e.0));
    }
    out.truncate(OBJECTS_MAX);
    out
}

/// An order sold at typed prices (改价) is found under `price_override:<order id>`.
fn typed_prices(o: &super::checkout::Order, out: &mut Vec<String>) {
    if o.lines.iter().any(|l| l.item.typed()) && o.paid_at.is_some() {
        out.push(format!("price_override:{}", o.id.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Role;
    use crate::domain::ids::MemberId;
    use crate::domain::ledger::LedgerCommand;
    use crate::domain::money::Amount;

    #[test]
    fn a_deduction_names_its_member_and_store() {
        let store = StoreId::new(2).unwrap();
        let member = MemberId::new(StoreId::new(1).unwrap(), 7);
        let p = Principal {
            credential: CredentialId(9),
            role: Role::Pos { store },
            operation: "POST /v1/members/{member_id}/deductions",
        };
        let request = Request::Ledger(LedgerCommand::Deduct {
            member,
            store,
            amount: Amount::new(5).unwrap(),
        });
        let outcome = Outcome::Rejected(crate::domain::ledger::LedgerError::Overflow);
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let r = OpRecord::new(&Audit::new(&p), at, Some(store), "k1", &request, &outcome);
        assert_eq!(r.objects, vec![format!("member:{member}")]);
        assert_eq!((r.credential, r.role.as_str()), (9, "pos"));
        assert_eq!(r.store, Some(store));
        assert!(r.result.starts_with("rejected"));
    }
}
