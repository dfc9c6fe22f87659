//! The front desk's member screens: edit a profile, search and list members, follow-up
//! visits (回访) and each store's list of members due for one.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::{acting_store, allow};
use super::dto::MemberDto;
use super::error::ApiError;
use super::handlers::{
    allow_member, json_status, member_id, meta, outcome_response, page_limit, parse_json, respond,
    store_id, write,
};
use super::membership::ActivityQuery;
use super::ApiState;
use crate::actors::directory::{EditMember, RecordFollowUp};
use crate::domain::access::{Capability, Principal};
use crate::domain::follow_up::{self, Channel, FollowUp};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{MemberId, Name, Phone};
use crate::domain::ledger::Timestamp;
use crate::domain::member::{Gender, MemberEdit, Tag, TAGS_MAX};
use crate::domain::member_fields::{FieldDef, FieldKind, FieldValue, MEMBER_FIELDS_MAX};
use crate::storage::members::{
    phone_prefix, MemberFilter, MemberIndex, MemberOrder, SortCursor, SEARCH_SCAN_BUDGET,
};

/// Longest search cursor, in hex characters.
pub const CURSOR_HEX_LEN_MAX: usize = 256;

/// A present field replaces what is there; `null` clears gender and birthday.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMemberBody {
    #[schema(
        pattern = r"^[ -]*\+?(?:[ -]*[0-9]){5,20}[ -]*$",
        example = "13800138000"
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[schema(min_length = 1)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Gender>, nullable)]
    pub gender: Option<Option<Gender>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = Date, nullable)]
    pub birthday: Option<Option<NaiveDate>>,
    #[schema(max_length = 500)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Replaces every tag.
    #[schema(max_items = 20)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Added after `tags`.
    #[schema(max_items = 20)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_tags: Option<Vec<String>>,
    /// Removed last.
    #[schema(max_items = 20)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_tags: Option<Vec<String>>,
    /// Member-field values by field id (`GET /v1/catalog` lists the fields); `null` clears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = field_changes_schema)]
    pub fields: Option<BTreeMap<String, Option<FieldValueBody>>>,
}

/// A struct only from a JSON object: serde would also read one from an array of its fields
/// in order, which the document does not admit.
pub(super) fn object<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<T, D::Error> {
    use serde::de::Error;
    let v = serde_json::Value::deserialize(d)?;
    if !v.is_object() {
        return Err(D::Error::custom("expected an object"));
    }
    serde_json::from_value(v).map_err(D::Error::custom)
}

/// A member-field value as JSON has it: an integer or a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum FieldValueBody {
    Number(i64),
    Text(String),
}

impl From<FieldValueBody> for FieldValue {
    fn from(v: FieldValueBody) -> Self {
        match v {
            FieldValueBody::Number(n) => FieldValue::Number(n),
            FieldValueBody::Text(t) => FieldValue::Text(t),
        }
    }
}

impl From<&FieldValue> for FieldValueBody {
    fn from(v: &FieldValue) -> Self {
        match v {
            FieldValue::Number(n) => FieldValueBody::Number(*n),
            FieldValue::Text(t) => FieldValueBody::Text(t.clone()),
        }
    }
}

/// An object of member-field values: each an integer, a string, or `null` (clears).
fn field_changes_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{
        AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
        SchemaType, Type,
    };
    let value = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
        )
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build();
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .additional_properties(Some(AdditionalProperties::RefOr(
            utoipa::openapi::RefOr::T(Schema::OneOf(value)),
        )))
        .build()
}

/// A field that is present, even as `null`: `Some(None)` clears.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn tags(raw: &Option<Vec<String>>) -> Result<Vec<Tag>, ApiError> {
    let raw = raw.as_deref().unwrap_or_default();
    if raw.len() > TAGS_MAX {
        return Err(ApiError::Invalid(format!(
            "at most {TAGS_MAX} tags in one list"
        )));
    }
    raw.iter()
        .map(|t| Tag::new(t).map_err(|e| ApiError::Invalid(e.to_string())))
        .collect()
}

