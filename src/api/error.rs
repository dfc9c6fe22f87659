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
    /// A value the document's schema admits but a rule refuses.
    #[error("{0}")]
    Invalid(String),
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
    #[error("{0}")]
    Staff(crate::domain::staff::StaffError),
    #[error("{0}")]
    Role(crate::domain::access::RoleError),
    #[error(
        "member {0} moved to another home store while this request was in flight; send it again"
    )]
    MemberMoved(u64),
    #[error("the member's home store is already store {0}")]
    SameHomeStore(u32),
    #[error("{0}")]
    Price(crate::domain::price_list::PriceError),
    #[error("{0}")]
    Stock(crate::domain::stock::StockError),
    #[error("{0}")]
    Transfer(crate::domain::transfer::TransferError),
    #[error(
        "this credential may not type prices (price_override): sell catalog items at their price"
    )]
    PriceOverride,
    #[error("too many sign-in codes for this phone; retry in {0} s")]
    SignInThrottled(u32),
    #[error("{0}")]
    SignIn(crate::domain::member_session::SignInError),
    #[error("{0}")]
    Online(crate::domain::online_booking::OnlineError),
    #[error("{0}")]
    Refund(crate::domain::refund_request::RefundRequestError),
    #[error("{0}")]
    Wait(crate::domain::waitlist::WaitError),
}

impl warp::reject::Reject for ApiError {}

/// Which operations can answer a code: the document lists, per operation and status,
/// the codes whose scope covers it. Wider is safe for a client; narrower is a contract bug
/// the contract test catches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every operation that needs a credential.
    Authenticated,
    /// Operations that take a JSON body.
    Body,
    /// Writes that take an `Idempotency-Key`.
    Keyed,
    /// Operations of these tags (the route table's groups).
    Tags(&'static [&'static str]),
    /// Operations of these tags, those that need no credential included.
    AnyTag(&'static [&'static str]),
    /// Every operation that needs a credential, and the public ones of these tags.
    Open(&'static [&'static str]),
    /// No operation of the document: unknown paths and methods.
    Router,
    /// Answered with a conflict report (`ConflictReport`), not `{code, message}`.
    ConflictReport,
}

const WAITLIST: &[&str] = &["waitlist"];

const COUNTER_TAGS: &[&str] = &[
    "ledger",
    "refund_requests",
    "membership",
    "orders",
    "coupons",
    "gifts",
    "scheduling",
];

macro_rules! codes {
    ($($variant:ident = $text:literal, $status:ident, $scope:expr, $doc:literal;)*) => {
        /// Every error `code` the server answers: its text, status and where it can occur.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code { $($variant),* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text),* }
            }

            pub fn status(self) -> StatusCode {
                match self { $(Code::$variant => StatusCode::$status),* }
            }

            pub fn scope(self) -> Scope {
                match self { $(Code::$variant => $scope),* }
            }

            /// What it means, for the document and the README.
            pub fn describe(self) -> &'static str {
                match self { $(Code::$variant => $doc),* }
            }
        }
    };
}

use Scope::{AnyTag, Authenticated, Body, ConflictReport, Keyed, Open, Router, Tags};
/// The public operations of the member channel: signing in.
const SIGN_IN: &[&str] = &["member_sign_in"];

