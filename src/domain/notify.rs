//! Member notifications: per-chain message templates (SMS-style text with `{placeholders}`),
//! the notifications rendered from them into the durable outbox, and the retry schedule of
//! their delivery to the chain's webhook.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ids::{MemberId, StoreId};
use super::ledger::Timestamp;
use super::money::Money;

/// Longest template text, in characters (a long SMS).
pub const TEMPLATE_CHARS_MAX: usize = 500;
/// Longest webhook URL.
pub const WEBHOOK_URL_LEN_MAX: usize = 512;
/// Deliveries tried before a notification is given up (then listed as failed).
pub const DELIVERY_ATTEMPTS_MAX: u32 = 12;
/// The first retry waits this long; each later one twice as long, up to the cap.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(2);
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);

/// The member-facing events a chain can write a template for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum EventKind {
    /// After a recharge or a deduction.
    BalanceChanged,
    LevelUpgraded,
    CouponIssued,
    /// Before a plan occurrence (`scheduling.reminder_lead_minutes`).
    PlanReminder,
    /// Before an appointment (the same lead).
    AppointmentReminder,
    /// A member's one-time sign-in code (会员自助登录): always sent, by the chain's template
    /// or the default one.
    SignInCode,
    /// A bulk message (群发) to the members a filter finds: the run's own text, or this
    /// template.
    BulkMessage,
    /// A slot a member waits for opened and is held for them (候补): always sent, by the
    /// chain's template or the default one.
    WaitlistOffer,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::BalanceChanged,
        EventKind::LevelUpgraded,
        EventKind::CouponIssued,
        EventKind::PlanReminder,
        EventKind::AppointmentReminder,
        EventKind::SignInCode,
        EventKind::BulkMessage,
        EventKind::WaitlistOffer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::BalanceChanged => "balance_changed",
            EventKind::LevelUpgraded => "level_upgraded",
            EventKind::CouponIssued => "coupon_issued",
            EventKind::PlanReminder => "plan_reminder",
            EventKind::AppointmentReminder => "appointment_reminder",
            EventKind::SignInCode => "sign_in_code",
            EventKind::BulkMessage => "bulk_message",
            EventKind::WaitlistOffer => "waitlist_offer",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|e| e.name() == s)
    }

    /// The placeholders a template of this event may use.
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            EventKind::BalanceChanged => &["member_id", "store_id", "change", "amount", "balance"],
            EventKind::LevelUpgraded => &["member_id", "store_id", "level"],
            EventKind::CouponIssued => &["member_id", "store_id", "coupon", "template"],
            EventKind::PlanReminder => &["member_id", "store_id", "start", "plan", "booking"],
            EventKind::AppointmentReminder => &["member_id", "store_id", "start", "booking"],
            EventKind::SignInCode => &["member_id", "store_id", "code", "minutes"],
            EventKind::BulkMessage => &["member_id", "store_id", "name", "balance", "points"],
            EventKind::WaitlistOffer => &["member_id", "store_id", "start", "expires", "entry"],
        }
    }

    /// Its text when the chain wrote no template; `None`: not sent without one.
    pub fn default_text(self) -> Option<&'static str> {
        match self {
            EventKind::SignInCode => {
                Some("Your sign-in code is {code}. It works once, for {minutes} minutes.")
            }
            EventKind::WaitlistOffer => Some(
                "A place opened for {start} and is held for you until {expires}: accept waitlist entry {entry} to book it.",
            ),
            _ => None,
        }
    }

    /// Whether the outbox shows its text to staff: a sign-in code would let them sign in
    /// as the member.
    pub fn secret(self) -> bool {
        self == EventKind::SignInCode
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("a template has 1 to {TEMPLATE_CHARS_MAX} characters")]
    Length,
    #[error("unknown placeholder {{{0}}}; this event offers {1}")]
    Placeholder(String, String),
    #[error("unclosed {{ in the template")]
    Unclosed,
    #[error("the webhook URL must be http:// or https://, at most {WEBHOOK_URL_LEN_MAX} bytes")]
    Url,
    #[error("the webhook may not target a loopback, link-local or private address")]
    PrivateTarget,
}

/// A validated template: every `{name}` is one its event offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageTemplate {
    pub event: EventKind,
    pub text: String,
}