impl EditMemberBody {
    fn edit(&self) -> Result<MemberEdit, ApiError> {
        Ok(MemberEdit {
            phone: self
                .phone
                .as_deref()
                .map(Phone::new)
                .transpose()
                .map_err(ApiError::InvalidField)?,
            name: self
                .name
                .as_deref()
                .map(|n| Name::new(n, "member name"))
                .transpose()
                .map_err(ApiError::InvalidField)?,
            gender: self.gender,
            birthday: self.birthday,
            notes: self.notes.clone(),
            tags: self.tags.is_some().then(|| tags(&self.tags)).transpose()?,
            add_tags: tags(&self.add_tags)?,
            remove_tags: tags(&self.remove_tags)?,
            fields: self
                .fields
                .iter()
                .flatten()
                .map(|(id, v)| {
                    let id = id
                        .parse::<u16>()
                        .map_err(|_| ApiError::Invalid(format!("no member field {id:?}")))?;
                    Ok((id, v.clone().map(FieldValue::from)))
                })
                .collect::<Result<_, ApiError>>()?,
        })
    }
}

/// `PATCH /v1/members/{id}`.
pub async fn edit_member(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let member = member_id(raw)?;
            allow_member(&state, &p, member)?;
            let body: EditMemberBody = parse_json(ct, &body)?;
            let edit = body.edit()?;
            edit.check(home_today(&state, member))
                .map_err(|e| ApiError::Invalid(e.to_string()))?;
            let meta = meta(&p, key, &format!("members/{raw}"), &body)?;
            let msg = EditMember { meta, member, edit };
            outcome_response(&state, write(&state.directory, msg).await?)
        }
        .await,
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MemberSearchQuery {
    /// Phones starting with these digits; hits come in phone order.
    #[param(pattern = r"^\+?[0-9]{1,20}$")]
    pub phone_prefix: Option<String>,
    /// Names starting with this text, any case; hits come in name order.
    #[param(min_length = 1, max_length = 64)]
    pub name_prefix: Option<String>,
    /// Members carrying this tag.
    #[param(min_length = 1, max_length = 32)]
    pub tag: Option<String>,
    /// Members of this home store (store staff see only their own store's).
    pub home_store_id: Option<u64>,
    pub level: Option<u16>,
    /// Stored value at least this, in minor units.
    pub balance_min: Option<i64>,
    /// Stored value at most this, in minor units.
    pub balance_max: Option<i64>,
    /// Registered at or after this time.
    #[param(value_type = Option<String>, format = DateTime)]
    pub registered_from: Option<Timestamp>,
    /// Registered before this time.
    #[param(value_type = Option<String>, format = DateTime)]
    pub registered_before: Option<Timestamp>,
    /// Last came to a counter (paid, spent, bought, used sessions) at or after this time.
    #[param(value_type = Option<String>, format = DateTime)]
    pub visited_from: Option<Timestamp>,
    /// Last came before this time, or never: members lapsed since (沉睡会员).
    #[param(value_type = Option<String>, format = DateTime)]
    pub visited_before: Option<Timestamp>,
    /// Order of the hits: `balance`, `last_visit` or `registered`, `-` first for
    /// descending (never visited comes first ascending). Sorting looks at every member the
    /// filters' index holds, at most 20,000: narrow a wider search (a home store, a tag).
    /// Without it, hits come in the index's order.
    #[param(pattern = "^-?(balance|last_visit|registered)$")]
    pub sort: Option<String>,
    /// With `field_value`: members whose member field (会员自定义字段) has that value.
    #[param(minimum = 1, maximum = 20)]
    pub field_id: Option<u16>,
    #[param(min_length = 1, max_length = 500)]
    pub field_value: Option<String>,
    /// The member whose current card this is (`<member id>-<generation>`, as printed); a
    /// replaced card finds nobody.
    #[param(pattern = "^[0-9]{1,20}-[0-9]{1,10}$")]
    pub card_number: Option<String>,
    /// `next_after` of the page before.
    #[param(pattern = "^[0-9a-f]{2,256}$")]
    pub after: Option<String>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

impl MemberSearchQuery {
    fn filter(&self) -> MemberFilterBody {
        MemberFilterBody {
            phone_prefix: self.phone_prefix.clone(),
            name_prefix: self.name_prefix.clone(),
            tag: self.tag.clone(),
            home_store_id: self.home_store_id,
            level: self.level,
            balance_min: self.balance_min,
            balance_max: self.balance_max,
            registered_from: self.registered_from,
            field_id: self.field_id,
            field_value: self.field_value.clone(),
            registered_before: self.registered_before,
            visited_from: self.visited_from,
            visited_before: self.visited_before,
        }
    }
}

/// Which members, as a search's query names them (see `GET /v1/members/search`), for the
/// bulk operations' bodies.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberFilterBody {
    #[schema(pattern = r"^\+?[0-9]{1,20}$")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_prefix: Option<String>,
    #[schema(min_length = 1, max_length = 64)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    #[schema(min_length = 1, max_length = 32)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_store_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_max: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_from: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_before: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visited_from: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visited_before: Option<Timestamp>,
    /// With `field_value`: members whose member field has that value.
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_id: Option<u16>,
    #[schema(min_length = 1, max_length = 500)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_value: Option<String>,
}

