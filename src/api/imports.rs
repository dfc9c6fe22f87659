//! `POST /v1/members/imports` and `GET /v1/members/export`: a chain moving from another
//! system brings its members with their balances, points, count cards and levels; the same
//! columns come out again. Opening balances come out of the home store's equity account
//! (`StoreAccountKind::Equity`), so the ledger still sums to zero.
//!
//! Each row is up to three writes of its own, keyed `<key>/<row>` (the member),
//! `<key>/<row>/p` (the profile columns) and `<key>/<row>/o` (the opening): sending the
//! same file again under the same key imports nobody twice, and a file too big for one
//! request goes in parts, each naming its `first_row`.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::error::ApiError;
use super::handlers::{
    home_ledger, idempotency_key, json_status, meta, page_limit, parse_json, respond, store_id,
    write,
};
use super::ApiState;
use crate::actors::counter::{MemberRequest, MemberWrite};
use crate::actors::directory::{EditMember, RegisterMember};
use crate::domain::access::{Capability, Principal};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::import::{
    export_row, field_column, Header, ImportError, ImportRow, COLUMNS, IMPORT_ROWS_MAX,
};
use crate::domain::oplog::Audit;
use crate::storage::members::{MemberFilter, MemberIndex};

/// Rows imported at once: each waits for its writes to be durable, so they overlap.
const IMPORT_CONCURRENCY: usize = 32;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    pub home_store_id: u64,
    /// The row number, in the whole file, of the first row here (1 when the file goes in
    /// one request): rows are keyed by it.
    #[serde(default = "first")]
    #[schema(minimum = 1)]
    pub first_row: u32,
    /// The file: a header line naming the columns (`phone`, `name`, `balance`, `bonus`,
    /// `points`, `level_id`, `count_cards` as `service_id:sessions[:YYYY-MM-DD]` separated
    /// by `;`, `gender` (female, male, other), `birthday` (YYYY-MM-DD), `notes`, `tags`
    /// separated by `;`, `field_<id>` for a member field), then one member a line, at most
    /// 1,000. Money in minor units.
    pub csv: String,
}

