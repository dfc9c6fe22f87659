//! Daily closing (日结) and statistics (统计分析) over HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::error::ApiError;
use super::handlers::{json_status, meta, page_limit, parse_json, respond, store_for, write};
use super::ApiState;
use crate::actors::closing::{CloseDay, SetClosingMode};
use crate::domain::access::{Capability, Principal};
use crate::domain::closing::{ClosedBy, Closing, DayFigures, Figure};
use crate::domain::hours;
use crate::domain::idempotency::Outcome;

/// Longest range one statistics request covers.
pub const STATS_DAYS_MAX: i64 = 366;
/// Services listed in "top services".
pub const TOP_SERVICES: usize = 10;

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosingModeBody {
    /// true: the store closes each day by hand (and after that takes no more sales that
    /// day); every day is still sealed automatically at its end if nobody closed it.
    pub manual: bool,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// The business day to close, in the store's time zone; today if absent.
    pub business_date: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ClosingsQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// One store; absent: the whole chain (HQ only).
    pub store_id: Option<u64>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A day's figures by name (`sales`, `recharges`, ...), minor units or counts.
pub(super) type FiguresDto = BTreeMap<&'static str, i64>;

pub(super) fn figures_json(f: &DayFigures) -> FiguresDto {
    f.named().collect()
}

/// A sealed business day (日结).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClosingDto {
    pub store_id: u32,
    pub business_date: NaiveDate,
    #[schema(value_type = String, format = DateTime)]
    pub sealed_at: crate::domain::ledger::Timestamp,
    /// `automatic` or `manual`.
    pub closed_by: &'static str,
    /// Who closed it by hand.
    pub credential_id: Option<u64>,
    #[schema(value_type = BTreeMap<String, i64>)]
    pub figures: FiguresDto,
}