impl MessageTemplate {
    pub fn new(event: EventKind, text: &str) -> Result<MessageTemplate, TemplateError> {
        let chars = text.chars().count();
        if chars == 0 || chars > TEMPLATE_CHARS_MAX {
            return Err(TemplateError::Length);
        }
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or(TemplateError::Unclosed)?;
            let name = &after[..close];
            if !event.placeholders().contains(&name) {
                return Err(TemplateError::Placeholder(
                    name.chars().take(40).collect(),
                    event.placeholders().join(", "),
                ));
            }
            rest = &after[close + 1..];
        }
        Ok(MessageTemplate {
            event,
            text: text.to_owned(),
        })
    }

    /// The text with each `{name}` replaced by its value.
    pub fn render(&self, vars: &[(&str, String)]) -> String {
        let mut out = String::with_capacity(self.text.len() + 32);
        let mut rest = self.text.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                break;
            };
            let name = &after[..close];
            match vars.iter().find(|(k, _)| *k == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    debug_assert!(false, "template placeholders are checked when saved");
                }
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// A message to render: the store it is about, its template and the placeholder values.
pub type Message<'a> = (StoreId, &'a MessageTemplate, Vec<(&'static str, String)>);

/// The messages a member counter operation's effects call for, by the chain's templates:
/// a balance change per new recharge or deduction, a level upgrade, a coupon issued.
pub fn for_effects<'a>(
    fx: &super::counter::Effects,
    before_last: super::ids::EntrySeq,
    catalog: &'a super::counter::Catalog,
) -> Vec<Message<'a>> {
    use super::ledger::EntryKind;
    use super::membership::Activity;
    let member = fx.account.member.get().to_string();
    let mut out = Vec::new();
    if let Some(t) = catalog.templates.get(&EventKind::BalanceChanged) {
        for e in fx.entries.iter().filter(|e| e.seq > before_last) {
            let change = match e.kind {
                EntryKind::Recharge { .. } => "recharge",
                EntryKind::Deduction { .. } => "deduction",
                EntryKind::Refund { .. } => "refund",
                EntryKind::RechargeRefund { .. } => "recharge_refund",
                EntryKind::Opening => "opening",
                EntryKind::HomeMove { .. } => "home_move",
            };
            let vars = vec![
                ("member_id", member.clone()),
                ("store_id", e.store.get().to_string()),
                ("change", change.to_owned()),
                ("amount", yuan(e.amount.money())),
                ("balance", yuan(e.balance_after)),
            ];
            out.push((e.store, t, vars));
        }
    }
    for a in &fx.activities {
        let store = ("store_id", a.store.get().to_string());
        match &a.activity {
            Activity::LevelChanged { from, to } if to.0 > from.0 => {
                if let Some(t) = catalog.templates.get(&EventKind::LevelUpgraded) {
                    let level = catalog
                        .levels
                        .level(*to)
                        .map_or_else(|| to.0.to_string(), |l| l.name.clone());
                    out.push((
                        a.store,
                        t,
                        vec![("member_id", member.clone()), store, ("level", level)],
                    ));
                }
            }
            Activity::CouponIssued { code, template } => {
                if let Some(t) = catalog.templates.get(&EventKind::CouponIssued) {
                    let name = catalog
                        .coupons
                        .get(template)
                        .map_or_else(|| template.0.to_string(), |c| c.name.clone());
                    out.push((
                        a.store,
                        t,
                        vec![
                            ("member_id", member.clone()),
                            store,
                            ("coupon", code.clone()),
                            ("template", name),
                        ],
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// Where notifications are delivered: an http(s) URL.
pub fn check_webhook_url(url: &str) -> Result<(), TemplateError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= WEBHOOK_URL_LEN_MAX
        && !url.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(TemplateError::Url)
    }
}

/// Addresses a webhook may not reach unless the configuration allows it: the server's own
/// host and networks (loopback, private, link-local, carrier-grade NAT, unspecified,
/// multicast, broadcast), so that a webhook can't be aimed at services behind the server.
pub fn is_private_target(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private_target(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Host names that always mean this machine.
pub fn is_local_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

/// Whether a webhook URL names a private target by its host alone: an address literal
/// that `is_private_target`, or a name of this machine. Other names are resolved, and
/// checked, when the courier connects. `None`: not a URL with a host.
pub fn names_private_target(url: &str) -> Option<bool> {
    Some(match url::Url::parse(url).ok()?.host()? {
        url::Host::Ipv4(ip) => is_private_target(ip.into()),
        url::Host::Ipv6(ip) => is_private_target(ip.into()),
        url::Host::Domain(d) => is_local_name(d),
    })
}

/// Yuan with two decimals, as a member reads it: 12345 -> "123.45".
pub fn yuan(m: Money) -> String {
    let v = m.minor();
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// Stable id of a notification: the writing store's id and a sequence of the actor that
/// wrote it (ledger or scheduler), so no two actors ever share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NotificationId(pub u64);

/// Which of a store's actors wrote it: the id's sequence ranges don't overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Ledger,
    Scheduler,
    /// Sign-in codes, written by the chain's `Directory` under the member's home store.
    Directory,
}

const SCHEDULER_SEQ_BASE: u32 = 1 << 31;
const DIRECTORY_SEQ_BASE: u32 = 1 << 30;
/// Notifications one source may write per store.
pub const SEQ_MAX: u32 = DIRECTORY_SEQ_BASE - 1;

impl NotificationId {
    pub fn new(store: StoreId, source: Source, n: u32) -> NotificationId {
        debug_assert!(n <= SEQ_MAX);
        let seq = match source {
            Source::Ledger => n,
            Source::Scheduler => SCHEDULER_SEQ_BASE | n,
            Source::Directory => DIRECTORY_SEQ_BASE | n,
        };
        NotificationId((u64::from(store.get()) << 32) | u64::from(seq))
    }

    /// The per-source sequence number of this id, and its source.
    pub fn seq(self) -> (Source, u32) {
        let low = self.0 as u32;
        if low & SCHEDULER_SEQ_BASE != 0 {
            (Source::Scheduler, low & !SCHEDULER_SEQ_BASE)
        } else if low & DIRECTORY_SEQ_BASE != 0 {
            (Source::Directory, low & !DIRECTORY_SEQ_BASE)
        } else {
            (Source::Ledger, low)
        }
    }

    pub fn text(self) -> String {
        format!("n-{}-{}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// Waiting for its next attempt.
    Pending {
        next_at: Timestamp,
    },
    Delivered {
        at: Timestamp,
    },
    /// Given up after `DELIVERY_ATTEMPTS_MAX` attempts.
    Failed {
        at: Timestamp,
    },
}

/// One rendered message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    pub member: MemberId,
    pub store: StoreId,
    pub event: EventKind,
    pub text: String,
    pub created_at: Timestamp,
    pub attempts: u32,
    pub delivery: Delivery,
    pub last_error: Option<String>,
}

impl Notification {
    pub fn new(
        id: NotificationId,
        member: MemberId,
        store: StoreId,
        template: &MessageTemplate,
        vars: &[(&str, String)],
        now: Timestamp,
    ) -> Notification {
        Notification {
            id,
            member,
            store,
            event: template.event,
            text: template.render(vars),
            created_at: now,
            attempts: 0,
            delivery: Delivery::Pending { next_at: now },
            last_error: None,
        }
    }

    /// The notification after one delivery attempt at `now`.
    pub fn attempted(&self, ok: bool, error: Option<String>, now: Timestamp) -> Notification {
        let attempts = self.attempts.saturating_add(1);
        let delivery = if ok {
            Delivery::Delivered { at: now }
        } else if attempts >= DELIVERY_ATTEMPTS_MAX {
            Delivery::Failed { at: now }
        } else {
            let wait = chrono::Duration::from_std(backoff(attempts))
                .unwrap_or(chrono::Duration::seconds(600));
            Delivery::Pending {
                next_at: now + wait,
            }
        };
        Notification {
            attempts,
            delivery,
            last_error: if ok { None } else { error },
            ..self.clone()
        }
    }
}

/// The wait after `attempts` failed attempts: 2 s, 4 s, 8 s, ... up to 10 minutes.
pub fn backoff(attempts: u32) -> Duration {
    let shift = attempts.saturating_sub(1).min(16);
    BACKOFF_FIRST.saturating_mul(1 << shift).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_accept_only_their_events_placeholders() {
        let t = MessageTemplate::new(
            EventKind::BalanceChanged,
            "您的会员卡{change}{amount}元，余额{balance}元",
        )
        .unwrap();
        let text = t.render(&[
            ("change", "消费".into()),
            ("amount", "12.30".into()),
            ("balance", "87.70".into()),
        ]);
        assert_eq!(text, "您的会员卡消费12.30元，余额87.70元");
        assert!(matches!(
            MessageTemplate::new(EventKind::LevelUpgraded, "{balance}"),
            Err(TemplateError::Placeholder(..))
        ));
        assert_eq!(
            MessageTemplate::new(EventKind::LevelUpgraded, "oops {level"),
            Err(TemplateError::Unclosed)
        );
        assert_eq!(
            MessageTemplate::new(EventKind::LevelUpgraded, ""),
            Err(TemplateError::Length)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_delivery_gives_up() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(30), BACKOFF_MAX);
        let now = Timestamp::default();
        let t = MessageTemplate::new(EventKind::LevelUpgraded, "L{level}").unwrap();
        let store = StoreId::new(1).unwrap();
        let member = MemberId::parse((1u64 << 32) | 1).unwrap();
        let id = NotificationId::new(store, Source::Ledger, 1);
        let mut n = Notification::new(id, member, store, &t, &[("level", "2".into())], now);
        assert_eq!(n.text, "L2");
        for _ in 0..DELIVERY_ATTEMPTS_MAX - 1 {
            n = n.attempted(false, Some("500".into()), now);
            assert!(matches!(n.delivery, Delivery::Pending { .. }));
        }
        assert!(matches!(
            n.attempted(false, None, now).delivery,
            Delivery::Failed { .. }
        ));
        assert!(matches!(
            n.attempted(true, None, now).delivery,
            Delivery::Delivered { .. }
        ));
    }

    #[test]
    fn ids_of_ledger_and_scheduler_never_meet() {
        let s = StoreId::new(7).unwrap();
        let a = NotificationId::new(s, Source::Ledger, 5);
        let b = NotificationId::new(s, Source::Scheduler, 5);
        assert_ne!(a, b);
        assert_eq!(a.seq(), (Source::Ledger, 5));
        assert_eq!(b.seq(), (Source::Scheduler, 5));
        assert_eq!(yuan(Money::from_minor(12345)), "123.45");
        assert_eq!(yuan(Money::from_minor(-5)), "-0.05");
    }
}

#[cfg(test)]
mod target_tests {
    use super::is_private_target;

    #[test]
    fn private_targets_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private_target(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "203.0.113.9", "2001:4860:4860::8888"] {
            assert!(!is_private_target(ip.parse().unwrap()), "{ip}");
        }
    }
}