fn first() -> u32 {
    1
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportRowDto {
    pub row: u32,
    /// `imported` or `refused`.
    pub status: &'static str,
    /// The member, when registered (a refused opening leaves them registered).
    pub member_id: Option<u64>,
    pub code: Option<&'static str>,
    pub message: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReportDto {
    pub home_store_id: u32,
    pub imported: usize,
    pub refused: usize,
    pub rows: Vec<ImportRowDto>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    pub home_store_id: u64,
    /// `next_after` of the page before.
    #[param(pattern = "^[0-9a-f]{2,256}$")]
    pub after: Option<String>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportDto {
    /// The import's columns, header first: importing it into another chain brings the
    /// same members and holdings.
    pub csv: String,
    pub rows: usize,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

fn refused(row: u32, member: Option<MemberId>, e: &ApiError) -> ImportRowDto {
    let (_, code) = e.status_and_code();
    ImportRowDto {
        row,
        status: "refused",
        member_id: member.map(|m| m.get()),
        code: Some(code),
        message: Some(e.to_string()),
    }
}

#[allow(clippy::too_many_arguments)] // one row: where it goes, who, under which key
async fn import_row(
    state: &ApiState,
    header: &Header,
    p: &Principal,
    key: &str,
    home: StoreId,
    row: u32,
    fields: Result<Vec<String>, String>,
) -> ImportRowDto {
    let defs = &state.registry.catalog().member_fields;
    let checked = fields.and_then(|f| {
        let refs: Vec<&str> = f.iter().map(String::as_str).collect();
        Ok((ImportRow::parse(header, &refs, defs)?, f))
    });
    let (r, fields) = match checked {
        Ok(x) => x,
        Err(m) => return refused(row, None, &ApiError::Invalid(m)),
    };
    if let Err(e) = precheck(state, home, &r) {
        return refused(row, None, &e);
    }
    let member = match register(state, p, key, home, row, &r).await {
        Ok(m) => m,
        Err(e) => return refused(row, None, &e),
    };
    if let Some(edit) = r.profile.clone() {
        let edited = async {
            let meta = meta(
                p,
                Some(format!("{key}/{row}/p")),
                &format!("members/imports/{row}/profile"),
                &fields,
            )?;
            write(&state.directory, EditMember { meta, member, edit }).await
        }
        .await;
        if let Err(e) = edited {
            return refused(row, Some(member), &e);
        }
    }
    if let Some(op) = r.opening() {
        let opened = async {
            let meta = meta(
                p,
                Some(format!("{key}/{row}/o")),
                &format!("members/imports/{row}"),
                &fields,
            )?;
            let msg = MemberWrite {
                meta,
                member,
                store: home,
                card: None,
                request: MemberRequest::Op(op),
            };
            match write(&home_ledger(state, member)?, msg).await? {
                Outcome::Counter(_) => Ok(()),
                Outcome::Rejected(e) => Err(ApiError::Ledger(e)),
                other => Err(ApiError::InvalidBody(format!("unexpected {other:?}"))),
            }
        }
        .await;
        if let Err(e) = opened {
            return refused(row, Some(member), &e);
        }
    }
    ImportRowDto {
        row,
        status: "imported",
        member_id: Some(member.get()),
        code: None,
        message: None,
    }
}

/// What the row names must exist, and its profile must pass, before anyone is registered.
fn precheck(state: &ApiState, home: StoreId, r: &ImportRow) -> Result<(), ApiError> {
    if let Some(edit) = &r.profile {
        let today = state
            .registry
            .business_day(home, state.registry.clock.now());
        edit.check(today)
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
    }
    if let Some(l) = r.level.filter(|l| l.0 != 0) {
        if state.registry.catalog().levels.level(l).is_none() {
            return Err(ApiError::NotFound(format!("level {}", l.0)));
        }
    }
    for (service, _, _) in &r.cards {
        if state
            .storage()
            .service(*service)?
            .is_none_or(|(_, deleted)| deleted)
        {
            return Err(ApiError::NotFound(format!("service {}", service.0)));
        }
    }
    Ok(())
}

async fn register(
    state: &ApiState,
    p: &Principal,
    key: &str,
    home: StoreId,
    row: u32,
    r: &ImportRow,
) -> Result<MemberId, ApiError> {
    let msg = RegisterMember {
        audit: Audit::new(p),
        key: idempotency_key(p, Some(format!("{key}/{row}")))?,
        phone: r.phone.clone(),
        name: r.name.clone(),
        home,
    };
    match write(&state.directory, msg).await? {
        Outcome::MemberRegistered(m) => Ok(m.id),
        Outcome::PhoneTaken(id) => Err(ApiError::PhoneTaken(id.get())),
        other => Err(ApiError::InvalidBody(format!("unexpected {other:?}"))),
    }
}

/// `POST /v1/members/imports` (HQ).
pub async fn import(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let key = super::membership::bulk_key(key)?;
            let b: ImportBody = parse_json(ct, &body)?;
            let home = store_id(b.home_store_id)?;
            if !state.registry.has_store(home) {
                return Err(ApiError::NotFound(format!("store {home}")));
            }
            if b.first_row == 0 {
                return Err(ApiError::Invalid("first_row counts from 1".into()));
            }
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(b.csv.as_bytes());
            let names = reader
                .headers()
                .map_err(|e| ApiError::Invalid(format!("header: {e}")))?
                .clone();
            let header = Header::new(names.iter()).map_err(|e| ApiError::Invalid(e.to_string()))?;
            let rows: Vec<Result<Vec<String>, String>> = reader
                .records()
                .take(IMPORT_ROWS_MAX + 1)
                .map(|r| {
                    r.map(|rec| rec.iter().map(str::to_owned).collect())
                        .map_err(|e| format!("not a CSV line: {e}"))
                })
                .collect();
            if rows.len() > IMPORT_ROWS_MAX {
                return Err(ApiError::Invalid(ImportError::TooManyRows.to_string()));
            }
            let (state, header, p, key) = (&*state, &header, &p, key.as_str());
            let first = b.first_row;
            let report: Vec<ImportRowDto> = futures::stream::iter(rows.into_iter().enumerate())
                .map(|(i, fields)| {
                    let row = first.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
                    import_row(state, header, p, key, home, row, fields)
                })
                .buffered(IMPORT_CONCURRENCY)
                .collect()
                .await;
            let imported = report.iter().filter(|r| r.status == "imported").count();
            Ok(json_status(
                StatusCode::OK,
                &ImportReportDto {
                    home_store_id: home.get(),
                    imported,
                    refused: report.len() - imported,
                    rows: report,
                },
            ))
        }
        .await,
    )
}

/// `GET /v1/members/export?home_store_id=` (HQ): a page of a store's members as CSV.
pub async fn export(state: Arc<ApiState>, p: Principal, q: ExportQuery) -> Response {
    respond((|| {
        allow(&p, Capability::ChainAdmin, None, String::new)?;
        let home = store_id(q.home_store_id)?;
        let limit = page_limit(&state, q.limit)?;
        let after = super::members::cursor(q.after.as_deref())?;
        let page = state.storage().search_members(
            &MemberIndex::Home(home),
            &MemberFilter::default(),
            after.as_deref(),
            limit,
            &|m| state.registry.home_of(m),
        )?;
        let mut out = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| ApiError::InvalidBody(e.to_string());
        let field_ids: Vec<u16> = state
            .registry
            .catalog()
            .member_fields
            .keys()
            .copied()
            .collect();
        let mut header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        header.extend(field_ids.iter().map(|id| field_column(*id)));
        out.write_record(&header).map_err(io)?;
        for (m, account) in &page.members {
            out.write_record(export_row(m, account, &field_ids))
                .map_err(io)?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| ApiError::InvalidBody(e.to_string()))?;
        Ok(json_status(
            StatusCode::OK,
            &ExportDto {
                csv: String::from_utf8_lossy(&bytes).into_owned(),
                rows: page.members.len(),
                next_after: page.next.map(hex::encode),
            },
        ))
    })())
}
