//! `/v1/employees`: employees (员工) and what they are credited with (the basis of
//! commission). HQ and the managers of every store an employee works in manage them.

use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::closing::{figures_json, range, FiguresDto};
use super::error::ApiError;
use super::handlers::{json_status, meta, page_limit, parse_json, respond, store_id, write};
use super::members::present;
use super::ApiState;
use crate::actors::staff::{LeaveEmployee, PutEmployee};
use crate::domain::access::{Capability, Principal};
use crate::domain::booking::ResourceId;
use crate::domain::closing::DayFigures;
use crate::domain::idempotency::Outcome;
use crate::domain::ids::StoreId;
use crate::domain::staff::{Employee, EmployeeEdit, EmployeeId, EmployeeStatus};

/// A write credited to an employee (导购): `raw` must be active and work at `store`.
pub(super) fn credited(
    state: &ApiState,
    raw: Option<u32>,
    store: StoreId,
) -> Result<Option<EmployeeId>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let id = EmployeeId(raw);
    state.registry.catalog().staff.attributable(id, store)?;
    Ok(Some(id))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeBody {
    #[schema(min_length = 1)]
    pub name: String,
    #[schema(
        pattern = r"^[ -]*\+?(?:[ -]*[0-9]){5,20}[ -]*$",
        example = "13800138000"
    )]
    pub phone: Option<String>,
    /// The stores they work in, 1 to 64.
    #[schema(min_items = 1, max_items = 64)]
    pub store_ids: Vec<u32>,
    /// Job title, at most 32 characters (美容师, front desk).
    #[schema(max_length = 32)]
    #[serde(default)]
    pub job: String,
    /// The bookable resource that is them, in one of their stores: its services are
    /// credited to them.
    pub resource_id: Option<u64>,
}

/// A present field replaces; `null` clears `phone` or `resource_id`.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditEmployeeBody {
    #[schema(min_length = 1)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable, pattern = r"^[ -]*\+?(?:[ -]*[0-9]){5,20}[ -]*$")]
    pub phone: Option<Option<String>>,
    #[schema(min_items = 1, max_items = 64)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_ids: Option<Vec<u32>>,
    #[schema(max_length = 32)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u64>, nullable)]
    pub resource_id: Option<Option<u64>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmployeeDto {
    pub id: u32,
    pub name: String,
    pub phone: Option<String>,
    pub store_ids: Vec<u32>,
    pub job: String,
    /// `active` or `left`.
    pub status: &'static str,
    pub resource_id: Option<u64>,
    /// Their API keys (revoked when they left).
    pub credential_ids: Vec<u64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: crate::domain::ledger::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub left_at: Option<crate::domain::ledger::Timestamp>,
}