codes! {
    MalformedJson = "malformed_json", BAD_REQUEST, Body, "The body is not JSON.";
    InvalidBody = "invalid_body", BAD_REQUEST, Body, "The body's JSON does not have the documented shape.";
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, Body, "Content-Type is not application/json.";
    BodyTooLarge = "body_too_large", PAYLOAD_TOO_LARGE, Body, "The body is over the server's limit.";
    LengthRequired = "length_required", LENGTH_REQUIRED, Body, "No Content-Length header.";
    IdempotencyKeyRequired = "idempotency_key_required", BAD_REQUEST, Keyed, "A write without an Idempotency-Key header.";
    InvalidIdempotencyKey = "invalid_idempotency_key", BAD_REQUEST, Keyed, "The key is not 1-64 visible ASCII characters.";
    IdempotencyKeyReused = "idempotency_key_reused", UNPROCESSABLE_ENTITY, Keyed, "The key was used before for a different request.";
    IdsExhausted = "ids_exhausted", UNPROCESSABLE_ENTITY, Keyed, "No ids of this kind are left.";
    InvalidQuery = "invalid_query", BAD_REQUEST, Open(SIGN_IN), "The query string does not have the documented shape.";
    InvalidQueryValue = "invalid_query_value", UNPROCESSABLE_ENTITY, Authenticated, "A query value the schema admits is refused by a rule (a range, a page size, a cursor).";
    InvalidHeader = "invalid_header", BAD_REQUEST, Open(SIGN_IN), "A request header is not valid.";
    BadRequest = "bad_request", BAD_REQUEST, Open(SIGN_IN), "The request could not be understood.";
    Unauthorized = "unauthorized", UNAUTHORIZED, Authenticated, "No valid API key.";
    Forbidden = "forbidden", FORBIDDEN, Authenticated, "This credential may not do that, or not in that store.";
    RateLimited = "rate_limited", TOO_MANY_REQUESTS, Authenticated, "Too many requests for this credential; see Retry-After.";
    Overloaded = "overloaded", SERVICE_UNAVAILABLE, Open(SIGN_IN), "Busy; retry with the same Idempotency-Key.";
    Unavailable = "unavailable", SERVICE_UNAVAILABLE, Open(SIGN_IN), "Shutting down; retry elsewhere or later.";
    StorageError = "storage_error", INTERNAL_SERVER_ERROR, Open(SIGN_IN), "Storage failed; the server stops.";
    NotFound = "not_found", NOT_FOUND, Authenticated, "Not found, or not this credential's to see.";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, Router, "The path exists, the method doesn't: see Allow.";
    InvalidAmount = "invalid_amount", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "An amount is not a positive number of minor units in range.";
    InvalidField = "invalid_field", UNPROCESSABLE_ENTITY, Authenticated, "A value the schema admits is refused by a rule: the message says which.";
    InvalidPhone = "invalid_phone", UNPROCESSABLE_ENTITY, Open(SIGN_IN), "Not a phone number.";
    InvalidName = "invalid_name", UNPROCESSABLE_ENTITY, Authenticated, "A name is empty or too long.";
    InvalidId = "invalid_id", UNPROCESSABLE_ENTITY, Authenticated, "An id or text field is out of range.";
    InvalidTimeZone = "invalid_time_zone", UNPROCESSABLE_ENTITY, Tags(&["directory", "scheduling"]), "Not an IANA time zone.";
    MemberNotFound = "member_not_found", NOT_FOUND, Authenticated, "No such member (or not this credential's).";
    StoreNotFound = "store_not_found", NOT_FOUND, Authenticated, "No such store.";
    EntryNotFound = "entry_not_found", NOT_FOUND, Tags(COUNTER_TAGS), "No such ledger entry of this member.";
    ServiceNotFound = "service_not_found", NOT_FOUND, Tags(&["scheduling", "member_channel", "waitlist", "membership", "recycle_bin", "orders", "catalog"]), "No such service.";
    ResourceNotFound = "resource_not_found", NOT_FOUND, Tags(&["scheduling", "member_channel", "waitlist", "recycle_bin"]), "No such resource.";
    BookingNotFound = "booking_not_found", NOT_FOUND, Tags(&["scheduling", "member_channel"]), "No such booking.";
    PlanNotFound = "plan_not_found", NOT_FOUND, Tags(&["scheduling"]), "No such service plan.";
    OccurrenceNotFound = "occurrence_not_found", NOT_FOUND, Tags(&["scheduling"]), "No such occurrence of the plan.";
    CredentialNotFound = "credential_not_found", NOT_FOUND, Tags(&["access"]), "No such API key.";
    OrderNotFound = "order_not_found", NOT_FOUND, Tags(&["orders", "membership", "ledger"]), "No such order.";
    LevelNotFound = "level_not_found", NOT_FOUND, Tags(&["membership"]), "No such member level.";
    CouponTemplateNotFound = "coupon_template_not_found", NOT_FOUND, Tags(&["coupons", "membership", "recycle_bin"]), "No such coupon template.";
    PhoneTaken = "phone_taken", CONFLICT, Tags(&["directory", "recycle_bin"]), "The phone number belongs to another member.";
    InsufficientBalance = "insufficient_balance", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "Not enough stored value; nothing was deducted.";
    NotADeduction = "not_a_deduction", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The entry refunded is not a deduction.";
    RefundExceedsDeduction = "refund_exceeds_deduction", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "More than what is left of the deduction.";
    AmountOverflow = "amount_overflow", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "A balance would leave its range.";
    NotARecharge = "not_a_recharge", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The entry refunded is not a recharge.";
    RechargeRefundTooLarge = "recharge_refund_too_large", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "More than what is left of the recharge.";
    BusinessDayClosed = "business_day_closed", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The store's business day is closed (日结).";
    CardLocked = "card_locked", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The member's card is locked.";
    CardReplaced = "card_replaced", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "That card number was replaced.";
    CountCardNotFound = "count_card_not_found", NOT_FOUND, Tags(COUNTER_TAGS), "No such count card of this member.";
    CountCardExpired = "count_card_expired", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The count card has expired.";
    InsufficientSessions = "insufficient_sessions", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "Not enough sessions left on the count card.";
    CountCardWrongService = "count_card_wrong_service", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The count card is for another service.";
    TooManyCountCards = "too_many_count_cards", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The member holds the most count cards allowed.";
    InvalidSessions = "invalid_sessions", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "Sessions must be 1 or more, in range.";
    InsufficientPoints = "insufficient_points", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "Not enough points.";
    PointsOverflow = "points_overflow", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "Points would leave their range.";
    CardNotLocked = "card_not_locked", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The card is not locked.";
    CardAlreadyLocked = "card_already_locked", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The card is already locked.";
    LevelUnchanged = "level_unchanged", UNPROCESSABLE_ENTITY, Tags(&["membership"]), "The member already has that level.";
    CouponNotFound = "coupon_not_found", NOT_FOUND, Tags(COUNTER_TAGS), "No such coupon held by the member.";
    CouponOutsidePeriod = "coupon_outside_period", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The coupon is not valid today.";
    CouponWrongStore = "coupon_wrong_store", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The coupon is not valid in this store.";
    CouponBelowMinimumSpend = "coupon_below_minimum_spend", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The order is below the coupon's minimum spend.";
    InvalidCouponTemplate = "invalid_coupon_template", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The coupon template is not valid.";
    TooManyCoupons = "too_many_coupons", UNPROCESSABLE_ENTITY, Tags(COUNTER_TAGS), "The member holds the most coupons allowed.";
    GiftNotFound = "gift_not_found", NOT_FOUND, Tags(&["gifts", "recycle_bin"]), "No such gift.";
    GiftOutOfStock = "gift_out_of_stock", CONFLICT, Tags(&["gifts"]), "Not enough of the gift in this store.";
    InvalidQuantity = "invalid_quantity", UNPROCESSABLE_ENTITY, Tags(&["gifts"]), "A quantity must be 1 or more, in range.";
    InvalidStock = "invalid_stock", UNPROCESSABLE_ENTITY, Tags(&["gifts"]), "Stock would leave its range.";
    InvalidGiftPoints = "invalid_gift_points", UNPROCESSABLE_ENTITY, Tags(&["gifts"]), "A gift's points must be positive.";
    InvalidOrderLines = "invalid_order_lines", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "The order's lines are not valid.";
    CountCardLineNotService = "count_card_line_not_service", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "A count card pays only for service lines.";
    OrderTooLarge = "order_too_large", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "The order's total is out of range.";
    PaymentMismatch = "payment_mismatch", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "The tenders do not add up to the amount due.";
    InvalidTenders = "invalid_tenders", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "The tenders are not valid.";
    WalkInNeedsTenders = "walk_in_needs_tenders", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "A walk-in order is paid with tenders.";
    OrderNotHeld = "order_not_held", CONFLICT, Tags(&["orders"]), "The order is not held.";
    OrderNotPaid = "order_not_paid", CONFLICT, Tags(&["orders"]), "The order is not paid, so nothing can be returned.";
    ReturnExceedsOrder = "return_exceeds_order", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "More than what is left of the line.";
    InvalidReturn = "invalid_return", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "The return is not valid.";
    TooManyHeldOrders = "too_many_held_orders", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "The store holds the most held orders allowed.";
    StoredValueNotAllowed = "stored_value_not_allowed", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "Stored value pays for more than the items it may pay for: the message says how much it may.";
    PriceOverrideForbidden = "price_override_forbidden", FORBIDDEN, Tags(&["orders"]), "Once the chain has a price list, a typed unit price needs the price_override capability (store managers and HQ have it).";
    ItemNotFound = "item_not_found", NOT_FOUND, Tags(&["catalog", "orders", "stock"]), "No such item in the price list (or barcode, or SKU).";
    ItemUnavailable = "item_unavailable", UNPROCESSABLE_ENTITY, Tags(&["orders"]), "The store does not sell that item now.";
    ItemCodeTaken = "item_code_taken", CONFLICT, Tags(&["catalog"]), "The SKU or barcode is another item's.";
    OutOfStock = "out_of_stock", CONFLICT, Tags(&["orders", "stock"]), "Not enough of a product in the store's stock; nothing was done.";
    StockOutOfRange = "stock_out_of_range", UNPROCESSABLE_ENTITY, Tags(&["orders", "stock"]), "Stock would leave its range.";
    NotAProduct = "not_a_product", UNPROCESSABLE_ENTITY, Tags(&["stock"]), "Services have no stock.";
    TransferNotFound = "transfer_not_found", NOT_FOUND, Tags(&["stock"]), "No such transfer (or not this credential's stores').";
    TransferAlreadyReceived = "transfer_already_received", CONFLICT, Tags(&["stock"]), "The receiving store took the transfer in already.";
    CountCardRefundElsewhere = "count_card_refund_elsewhere", UNPROCESSABLE_ENTITY, Tags(&["membership"]), "A count card's cash refund is made at the store that sold it.";
    InvalidSchedule = "invalid_schedule", UNPROCESSABLE_ENTITY, Authenticated, "Refused by a rule of the object written (a booking, hours, a resource, a level, an order); the message says which.";
    InvalidOccurrenceCount = "invalid_occurrence_count", UNPROCESSABLE_ENTITY, Tags(&["scheduling"]), "A plan has 1 to 99 occurrences.";
    InvalidRepeat = "invalid_repeat", UNPROCESSABLE_ENTITY, Tags(&["scheduling"]), "The plan's repeat rule is not valid.";
    ServicePlansDisabled = "service_plans_disabled", FORBIDDEN, Tags(&["scheduling"]), "Service plans are turned off in HQ settings.";
    WrongBookingMode = "wrong_booking_mode", UNPROCESSABLE_ENTITY, Tags(&["scheduling", "member_channel", "waitlist"]), "The service is booked the other way (appointment or plan).";
    InvalidTransition = "invalid_transition", CONFLICT, Tags(&["scheduling", "member_channel"]), "The booking's status does not allow that.";
    ResourceHasBookings = "resource_has_bookings", CONFLICT, Tags(&["scheduling", "recycle_bin"]), "The resource has bookings that have not ended.";
    BookingModeImmutable = "booking_mode_immutable", UNPROCESSABLE_ENTITY, Tags(&["scheduling"]), "A service's booking mode can't change.";
    PlanConflicts = "plan_conflicts", CONFLICT, ConflictReport, "Some occurrences collide: the answer lists each and why; nothing was booked.";
    SlotUnavailable = "slot_unavailable", CONFLICT, ConflictReport, "The slot is taken or closed: the answer says why; nothing was booked.";
    ClosingNotManual = "closing_not_manual", CONFLICT, Tags(&["closing"]), "The store closes its days only automatically.";
    BusinessDayNotBegun = "business_day_not_begun", UNPROCESSABLE_ENTITY, Tags(&["closing"]), "That business day has not begun.";
    RecycleBinExpired = "recycle_bin_expired", GONE, Tags(&["recycle_bin"]), "Kept longer than the bin's retention: gone for good.";
    MemberNotEmpty = "member_not_empty", CONFLICT, Tags(&["recycle_bin"]), "The member still holds value, points, cards or coupons.";
    EmployeeNotFound = "employee_not_found", NOT_FOUND, Authenticated, "No such employee.";
    EmployeeLeft = "employee_left", CONFLICT, Authenticated, "The employee has left: they can't be edited, given keys or credited.";
    EmployeeNotInStore = "employee_not_in_store", UNPROCESSABLE_ENTITY, Authenticated, "The employee named does not work in the store of the write.";
    ResourceTaken = "resource_taken", CONFLICT, Tags(&["staff"]), "The resource is already another employee's.";
    RoleNotFound = "role_not_found", NOT_FOUND, Tags(&["access"]), "No such role.";
    RoleBuiltIn = "role_built_in", CONFLICT, Tags(&["access"]), "The five built-in roles can't be changed or removed.";
    RoleInUse = "role_in_use", CONFLICT, Tags(&["access"]), "API keys that are not revoked hold the role: revoke them first.";
    MemberMoved = "member_moved", CONFLICT, Authenticated, "The member's home store changed while the request was in flight; nothing was done: send it again.";
    SameHomeStore = "same_home_store", UNPROCESSABLE_ENTITY, Tags(&["directory"]), "The member's home store is already that store.";
    SignInThrottled = "sign_in_throttled", TOO_MANY_REQUESTS, AnyTag(SIGN_IN), "Too many sign-in codes for this phone (one a minute, five an hour): the message says when to retry.";
    SignInFailed = "sign_in_failed", UNAUTHORIZED, AnyTag(SIGN_IN), "The code is wrong, expired, used or burned by wrong guesses: the message says which, and how many tries are left.";
    NotBookableOnline = "not_bookable_online", UNPROCESSABLE_ENTITY, Tags(&["member_channel", "waitlist"]), "The store does not take this booking online: turned off, too soon, too far ahead, or a service-plan service.";
    CancellationWindowPassed = "cancellation_window_passed", CONFLICT, Tags(&["member_channel"]), "Too close to the start to cancel online: the store's window has passed.";
    RefundRequestNotFound = "refund_request_not_found", NOT_FOUND, Tags(&["refund_requests"]), "No such refund request (or not this caller's).";
    RefundRequestOpen = "refund_request_open", CONFLICT, Tags(&["refund_requests"]), "A request for the same entry or order waits for a decision already.";
    TooManyRefundRequests = "too_many_refund_requests", UNPROCESSABLE_ENTITY, Tags(&["refund_requests"]), "The member has the most refund requests waiting that are allowed.";
    RefundRequestDecided = "refund_request_decided", CONFLICT, Tags(&["refund_requests"]), "The request was approved, rejected or withdrawn already.";
    WaitlistEntryNotFound = "waitlist_entry_not_found", NOT_FOUND, Tags(WAITLIST), "No such waitlist entry (or not this caller's).";
    SlotFree = "slot_free", CONFLICT, Tags(WAITLIST), "The slot has room: book it instead of waiting.";
    AlreadyWaiting = "already_waiting", CONFLICT, Tags(WAITLIST), "The member already waits for this slot.";
    WaitlistFull = "waitlist_full", CONFLICT, Tags(WAITLIST), "The most members allowed already wait for this slot.";
    TooManyWaitlistEntries = "too_many_waitlist_entries", UNPROCESSABLE_ENTITY, Tags(WAITLIST), "The member has the most open waitlist entries allowed in this store.";
    NoOffer = "no_offer", CONFLICT, Tags(WAITLIST), "The entry is still waiting: there is no offer to accept yet.";
    OfferExpired = "offer_expired", CONFLICT, Tags(WAITLIST), "The offer's time ran out; the slot went to the next in line.";
    WaitlistEntryClosed = "waitlist_entry_closed", CONFLICT, Tags(WAITLIST), "The entry was accepted, expired or withdrawn already.";
    BackupFailed = "backup_failed", INTERNAL_SERVER_ERROR, Tags(&["operations"]), "The checkpoint could not be written.";
}