/// The index a filter walks and the rest of it as a filter. Store keys are held to their
/// own store's members; `bad` says how a refused value is reported (query or body).
pub(super) fn resolve(
    p: &Principal,
    f: &MemberFilterBody,
    cap: Capability,
    bad: fn(String) -> ApiError,
) -> Result<(MemberIndex, MemberFilter), ApiError> {
    let home = match (p.role.home_store(), f.home_store_id) {
        (_, Some(raw)) => Some(store_id(raw)?),
        (own, None) => own,
    };
    allow(p, cap, home, || "store".to_owned())?;
    let phone = f
        .phone_prefix
        .as_deref()
        .map(|raw| phone_prefix(raw).ok_or_else(|| bad("phone_prefix must be digits".into())))
        .transpose()?;
    let name = f.name_prefix.as_deref().map(str::trim);
    if name.is_some_and(|n| n.is_empty() || n.chars().count() > 64) {
        return Err(bad("name_prefix must be 1 to 64 characters".into()));
    }
    let tag = f
        .tag
        .as_deref()
        .map(Tag::new)
        .transpose()
        .map_err(|e| bad(e.to_string()))?;
    let index = match (&phone, &tag, name, home) {
        (Some(p), ..) => MemberIndex::PhonePrefix(p.clone()),
        (None, Some(t), ..) => MemberIndex::Tag(t.clone()),
        (None, None, Some(n), _) => MemberIndex::NamePrefix(n.to_owned()),
        (None, None, None, Some(h)) => MemberIndex::Home(h),
        (None, None, None, None) => MemberIndex::All,
    };
    let field = match (f.field_id, f.field_value.as_deref()) {
        (Some(id), Some(v)) if !v.is_empty() && v.chars().count() <= 500 => {
            Some((id, v.to_owned()))
        }
        (None, None) => None,
        _ => {
            return Err(bad(
                "field_id and field_value go together; a value is 1 to 500 characters".into(),
            ))
        }
    };
    let filter = MemberFilter {
        field,
        phone_prefix: phone,
        name_prefix: name.map(str::to_owned),
        tag,
        home,
        level: f.level,
        balance_min: f.balance_min,
        balance_max: f.balance_max,
        registered_from: f.registered_from,
        registered_before: f.registered_before,
        visited_from: f.visited_from,
        visited_before: f.visited_before,
    };
    Ok((index, filter))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberHit {
    pub member: MemberDto,
    /// Stored value, in minor units.
    pub balance: i64,
    pub level: u16,
    /// When the member last came to a counter; absent if never.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_visit: Option<Timestamp>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MembersPage {
    pub members: Vec<MemberHit>,
    /// Present while the index may hold more: pass it as `after`. A page may hold fewer
    /// than `limit` members and still have more after it.
    pub next_after: Option<String>,
}

/// A page cursor: the hex of the last index key a page looked at.
pub(super) fn cursor(after: Option<&str>) -> Result<Option<Vec<u8>>, ApiError> {
    after
        .map(|h| {
            (!h.is_empty() && h.len() <= CURSOR_HEX_LEN_MAX)
                .then(|| hex::decode(h).ok())
                .flatten()
                .ok_or_else(|| {
                    ApiError::InvalidQuery("after must be the next_after of a page".into())
                })
        })
        .transpose()
}

/// `GET /v1/members/search`.
pub async fn search_members(state: Arc<ApiState>, p: Principal, q: MemberSearchQuery) -> Response {
    respond((|| {
        let limit = page_limit(&state, q.limit)?;
        let (index, filter) =
            resolve(&p, &q.filter(), Capability::Counter, ApiError::InvalidQuery)?;
        let after = cursor(q.after.as_deref())?;
        let home_of = |m| state.registry.home_of(m);
        let order = q
            .sort
            .as_deref()
            .map(|s| {
                MemberOrder::parse(s).ok_or_else(|| {
                    ApiError::InvalidQuery("sort must be balance, last_visit or registered".into())
                })
            })
            .transpose()?;
        let (members, next) = match (q.card_number.as_deref(), order) {
            (Some(card), _) => (by_card(&state, &p, card, &filter)?.members, None),
            (None, Some(order)) => {
                let at = after
                    .map(|a| {
                        SortCursor::from_bytes(&a).ok_or_else(|| {
                            ApiError::InvalidQuery("after must be the next_after of a page".into())
                        })
                    })
                    .transpose()?;
                let page = state
                    .storage()
                    .sorted_members(&index, &filter, order, at, limit, &home_of)?
                    .ok_or_else(|| {
                        ApiError::InvalidQuery(format!(
                            "sorting looks at no more than {SEARCH_SCAN_BUDGET} members: \
                             narrow the search (home_store_id, tag, name_prefix, phone_prefix)"
                        ))
                    })?;
                (page.members, page.next.map(|c| c.to_bytes().to_vec()))
            }
            (None, None) => {
                let page = state.storage().search_members(
                    &index,
                    &filter,
                    after.as_deref(),
                    limit,
                    &home_of,
                )?;
                (page.members, page.next)
            }
        };
        let members = members
            .iter()
            .map(|(m, a)| MemberHit {
                member: MemberDto::new(m, home_of(m.id)),
                balance: a.balance.minor(),
                level: a.membership.level.0,
                last_visit: a.last_visit,
            })
            .collect();
        Ok(json_status(
            StatusCode::OK,
            &MembersPage {
                members,
                next_after: next.map(hex::encode),
            },
        ))
    })())
}

/// The one member a card number names, if it is their current card and the rest of the
/// query admits them.
fn by_card(
    state: &ApiState,
    p: &Principal,
    card: &str,
    filter: &MemberFilter,
) -> Result<crate::storage::members::MemberPage, ApiError> {
    let none = crate::storage::members::MemberPage {
        members: Vec::new(),
        next: None,
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (m, g) = card
        .split_once('-')
        .filter(|(m, g)| digits(m) && digits(g) && m.len() <= 20 && g.len() <= 10)
        .ok_or_else(|| ApiError::InvalidQuery("card_number is <member id>-<generation>".into()))?;
    let Some((member, generation)) = m
        .parse()
        .ok()
        .and_then(|m| MemberId::parse(m).ok())
        .zip(g.parse::<u32>().ok())
    else {
        return Ok(none);
    };
    if p.may(Capability::Counter, Some(state.registry.home_of(member)))
        .is_err()
    {
        return Ok(none);
    }
    let storage = state.storage();
    let (Some(m), Some(a)) = (storage.member(member)?, storage.account(member)?) else {
        return Ok(none);
    };
    let home = state.registry.home_of(member);
    if a.membership.card_generation != generation || !filter.admits(&m, &a, home) {
        return Ok(none);
    }
    Ok(crate::storage::members::MemberPage {
        members: vec![(m, a)],
        next: None,
    })
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpBody {
    pub channel: Channel,
    #[schema(min_length = 1, max_length = 500)]
    pub note: String,
    /// When to contact the member next; the member is on their home store's due list from
    /// that day until the next follow-up.
    #[schema(value_type = Option<String>, format = Date)]
    #[serde(default)]
    pub next_on: Option<NaiveDate>,
    /// The store whose staff made it (HQ keys); a store key's own store otherwise.
    #[serde(default)]
    pub store_id: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowUpDto {
    pub member_id: u64,
    pub seq: u64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub store_id: u32,
    pub credential_id: u64,
    pub channel: Channel,
    pub note: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub next_on: Option<NaiveDate>,
}

impl From<&FollowUp> for FollowUpDto {
    fn from(f: &FollowUp) -> Self {
        FollowUpDto {
            member_id: f.member.get(),
            seq: f.seq,
            at: f.at,
            store_id: f.store.get(),
            credential_id: f.credential,
            channel: f.channel,
            note: f.note.clone(),
            next_on: f.next_on,
        }
    }
}

/// `POST /v1/members/{id}/follow-ups`.
pub async fn record_follow_up(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let member = member_id(raw)?;
            allow_member(&state, &p, member)?;
            let body: FollowUpBody = parse_json(ct, &body)?;
            let store = acting_store(
                &p,
                body.store_id
                    .or(Some(u64::from(state.registry.home_of(member).get()))),
            )?;
            if !state.registry.has_store(store) {
                return Err(ApiError::NotFound(format!("store {store}")));
            }
            let today = store_today(&state, store);
            let note = follow_up::check(&body.note, body.next_on, today)
                .map_err(|e| ApiError::Invalid(e.to_string()))?;
            let meta = meta(&p, key, &format!("members/{raw}/follow-ups"), &body)?;
            let msg = RecordFollowUp {
                meta,
                member,
                store,
                channel: body.channel,
                note,
                next_on: body.next_on,
            };
            match write(&state.directory, msg).await? {
                Outcome::FollowUp(f) => {
                    Ok(json_status(StatusCode::CREATED, &FollowUpDto::from(&*f)))
                }
                other => outcome_response(&state, other),
            }
        }
        .await,
    )
}

fn store_today(state: &ApiState, store: crate::domain::ids::StoreId) -> NaiveDate {
    state
        .registry
        .business_day(store, state.registry.clock.now())
}

/// Today where the member belongs: a birthday may be today there.
fn home_today(state: &ApiState, member: crate::domain::ids::MemberId) -> NaiveDate {
    store_today(state, state.registry.home_of(member))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowUpsPage {
    pub follow_ups: Vec<FollowUpDto>,
    pub next_before: Option<u64>,
}

/// `GET /v1/members/{id}/follow-ups`: newest first.
pub async fn list_follow_ups(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    q: ActivityQuery,
) -> Response {
    respond((|| {
        let member = member_id(raw)?;
        allow_member(&state, &p, member)?;
        let limit = page_limit(&state, q.limit)?;
        if state.storage().member(member)?.is_none() {
            return Err(ApiError::NotFound(format!("member {raw}")));
        }
        let list = state.storage().follow_ups(member, q.before, limit)?;
        let next_before = (list.len() == limit)
            .then(|| list.last().map(|f| f.seq))
            .flatten();
        Ok(json_status(
            StatusCode::OK,
            &FollowUpsPage {
                follow_ups: list.iter().map(FollowUpDto::from).collect(),
                next_before,
            },
        ))
    })())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DueQuery {
    /// Members due on or before this day (the store's today if absent).
    #[param(value_type = Option<String>, format = Date)]
    pub on: Option<NaiveDate>,
    /// `next_after` of the page before.
    #[param(pattern = "^[0-9a-f]{2,256}$")]
    pub after: Option<String>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DueFollowUp {
    pub member: MemberDto,
    /// The latest follow-up, which set the date.
    pub follow_up: FollowUpDto,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DueFollowUpsPage {
    /// Earliest date first.
    pub due: Vec<DueFollowUp>,
    pub next_after: Option<String>,
}

/// `GET /v1/stores/{id}/follow-ups/due`: the store's members to contact, overdue first.
pub async fn due_follow_ups(state: Arc<ApiState>, p: Principal, raw: u64, q: DueQuery) -> Response {
    respond((|| {
        let store = store_id(raw)?;
        allow(&p, Capability::Counter, Some(store), || {
            format!("store {raw}")
        })?;
        if !state.registry.has_store(store) {
            return Err(ApiError::NotFound(format!("store {raw}")));
        }
        let limit = page_limit(&state, q.limit)?;
        let after = cursor(q.after.as_deref())?;
        let on = q.on.unwrap_or_else(|| store_today(&state, store));
        let page = state
            .storage()
            .due_follow_ups(store, on, after.as_deref(), limit)?;
        let due = page
            .due
            .iter()
            .map(|(m, f)| DueFollowUp {
                member: MemberDto::new(m, state.registry.home_of(m.id)),
                follow_up: FollowUpDto::from(f),
            })
            .collect();
        Ok(json_status(
            StatusCode::OK,
            &DueFollowUpsPage {
                due,
                next_after: page.next.map(hex::encode),
            },
        ))
    })())
}

/// `PUT /v1/member-fields/{id}`: HQ defines a member field.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberFieldBody {
    #[schema(min_length = 1)]
    pub name: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<FieldValueBody>,
}

pub async fn put_member_field(
    state: Arc<ApiState>,
    p: Principal,
    id: u16,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::Catalog, None, String::new)?;
            if !(1..=MEMBER_FIELDS_MAX).contains(&id) {
                return Err(ApiError::NotFound(format!("member field {id}")));
            }
            let b: MemberFieldBody = parse_json(ct, &body)?;
            let name = Name::new(&b.name, "field name").map_err(ApiError::InvalidField)?;
            let field = FieldDef {
                id,
                name: name.as_str().to_owned(),
                kind: b.kind.clone(),
                required: b.required,
                default: b.default.clone().map(FieldValue::from),
            };
            field
                .check()
                .map_err(|e| ApiError::Invalid(e.to_string()))?;
            super::membership::catalog_write(
                &state,
                meta(&p, key, &format!("member-fields/{id}"), &b)?,
                crate::domain::counter::CatalogChange::MemberField(field),
            )
            .await
        }
        .await,
    )
}