impl From<&Employee> for EmployeeDto {
    fn from(e: &Employee) -> Self {
        EmployeeDto {
            id: e.id.0,
            name: e.name.clone(),
            phone: e.phone.clone(),
            store_ids: e.stores.iter().map(|s| s.get()).collect(),
            job: e.job.clone(),
            status: e.status.name(),
            resource_id: e.resource.map(|r| r.0),
            credential_ids: e.credentials.clone(),
            created_at: e.created_at,
            left_at: e.left_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmployeesPage {
    pub employees: Vec<EmployeeDto>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EmployeesQuery {
    /// Those working in this store (a store manager sees only their stores' employees).
    pub store_id: Option<u64>,
    /// `active` or `left`; both if absent.
    #[param(pattern = "^(active|left)$")]
    pub status: Option<String>,
    pub after: Option<u32>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    #[param(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[param(value_type = String, format = Date)]
    pub to: NaiveDate,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmployeeDayDto {
    pub business_date: NaiveDate,
    pub store_id: u32,
    #[schema(value_type = BTreeMap<String, i64>)]
    pub figures: FiguresDto,
}

/// What an employee was credited with: sales and recharges they made, bookings on their
/// resource (bookings, completed, served_minutes, no_shows), by day and store.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmployeeStatsDto {
    pub employee_id: u32,
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[schema(value_type = BTreeMap<String, i64>)]
    pub totals: FiguresDto,
    pub days: Vec<EmployeeDayDto>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffTotalsDto {
    pub employee_id: u32,
    pub name: String,
    pub job: String,
    pub status: &'static str,
    #[schema(value_type = BTreeMap<String, i64>)]
    pub totals: FiguresDto,
}

/// Each employee of a store with what they were credited with there: the basis of
/// commission for a period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreStaffStatsDto {
    pub store_id: u32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub employees: Vec<StaffTotalsDto>,
}

fn stores(raw: &[u32]) -> Result<Vec<StoreId>, ApiError> {
    raw.iter().map(|s| store_id(u64::from(*s))).collect()
}

/// May `p` manage every store of `stores`? A store outside theirs answers 404 for the
/// employee, as for any object of another store.
fn manage_all(p: &Principal, stores: &[StoreId], what: &str) -> Result<(), ApiError> {
    for s in stores {
        allow(p, Capability::ManageStore, Some(*s), || what.to_owned())?;
    }
    Ok(())
}

fn employee(state: &ApiState, p: &Principal, raw: u32) -> Result<Employee, ApiError> {
    let what = format!("employee {raw}");
    let e = state
        .registry
        .catalog()
        .staff
        .get(EmployeeId(raw))
        .cloned()
        .ok_or_else(|| ApiError::NotFound(what.clone()))?;
    // Anyone who manages one of their stores sees them.
    let mut seen = Err(ApiError::NotFound(what.clone()));
    for s in &e.stores {
        seen = allow(p, Capability::ManageStore, Some(*s), || what.clone());
        if seen.is_ok() {
            break;
        }
    }
    seen.map(|()| e)
}

fn answer(outcome: Outcome, status: StatusCode) -> Result<Response, ApiError> {
    match outcome {
        Outcome::Employee(e) => Ok(json_status(status, &EmployeeDto::from(&*e))),
        other => Err(ApiError::InvalidBody(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

/// `POST /v1/employees`.
pub async fn hire(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let b: EmployeeBody = parse_json(ct, &body)?;
            let s = stores(&b.store_ids)?;
            manage_all(&p, &s, "store")?;
            let edit = EmployeeEdit {
                name: Some(b.name.clone()),
                phone: Some(b.phone.clone()),
                stores: Some(s),
                job: Some(b.job.clone()),
                resource: Some(b.resource_id.map(ResourceId)),
            };
            let meta = meta(&p, key, "employees", &b)?;
            let msg = PutEmployee {
                meta,
                id: None,
                edit,
            };
            answer(write(&state.directory, msg).await?, StatusCode::CREATED)
        }
        .await,
    )
}

/// `PATCH /v1/employees/{id}`.
pub async fn edit(
    state: Arc<ApiState>,
    p: Principal,
    id: u32,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let old = employee(&state, &p, id)?;
            manage_all(&p, &old.stores, &format!("employee {id}"))?;
            let b: EditEmployeeBody = parse_json(ct, &body)?;
            let new_stores = b.store_ids.as_deref().map(stores).transpose()?;
            if let Some(s) = &new_stores {
                manage_all(&p, s, "store")?;
            }
            let edit = EmployeeEdit {
                name: b.name.clone(),
                phone: b.phone.clone(),
                stores: new_stores,
                job: b.job.clone(),
                resource: b.resource_id.map(|r| r.map(ResourceId)),
            };
            let meta = meta(&p, key, &format!("employees/{id}"), &b)?;
            let msg = PutEmployee {
                meta,
                id: Some(EmployeeId(id)),
                edit,
            };
            answer(write(&state.directory, msg).await?, StatusCode::OK)
        }
        .await,
    )
}

/// `POST /v1/employees/{id}/leave`: the record and figures stay, their keys stop working.
pub async fn leave(state: Arc<ApiState>, p: Principal, id: u32, key: Option<String>) -> Response {
    respond(
        async {
            let old = employee(&state, &p, id)?;
            manage_all(&p, &old.stores, &format!("employee {id}"))?;
            let meta = meta(&p, key, &format!("employees/{id}/leave"), &())?;
            let msg = LeaveEmployee {
                meta,
                id: EmployeeId(id),
            };
            answer(write(&state.directory, msg).await?, StatusCode::OK)
        }
        .await,
    )
}

pub async fn get(state: Arc<ApiState>, p: Principal, id: u32) -> Response {
    respond(employee(&state, &p, id).map(|e| json_status(StatusCode::OK, &EmployeeDto::from(&e))))
}

/// Employees in id order, a page at a time.
pub async fn list(state: Arc<ApiState>, p: Principal, q: EmployeesQuery) -> Response {
    respond((|| {
        let limit = page_limit(&state, q.limit)?;
        let store = q.store_id.map(store_id).transpose()?;
        match store {
            Some(s) => allow(&p, Capability::ManageStore, Some(s), || {
                format!("store {s}")
            })?,
            None => allow(&p, Capability::ManageStore, None, String::new)?,
        }
        let status = match q.status.as_deref() {
            None => None,
            Some("active") => Some(EmployeeStatus::Active),
            Some("left") => Some(EmployeeStatus::Left),
            Some(_) => return Err(ApiError::InvalidQuery("status is active or left".into())),
        };
        let catalog = state.registry.catalog();
        let out: Vec<EmployeeDto> = catalog
            .staff
            .after(q.after.unwrap_or(0))
            .filter(|e| store.is_none_or(|s| e.stores.contains(&s)))
            .filter(|e| status.is_none_or(|st| e.status == st))
            // Without a store, a manager sees the employees of the stores they manage.
            .filter(|e| {
                e.stores
                    .iter()
                    .any(|s| p.may(Capability::ManageStore, Some(*s)).is_ok())
            })
            .take(limit)
            .map(EmployeeDto::from)
            .collect();
        let next_after = (out.len() == limit)
            .then(|| out.last().map(|e| e.id))
            .flatten();
        Ok(json_status(
            StatusCode::OK,
            &EmployeesPage {
                employees: out,
                next_after,
            },
        ))
    })())
}

/// `GET /v1/employees/{id}/stats?from=&to=`: in the stores the caller manages.
pub async fn stats(state: Arc<ApiState>, p: Principal, id: u32, q: RangeQuery) -> Response {
    respond((|| {
        range(q.from, q.to)?;
        let e = employee(&state, &p, id)?;
        let mut total = DayFigures::default();
        let mut days = Vec::new();
        for (day, store, f) in state.storage().employee_figures(e.id, q.from, q.to)? {
            if p.may(Capability::ManageStore, Some(store)).is_err() {
                continue;
            }
            total.add_all(&f);
            days.push(EmployeeDayDto {
                business_date: day,
                store_id: store.get(),
                figures: figures_json(&f),
            });
        }
        Ok(json_status(
            StatusCode::OK,
            &EmployeeStatsDto {
                employee_id: e.id.0,
                name: e.name,
                from: q.from,
                to: q.to,
                totals: figures_json(&total),
                days,
            },
        ))
    })())
}

/// `GET /v1/stores/{id}/staff-stats?from=&to=`: every employee who works there, and every
/// one credited there in the period who has moved to other stores since.
pub async fn store_stats(state: Arc<ApiState>, p: Principal, raw: u64, q: RangeQuery) -> Response {
    respond((|| {
        range(q.from, q.to)?;
        let store = super::handlers::store_for(&state, &p, Capability::ManageStore, raw)?;
        let catalog = state.registry.catalog();
        let storage = state.storage();
        let mut out = Vec::new();
        for e in catalog.staff.after(0) {
            let mut total = DayFigures::default();
            let mut credited = false;
            for (_, s, f) in storage.employee_figures(e.id, q.from, q.to)? {
                if s == store {
                    total.add_all(&f);
                    credited = true;
                }
            }
            if !credited && !e.stores.contains(&store) {
                continue;
            }
            out.push(StaffTotalsDto {
                employee_id: e.id.0,
                name: e.name.clone(),
                job: e.job.clone(),
                status: e.status.name(),
                totals: figures_json(&total),
            });
        }
        Ok(json_status(
            StatusCode::OK,
            &StoreStaffStatsDto {
                store_id: store.get(),
                from: q.from,
                to: q.to,
                employees: out,
            },
        ))
    })())
}