fn closing_json(c: &Closing) -> ClosingDto {
    let (by, credential) = match c.by {
        ClosedBy::Automatic => ("automatic", None),
        ClosedBy::Manual { credential } => ("manual", Some(credential)),
    };
    ClosingDto {
        store_id: c.store.get(),
        business_date: c.day,
        sealed_at: c.sealed_at,
        closed_by: by,
        credential_id: credential,
        figures: figures_json(&c.figures),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClosingModeDto {
    pub store_id: u32,
    /// Days close by hand (and automatically at the store's cut-off).
    pub manual: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClosingsPage {
    pub store_id: u32,
    pub closings: Vec<ClosingDto>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceStatsDto {
    pub service_id: u64,
    pub name: Option<String>,
    pub bookings: i64,
    pub completed: i64,
    pub served_minutes: i64,
    pub no_shows: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayStatsDto {
    pub business_date: NaiveDate,
    #[schema(value_type = BTreeMap<String, i64>)]
    pub figures: FiguresDto,
}

/// Minutes of completed bookings over the minutes the store's current resources could work
/// in the range (business hours, days off).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UtilisationDto {
    pub served_minutes: i64,
    pub working_minutes: i64,
    pub basis_points: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsDto {
    /// Absent: the whole chain.
    pub store_id: Option<u32>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[schema(value_type = BTreeMap<String, i64>)]
    pub totals: FiguresDto,
    pub days: Vec<DayStatsDto>,
    pub stored_value_outstanding: i64,
    pub top_services: Vec<ServiceStatsDto>,
    pub utilisation: UtilisationDto,
}

pub(super) fn range(from: NaiveDate, to: NaiveDate) -> Result<(), ApiError> {
    let days = (to - from).num_days();
    if days < 0 {
        return Err(ApiError::InvalidQuery("from must not be after to".into()));
    }
    if days >= STATS_DAYS_MAX {
        return Err(ApiError::InvalidQuery(format!(
            "a range covers at most {STATS_DAYS_MAX} days"
        )));
    }
    Ok(())
}

/// `PUT /v1/stores/{id}/closing-mode`.
pub async fn put_mode(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let sid = store_for(&state, &p, Capability::ChainAdmin, store)?;
            let b: ClosingModeBody = parse_json(ct, &body)?;
            let msg = SetClosingMode {
                meta: meta(&p, key, &format!("stores/{store}/closing-mode"), &b)?,
                store: sid,
                manual: b.manual,
            };
            match write(&state.closings, msg).await? {
                Outcome::ClosingMode { store, manual } => Ok(json_status(
                    StatusCode::OK,
                    &ClosingModeDto {
                        store_id: store.get(),
                        manual,
                    },
                )),
                other => Err(ApiError::InvalidBody(format!(
                    "unexpected outcome {other:?}"
                ))),
            }
        }
        .await,
    )
}

/// `POST /v1/stores/{id}/closings`: close a business day by hand and answer its sealed
/// record. Closing a day already sealed answers that record.
pub async fn close(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let sid = store_for(&state, &p, Capability::ManageStore, store)?;
            let b: CloseBody = parse_json(ct, &body)?;
            let day = b
                .business_date
                .unwrap_or_else(|| state.registry.business_day(sid, state.registry.clock.now()));
            let msg = CloseDay {
                meta: meta(&p, key, &format!("stores/{store}/closings"), &b)?,
                store: sid,
                day,
                credential: p.credential.0,
            };
            match write(&state.closings, msg).await? {
                Outcome::DayClosed { store, day } => {
                    let sealed = state
                        .storage()
                        .closing(store, day)?
                        .ok_or_else(|| ApiError::NotFound(format!("closing of {day}")))?;
                    Ok(json_status(StatusCode::CREATED, &closing_json(&sealed)))
                }
                other => Err(ApiError::InvalidBody(format!(
                    "unexpected outcome {other:?}"
                ))),
            }
        }
        .await,
    )
}

/// `GET /v1/stores/{id}/closings?from=&to=&limit=`: sealed days, oldest first.
pub async fn list(state: Arc<ApiState>, p: Principal, store: u64, q: ClosingsQuery) -> Response {
    respond(
        async {
            let sid = store_for(&state, &p, Capability::ManageStore, store)?;
            range(q.from, q.to)?;
            let limit = page_limit(&state, q.limit)?;
            let closings = state.storage().closings(sid, q.from, q.to, limit)?;
            let items: Vec<_> = closings.iter().map(closing_json).collect();
            Ok(json_status(
                StatusCode::OK,
                &ClosingsPage {
                    store_id: sid.get(),
                    closings: items,
                },
            ))
        }
        .await,
    )
}

/// `GET /v1/stats?store_id=&from=&to=`: the day figures of a store (or the chain) per day
/// and in total, with the stored value outstanding now. Read from the per-day figures that
/// every write keeps, so a year costs one short scan, not a pass over the history.
pub async fn stats(state: Arc<ApiState>, p: Principal, q: StatsQuery) -> Response {
    respond(
        async {
            range(q.from, q.to)?;
            let store = match q.store_id {
                Some(raw) => Some(store_for(&state, &p, Capability::ManageStore, raw)?),
                None => {
                    allow(&p, Capability::ChainAdmin, None, String::new)?;
                    None
                }
            };
            let storage = state.storage();
            let stores = match store {
                Some(s) => vec![s],
                None => state.registry.store_ids(),
            };
            let mut days: BTreeMap<NaiveDate, DayFigures> = BTreeMap::new();
            match store {
                Some(sid) => {
                    let mut d = q.from;
                    while d <= q.to {
                        days.insert(d, storage.day_figures(sid, d)?);
                        d = d
                            .succ_opt()
                            .ok_or_else(|| ApiError::InvalidQuery("date".into()))?;
                    }
                }
                None => {
                    for (day, _, f) in storage.figures_range(q.from, q.to)? {
                        days.entry(day).or_default().add_all(&f);
                    }
                }
            }
            let mut total = DayFigures::default();
            for f in days.values() {
                total.add_all(f);
            }
            // What members homed here hold: the opposite of the home's store-side book.
            let mut liability: i64 = 0;
            for &home in &stores {
                for (_, balance) in storage.book(home)? {
                    liability = liability
                        .checked_sub(balance.minor())
                        .ok_or(ApiError::Ledger(
                            crate::domain::ledger::LedgerError::Overflow,
                        ))?;
                }
            }
            let mut services: Vec<_> = storage
                .service_totals(store, q.from, q.to)?
                .into_iter()
                .collect();
            services.sort_by_key(|(id, s)| (std::cmp::Reverse((s.completed, s.bookings)), id.0));
            services.truncate(TOP_SERVICES);
            let mut top = Vec::with_capacity(services.len());
            for (id, s) in services {
                let name = storage
                    .service(id)?
                    .map(|(svc, _)| svc.name.as_str().to_owned());
                top.push(ServiceStatsDto {
                    service_id: id.0,
                    name,
                    bookings: s.bookings,
                    completed: s.completed,
                    served_minutes: s.served_minutes,
                    no_shows: s.no_shows,
                });
            }
            let mut working: i64 = 0;
            for s in &stores {
                let hours = storage.store_hours(*s)?;
                for r in storage.resources_of(*s)? {
                    let mut d = q.from;
                    while d <= q.to {
                        working += hours::working_minutes(&hours, &r.working_hours, &r.days_off, d);
                        let Some(next) = d.succ_opt() else { break };
                        d = next;
                    }
                }
            }
            let served = total.get(Figure::ServedMinutes);
            let per_day: Vec<_> = days
                .iter()
                .map(|(d, f)| DayStatsDto {
                    business_date: *d,
                    figures: figures_json(f),
                })
                .collect();
            Ok(json_status(
                StatusCode::OK,
                &StatsDto {
                    store_id: store.map(|s| s.get()),
                    from: q.from,
                    to: q.to,
                    totals: figures_json(&total),
                    days: per_day,
                    stored_value_outstanding: liability,
                    top_services: top,
                    utilisation: UtilisationDto {
                        served_minutes: served,
                        working_minutes: working,
                        basis_points: (working > 0)
                            .then(|| served.saturating_mul(10_000) / working),
                    },
                },
            ))
        }
        .await,
    )
}
