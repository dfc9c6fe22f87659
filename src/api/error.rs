//! Every error a client can see, and the one place that maps it to a status and JSON body.

use std::convert::Infallible;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

use crate::actors::ActorError;
use crate::domain::checkout::CheckoutError;
use crate::domain::coupon::CouponError;
use crate::domain::gift::GiftError;
use crate::domain::ids::IdError;
use crate::domain::ledger::LedgerError;
use crate::domain::membership::MemberError;
use crate::domain::money::MoneyError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request body does not match the expected shape: {0}")]
    InvalidBody(String),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("the Idempotency-Key header is required on every write")]
    IdempotencyKeyRequired,
    #[error("{0}")]
    InvalidIdempotencyKey(IdError),
    #[error("{0}")]
    InvalidAmount(MoneyError),
    #[error("{0}")]
    InvalidField(IdError),
    #[error("unknown time zone {0:?}: use an IANA name such as Asia/Shanghai")]
    InvalidTimeZone(String),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("phone number already belongs to member {0}")]
    PhoneTaken(u64),
    #[error("this idempotency key was already used for a different request")]
    IdempotencyConflict,
    #[error("{0}")]
    Ledger(LedgerError),
    #[error("{0} are exhausted")]
    Exhausted(&'static str),
    #[error("the server is busy; retry with the same Idempotency-Key")]
    Overloaded,
    #[error("internal storage error")]
    Storage(#[from] StorageError),
    #[error("the server is shutting down")]
    Unavailable,
    #[error("{0}")]
    InvalidSchedule(String),
    #[error("{0}")]
    Recurrence(crate::domain::recurrence::RecurrenceError),
    #[error("the service-plan feature is turned off in HQ settings")]
    PlansDisabled,
    #[error("{0}")]
    WrongMode(&'static str),
    #[error("{0}")]
    Transition(crate::domain::booking::TransitionError),
    #[error("resource {0} has bookings that have not ended; cancel or move them first")]
    ResourceHasBookings(u64),
    #[error("a service's booking mode can't change once saved")]
    ModeImmutable,
    #[error("the testing clock is not enabled on this server")]
    NoTestingClock,
    #[error("a valid API key is required: Authorization: Bearer <key>")]
    Unauthorized,
    #[error("this credential may not do that")]
    Forbidden,
    #[error("too many requests for this credential; retry in {0} s")]
    RateLimited(u64),
    #[error("backup failed: {0}")]
    Backup(String),
    #[error("{0}")]
    Closing(crate::domain::closing::ClosingError),
    #[error("{0}")]
    Recycle(crate::domain::recycle::RecycleError),
}

impl warp::reject::Reject for ApiError {}

/// `NotFound` messages start with what was not found: "member 42", "plan 7".
fn not_found_code(what: &str) -> &'static str {
    match what.split(' ').next() {
        Some("member") => "member_not_found",
        Some("store") => "store_not_found",
        Some("entry") => "entry_not_found",
        Some("service") => "service_not_found",
        Some("resource") => "resource_not_found",
        Some("booking") => "booking_not_found",
        Some("plan") => "plan_not_found",
        Some("credential") => "credential_not_found",
        Some("occurrence") => "occurrence_not_found",
        Some("order") => "order_not_found",
        Some("level") => "level_not_found",
        Some("coupon") => "coupon_template_not_found",
        _ => "not_found",
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

impl ApiError {
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use ApiError::*;
        match self {
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            IdempotencyKeyRequired => (StatusCode::BAD_REQUEST, "idempotency_key_required"),
            InvalidIdempotencyKey(_) => (StatusCode::BAD_REQUEST, "invalid_idempotency_key"),
            InvalidAmount(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
            InvalidField(IdError::BadPhone) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"),
            InvalidField(IdError::BadName(_)) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name"),
            InvalidField(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_id"),
            InvalidTimeZone(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_time_zone"),
            InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query"),
            NotFound(what) => (StatusCode::NOT_FOUND, not_found_code(what)),
            PhoneTaken(_) => (StatusCode::CONFLICT, "phone_taken"),
            IdempotencyConflict => (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            Ledger(LedgerError::InsufficientBalance { .. }) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_balance")
            }
            Ledger(LedgerError::NotADeduction(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "not_a_deduction")
            }
            Ledger(LedgerError::RefundExceedsDeduction { .. }) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_deduction")
            }
            Ledger(LedgerError::Overflow) => (StatusCode::UNPROCESSABLE_ENTITY, "amount_overflow"),
            Ledger(LedgerError::NotARecharge(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "not_a_recharge")
            }
            Ledger(LedgerError::RechargeRefundTooLarge { .. }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "recharge_refund_too_large",
            ),
            Ledger(LedgerError::Member(e)) => member_error(e),
            Ledger(LedgerError::Checkout(e)) => checkout_error(e),
            Ledger(LedgerError::Gift(e)) => gift_error(e),
            Ledger(LedgerError::DayClosed { .. }) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "business_day_closed")
            }
            Exhausted(_) => (StatusCode::UNPROCESSABLE_ENTITY, "ids_exhausted"),
            Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage_error"),
            Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            InvalidSchedule(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_schedule"),
            Recurrence(crate::domain::recurrence::RecurrenceError::Count(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_occurrence_count")
            }
            Recurrence(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_repeat"),
            PlansDisabled => (StatusCode::FORBIDDEN, "service_plans_disabled"),
            WrongMode(_) => (StatusCode::UNPROCESSABLE_ENTITY, "wrong_booking_mode"),
            Transition(_) => (StatusCode::CONFLICT, "invalid_transition"),
            ResourceHasBookings(_) => (StatusCode::CONFLICT, "resource_has_bookings"),
            ModeImmutable => (StatusCode::UNPROCESSABLE_ENTITY, "booking_mode_immutable"),
            Closing(crate::domain::closing::ClosingError::NotManual) => {
                (StatusCode::CONFLICT, "closing_not_manual")
            }
            Recycle(crate::domain::recycle::RecycleError::Expired(_)) => {
                (StatusCode::GONE, "recycle_bin_expired")
            }
            Recycle(crate::domain::recycle::RecycleError::NotEmpty) => {
                (StatusCode::CONFLICT, "member_not_empty")
            }
            Recycle(crate::domain::recycle::RecycleError::PhoneTaken(_)) => {
                (StatusCode::CONFLICT, "phone_taken")
            }
            Closing(crate::domain::closing::ClosingError::Future(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "business_day_not_begun")
            }
            NoTestingClock => (StatusCode::NOT_FOUND, "not_found"),
            Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Backup(_) => (StatusCode::INTERNAL_SERVER_ERROR, "backup_failed"),
        }
    }
}

fn member_error(e: &MemberError) -> (StatusCode, &'static str) {
    use MemberError::*;
    let code = match e {
        Locked => "card_locked",
        CardReplaced(_) => "card_replaced",
        CardNotFound(_) => return (StatusCode::NOT_FOUND, "count_card_not_found"),
        CardExpired(_) => "count_card_expired",
        NotEnoughSessions { .. } => "insufficient_sessions",
        WrongService { .. } => "count_card_wrong_service",
        TooManyCards => "too_many_count_cards",
        BadSessions => "invalid_sessions",
        InsufficientPoints { .. } => "insufficient_points",
        PointsOverflow => "points_overflow",
        NotLocked => "card_not_locked",
        AlreadyLocked => "card_already_locked",
        LevelNotFound(_) => return (StatusCode::NOT_FOUND, "level_not_found"),
        LevelUnchanged(_) => "level_unchanged",
        Coupon(CouponError::NotFound) => return (StatusCode::NOT_FOUND, "coupon_not_found"),
        Coupon(CouponError::OutsidePeriod) => "coupon_outside_period",
        Coupon(CouponError::WrongStore) => "coupon_wrong_store",
        Coupon(CouponError::BelowMinimum { .. }) => "coupon_below_minimum_spend",
        Coupon(CouponError::BadTemplate(_)) => "invalid_coupon_template",
        Coupon(CouponError::TooMany) => "too_many_coupons",
    };
    (StatusCode::UNPROCESSABLE_ENTITY, code)
}

fn gift_error(e: &GiftError) -> (StatusCode, &'static str) {
    let code = match e {
        GiftError::NotFound(_) => return (StatusCode::NOT_FOUND, "gift_not_found"),
        GiftError::OutOfStock { .. } => return (StatusCode::CONFLICT, "gift_out_of_stock"),
        GiftError::BadQuantity => "invalid_quantity",
        GiftError::BadStock => "invalid_stock",
        GiftError::BadPoints => "invalid_gift_points",
    };
    (StatusCode::UNPROCESSABLE_ENTITY, code)
}

fn checkout_error(e: &CheckoutError) -> (StatusCode, &'static str) {
    use CheckoutError::*;
    let code = match e {
        BadLines => "invalid_order_lines",
        CardLineNotService => "count_card_line_not_service",
        TooLarge => "order_too_large",
        PaymentMismatch { .. } => "payment_mismatch",
        BadTenders => "invalid_tenders",
        WalkInNeedsTenders => "walk_in_needs_tenders",
        NotFound(_) => return (StatusCode::NOT_FOUND, "order_not_found"),
        NotHeld(_) => return (StatusCode::CONFLICT, "order_not_held"),
        NotPaid(_) => return (StatusCode::CONFLICT, "order_not_paid"),
        ReturnTooLarge { .. } => "return_exceeds_order",
        BadReturn => "invalid_return",
        TooManyHeld => "too_many_held_orders",
    };
    (StatusCode::UNPROCESSABLE_ENTITY, code)
}

impl From<ActorError> for ApiError {
    fn from(e: ActorError) -> Self {
        match e {
            ActorError::MemberNotFound(id) => ApiError::NotFound(format!("member {id}")),
            ActorError::StoreNotFound(id) => ApiError::NotFound(format!("store {id}")),
            ActorError::EntryNotFound(m, s) => {
                ApiError::NotFound(format!("entry {s} of member {m}"))
            }
            ActorError::IdempotencyConflict => ApiError::IdempotencyConflict,
            ActorError::Exhausted(what) => ApiError::Exhausted(what),
            ActorError::Storage(e) => ApiError::Storage(e),
            ActorError::NotFound(what) => ApiError::NotFound(what),
            ActorError::PlansDisabled => ApiError::PlansDisabled,
            ActorError::WrongMode(m) => ApiError::WrongMode(m),
            ActorError::Invalid(m) => ApiError::InvalidSchedule(m),
            ActorError::Recurrence(e) => ApiError::Recurrence(e),
            ActorError::Transition(e) => ApiError::Transition(e),
            ActorError::ResourceHasBookings(id) => ApiError::ResourceHasBookings(id),
            ActorError::ModeImmutable => ApiError::ModeImmutable,
            ActorError::Unavailable => ApiError::Unavailable,
            ActorError::Closing(e) => ApiError::Closing(e),
            ActorError::Recycle(e) => ApiError::Recycle(e),
            ActorError::Rule(e) => ApiError::Ledger(e),
        }
    }
}

pub fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    let mut res = warp::reply::with_status(warp::reply::json(&ErrorBody { code, message }), status)
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        res.headers_mut()
            .insert("retry-after", warp::http::HeaderValue::from_static("1"));
    }
    // The body was refused unread, so the connection can't carry another request: say so,
    // or the client reuses it and its next request dies with a broken pipe.
    if status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::LENGTH_REQUIRED {
        res.headers_mut()
            .insert("connection", warp::http::HeaderValue::from_static("close"));
    }
    res
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        error_response(status, code, self.to_string())
    }
}

/// Maps warp's own rejections (no route, wrong method, body limits) to the same JSON shape.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    use warp::reject::{LengthRequired, MethodNotAllowed, PayloadTooLarge};
    if let Some(e) = rejection.find::<ApiError>() {
        let (status, code) = e.status_and_code();
        return Ok(error_response(status, code, e.to_string()));
    }
    let (status, code, message) = if rejection.is_not_found() {
        (
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route".to_owned(),
        )
    } else if rejection.find::<PayloadTooLarge>().is_some() {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "request body is too large".to_owned(),
        )
    } else if rejection.find::<LengthRequired>().is_some() {
        (
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "a Content-Length header is required".to_owned(),
        )
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        (
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "invalid query string".to_owned(),
        )
    } else if rejection.find::<MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this route".to_owned(),
        )
    } else if rejection.find::<warp::reject::InvalidHeader>().is_some() {
        (
            StatusCode::BAD_REQUEST,
            "invalid_header",
            "a request header is invalid".to_owned(),
        )
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        (
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request could not be understood".to_owned(),
        )
    };
    Ok(error_response(status, code, message))
}