/// `NotFound` messages start with what was not found: "member 42", "plan 7".
fn not_found_code(what: &str) -> Code {
    match what.split(' ').next() {
        Some("member") => Code::MemberNotFound,
        Some("store") => Code::StoreNotFound,
        Some("entry") => Code::EntryNotFound,
        Some("service") => Code::ServiceNotFound,
        Some("resource") => Code::ResourceNotFound,
        Some("booking") => Code::BookingNotFound,
        Some("plan") => Code::PlanNotFound,
        Some("credential") => Code::CredentialNotFound,
        Some("employee") => Code::EmployeeNotFound,
        Some("role") => Code::RoleNotFound,
        Some("occurrence") => Code::OccurrenceNotFound,
        Some("order") => Code::OrderNotFound,
        Some("refund") => Code::RefundRequestNotFound,
        Some("waitlist") => Code::WaitlistEntryNotFound,
        Some("level") => Code::LevelNotFound,
        Some("coupon") => Code::CouponTemplateNotFound,
        Some("item") => Code::ItemNotFound,
        Some("transfer") => Code::TransferNotFound,
        _ => Code::NotFound,
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

impl ApiError {
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        let code = self.code();
        (code.status(), code.as_str())
    }

    pub fn code(&self) -> Code {
        use ApiError::*;
        match self {
            MalformedJson(_) => Code::MalformedJson,
            InvalidBody(_) => Code::InvalidBody,
            Invalid(_) => Code::InvalidField,
            UnsupportedMediaType => Code::UnsupportedMediaType,
            IdempotencyKeyRequired => Code::IdempotencyKeyRequired,
            InvalidIdempotencyKey(_) => Code::InvalidIdempotencyKey,
            InvalidAmount(_) => Code::InvalidAmount,
            InvalidField(IdError::BadPhone) => Code::InvalidPhone,
            InvalidField(IdError::BadName(_)) => Code::InvalidName,
            InvalidField(_) => Code::InvalidId,
            InvalidTimeZone(_) => Code::InvalidTimeZone,
            InvalidQuery(_) => Code::InvalidQueryValue,
            NotFound(what) => not_found_code(what),
            PhoneTaken(_) => Code::PhoneTaken,
            IdempotencyConflict => Code::IdempotencyKeyReused,
            Ledger(LedgerError::InsufficientBalance { .. }) => Code::InsufficientBalance,
            Ledger(LedgerError::NotADeduction(_)) => Code::NotADeduction,
            Ledger(LedgerError::RefundExceedsDeduction { .. }) => Code::RefundExceedsDeduction,
            Ledger(LedgerError::Overflow) => Code::AmountOverflow,
            Ledger(LedgerError::NotARecharge(_)) => Code::NotARecharge,
            Ledger(LedgerError::RechargeRefundTooLarge { .. }) => Code::RechargeRefundTooLarge,
            Ledger(LedgerError::Member(e)) => member_error(e),
            Ledger(LedgerError::Checkout(e)) => checkout_error(e),
            Ledger(LedgerError::Gift(e)) => gift_error(e),
            Ledger(LedgerError::DayClosed { .. }) => Code::BusinessDayClosed,
            Exhausted(_) => Code::IdsExhausted,
            Overloaded => Code::Overloaded,
            Storage(_) => Code::StorageError,
            Unavailable => Code::Unavailable,
            InvalidSchedule(_) => Code::InvalidSchedule,
            Recurrence(crate::domain::recurrence::RecurrenceError::Count(_)) => {
                Code::InvalidOccurrenceCount
            }
            Recurrence(_) => Code::InvalidRepeat,
            PlansDisabled => Code::ServicePlansDisabled,
            WrongMode(_) => Code::WrongBookingMode,
            Transition(_) => Code::InvalidTransition,
            ResourceHasBookings(_) => Code::ResourceHasBookings,
            ModeImmutable => Code::BookingModeImmutable,
            Closing(crate::domain::closing::ClosingError::NotManual) => Code::ClosingNotManual,
            Recycle(crate::domain::recycle::RecycleError::Expired(_)) => Code::RecycleBinExpired,
            Recycle(crate::domain::recycle::RecycleError::NotEmpty) => Code::MemberNotEmpty,
            Recycle(crate::domain::recycle::RecycleError::PhoneTaken(_)) => Code::PhoneTaken,
            Closing(crate::domain::closing::ClosingError::Future(_)) => Code::BusinessDayNotBegun,
            NoTestingClock => Code::NotFound,
            Unauthorized => Code::Unauthorized,
            Forbidden => Code::Forbidden,
            RateLimited(_) => Code::RateLimited,
            Backup(_) => Code::BackupFailed,
            Staff(StaffError::Field(_) | StaffError::TooManyKeys) => Code::InvalidField,
            Staff(StaffError::Left(_)) => Code::EmployeeLeft,
            Staff(StaffError::NotHere(..)) => Code::EmployeeNotInStore,
            Staff(StaffError::ResourceTaken(..)) => Code::ResourceTaken,
            Role(RoleError::BuiltIn(_)) => Code::RoleBuiltIn,
            Role(RoleError::InUse(..)) => Code::RoleInUse,
            Role(_) => Code::InvalidField,
            MemberMoved(_) => Code::MemberMoved,
            SameHomeStore(_) => Code::SameHomeStore,
            Ledger(LedgerError::Price(e)) | Price(e) => price_error(e),
            Stock(e) => stock_error(e),
            PriceOverride => Code::PriceOverrideForbidden,
            SignInThrottled(_) => Code::SignInThrottled,
            SignIn(_) => Code::SignInFailed,
            Online(crate::domain::online_booking::OnlineError::WindowPassed(_)) => {
                Code::CancellationWindowPassed
            }
            Online(crate::domain::online_booking::OnlineError::Invalid) => Code::InvalidField,
            Online(_) => Code::NotBookableOnline,
            Refund(e) => refund_error(e),
            Wait(e) => wait_error(e),
            Transfer(crate::domain::transfer::TransferError::Invalid) => Code::InvalidField,
            Transfer(crate::domain::transfer::TransferError::AlreadyReceived(_)) => {
                Code::TransferAlreadyReceived
            }
        }
    }
}

use crate::domain::access::RoleError;
use crate::domain::home_move::HomeMoveError;
use crate::domain::staff::StaffError;

impl From<crate::domain::staff::AttributionError> for ApiError {
    fn from(e: crate::domain::staff::AttributionError) -> Self {
        match e {
            crate::domain::staff::AttributionError::Unknown(id) => {
                ApiError::NotFound(format!("employee {id}"))
            }
            crate::domain::staff::AttributionError::Staff(e) => ApiError::Staff(e),
        }
    }
}

fn member_error(e: &MemberError) -> Code {
    use MemberError::*;
    match e {
        Locked => Code::CardLocked,
        CardReplaced(_) => Code::CardReplaced,
        CardNotFound(_) => Code::CountCardNotFound,
        CardExpired(_) => Code::CountCardExpired,
        NotEnoughSessions { .. } => Code::InsufficientSessions,
        WrongService { .. } => Code::CountCardWrongService,
        TooManyCards => Code::TooManyCountCards,
        BadSessions => Code::InvalidSessions,
        InsufficientPoints { .. } => Code::InsufficientPoints,
        PointsOverflow => Code::PointsOverflow,
        NotLocked => Code::CardNotLocked,
        AlreadyLocked => Code::CardAlreadyLocked,
        LevelNotFound(_) => Code::LevelNotFound,
        LevelUnchanged(_) => Code::LevelUnchanged,
        CardRefundElsewhere { .. } => Code::CountCardRefundElsewhere,
        Coupon(CouponError::NotFound) => Code::CouponNotFound,
        Coupon(CouponError::OutsidePeriod) => Code::CouponOutsidePeriod,
        Coupon(CouponError::WrongStore) => Code::CouponWrongStore,
        Coupon(CouponError::BelowMinimum { .. }) => Code::CouponBelowMinimumSpend,
        Coupon(CouponError::BadTemplate(_)) => Code::InvalidCouponTemplate,
        Coupon(CouponError::TooMany) => Code::TooManyCoupons,
    }
}

fn refund_error(e: &crate::domain::refund_request::RefundRequestError) -> Code {
    use crate::domain::refund_request::RefundRequestError::*;
    match e {
        BadReason | Invalid(_) | ExceedsRequest(_) => Code::InvalidField,
        AlreadyOpen(_) => Code::RefundRequestOpen,
        TooMany => Code::TooManyRefundRequests,
        Decided(..) => Code::RefundRequestDecided,
    }
}

fn wait_error(e: &crate::domain::waitlist::WaitError) -> Code {
    use crate::domain::waitlist::WaitError::*;
    match e {
        Past => Code::InvalidSchedule,
        SlotFree => Code::SlotFree,
        AlreadyWaiting(_) => Code::AlreadyWaiting,
        SlotFull => Code::WaitlistFull,
        TooMany => Code::TooManyWaitlistEntries,
        NotOffered(..) => Code::NoOffer,
        OfferExpired(_) => Code::OfferExpired,
        Closed(..) => Code::WaitlistEntryClosed,
    }
}

fn gift_error(e: &GiftError) -> Code {
    match e {
        GiftError::NotFound(_) => Code::GiftNotFound,
        GiftError::OutOfStock { .. } => Code::GiftOutOfStock,
        GiftError::BadQuantity => Code::InvalidQuantity,
        GiftError::BadStock => Code::InvalidStock,
        GiftError::BadPoints => Code::InvalidGiftPoints,
    }
}

fn price_error(e: &crate::domain::price_list::PriceError) -> Code {
    use crate::domain::price_list::PriceError::*;
    match e {
        NotFound(_) => Code::ItemNotFound,
        Unavailable { .. } => Code::ItemUnavailable,
        Invalid(_) => Code::InvalidField,
        Taken { .. } => Code::ItemCodeTaken,
        CardNotService => Code::CountCardLineNotService,
    }
}

fn stock_error(e: &crate::domain::stock::StockError) -> Code {
    use crate::domain::stock::StockError::*;
    match e {
        OutOfStock { .. } => Code::OutOfStock,
        OutOfRange => Code::StockOutOfRange,
        NotProduct(_) => Code::NotAProduct,
    }
}

fn checkout_error(e: &CheckoutError) -> Code {
    use CheckoutError::*;
    match e {
        BadLines => Code::InvalidOrderLines,
        CardLineNotService => Code::CountCardLineNotService,
        TooLarge => Code::OrderTooLarge,
        PaymentMismatch { .. } => Code::PaymentMismatch,
        BadTenders => Code::InvalidTenders,
        WalkInNeedsTenders => Code::WalkInNeedsTenders,
        NotFound(_) => Code::OrderNotFound,
        NotHeld(_) => Code::OrderNotHeld,
        NotPaid(_) => Code::OrderNotPaid,
        ReturnTooLarge { .. } => Code::ReturnExceedsOrder,
        BadReturn => Code::InvalidReturn,
        TooManyHeld => Code::TooManyHeldOrders,
        StoredValueNotAllowed { .. } => Code::StoredValueNotAllowed,
    }
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
            ActorError::Profile(e) => ApiError::Invalid(e.to_string()),
            ActorError::Field(e) => ApiError::Invalid(e.to_string()),
            ActorError::Staff(e) => ApiError::Staff(e),
            ActorError::Role(e) => ApiError::Role(e),
            ActorError::MemberMoved(id) => ApiError::MemberMoved(id),
            ActorError::HomeMove(HomeMoveError::SameStore(s)) => ApiError::SameHomeStore(s),
            ActorError::HomeMove(HomeMoveError::Ledger(e)) => ApiError::Ledger(e),
            ActorError::Price(e) => ApiError::Price(e),
            ActorError::Stock(e) => ApiError::Stock(e),
            ActorError::Transfer(e) => ApiError::Transfer(e),
            ActorError::Throttled(s) => ApiError::SignInThrottled(s),
            ActorError::Online(e) => ApiError::Online(e),
            ActorError::Refund(e) => ApiError::Refund(e),
            ActorError::Wait(e) => ApiError::Wait(e),
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
    let (code, message) = if rejection.is_not_found() {
        (Code::NotFound, "no such route".to_owned())
    } else if rejection.find::<PayloadTooLarge>().is_some() {
        (Code::BodyTooLarge, "request body is too large".to_owned())
    } else if rejection.find::<LengthRequired>().is_some() {
        (
            Code::LengthRequired,
            "a Content-Length header is required".to_owned(),
        )
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        (Code::InvalidQuery, "invalid query string".to_owned())
    } else if rejection.find::<warp::reject::InvalidHeader>().is_some() {
        (
            Code::InvalidHeader,
            "a request header is invalid".to_owned(),
        )
    } else if rejection.find::<MethodNotAllowed>().is_some() {
        // Last: another route's method mismatch says nothing when this one's filters spoke.
        (
            Code::MethodNotAllowed,
            "method not allowed on this route".to_owned(),
        )
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        (
            Code::BadRequest,
            "the request could not be understood".to_owned(),
        )
    };
    Ok(error_response(code.status(), code.as_str(), message))
}

#[cfg(test)]
mod tests {
    use super::{Code, Scope};

    /// The README's table of codes, as the catalogue renders it.
    fn readme_table() -> String {
        let mut t = String::from("| code | status | where | what it means |\n|---|---|---|---|\n");
        for &c in Code::ALL {
            let scope = match c.scope() {
                Scope::Authenticated => "any operation with a key".to_owned(),
                Scope::Body => "operations with a body".to_owned(),
                Scope::Keyed => "writes".to_owned(),
                Scope::Tags(tags) => tags.join(", "),
                Scope::AnyTag(tags) => tags.join(", "),
                Scope::Open(tags) => format!("any operation with a key; {}", tags.join(", ")),
                Scope::Router => "no operation (the router)".to_owned(),
                Scope::ConflictReport => "scheduling, as a conflict report".to_owned(),
            };
            t.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.as_str(),
                c.status().as_u16(),
                scope,
                c.describe()
            ));
        }
        t
    }

    #[test]
    fn the_readme_lists_every_code() {
        let readme = include_str!("../../README.md");
        let table = readme_table();
        assert!(
            readme.contains(&table),
            "README.md's table of error codes differs from the catalogue; it should be:\n{table}"
        );
    }

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
        }
    }
}
