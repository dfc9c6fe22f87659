//! Members' own channel (会员自助): a one-time code sent to the member's phone opens a
//! session with an expiry. The rules of codes (how often, how long, how many guesses) as
//! plain functions of (state, now); the `Directory` writes what they decide.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::{MemberId, Phone};
use super::ledger::Timestamp;

/// Digits of a sign-in code.
pub const CODE_DIGITS: usize = 6;
/// How long a code may be used.
pub const CODE_TTL_SECONDS: i64 = 5 * 60;
/// Wrong guesses that burn a code.
pub const CODE_ATTEMPTS_MAX: u32 = 5;
/// Least wait before another code for the same phone.
pub const CODE_RESEND_SECONDS: i64 = 60;
/// Codes one phone may be sent in an hour.
pub const CODES_PER_HOUR_MAX: usize = 5;
/// How long a session lasts from sign-in.
pub const SESSION_TTL_DAYS: i64 = 30;

/// The SHA-256 of a session token: all the server keeps of it.
pub type TokenHash = [u8; 32];

/// The code a phone was sent last, and when the codes of the last hour went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneCodes {
    pub member: MemberId,
    /// `code_hash(phone, code)`.
    pub code_hash: [u8; 32],
    pub issued_at: Timestamp,
    pub wrong: u32,
    pub used: bool,
    /// Issue times within the last hour, oldest first.
    pub recent: Vec<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SignInError {
    #[error("no code is waiting for this phone: request one")]
    NoCode,
    #[error("the code has expired: request a new one")]
    Expired,
    #[error("wrong code; {left} tries left")]
    Wrong { left: u32 },
    #[error("too many wrong codes: request a new one")]
    Burned,
}

/// A code may not be sent yet: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many sign-in codes for this phone; retry in {0} s")]
pub struct Throttled(pub u32);

/// The hash a code is kept and checked as, bound to its phone.
pub fn code_hash(phone: &Phone, code: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(phone.as_str().as_bytes());
    h.update(b":");
    h.update(code.as_bytes());
    h.finalize().into()
}

/// Is `raw` shaped like a code (so that nothing else is ever hashed or counted)?
pub fn is_code(raw: &str) -> bool {
    raw.len() == CODE_DIGITS && raw.bytes().all(|b| b.is_ascii_digit())
}

/// The state after sending `member` a new code at `now`, or how long to wait.
pub fn issue(
    prev: Option<&PhoneCodes>,
    member: MemberId,
    code_hash: [u8; 32],
    now: Timestamp,
) -> Result<PhoneCodes, Throttled> {
    let hour_ago = now - Duration::hours(1);
    let recent: Vec<Timestamp> = prev
        .map(|p| p.recent.iter().copied().filter(|t| *t > hour_ago).collect())
        .unwrap_or_default();
    if let Some(p) = prev {
        let next = p.issued_at + Duration::seconds(CODE_RESEND_SECONDS);
        if now < next && !p.used {
            return Err(Throttled(seconds_until(now, next)));
        }
    }
    if recent.len() >= CODES_PER_HOUR_MAX {
        let next = recent[0] + Duration::hours(1);
        return Err(Throttled(seconds_until(now, next)));
    }
    let mut recent = recent;
    recent.push(now);
    Ok(PhoneCodes {
        member,
        code_hash,
        issued_at: now,
        wrong: 0,
        used: false,
        recent,
    })
}

fn seconds_until(now: Timestamp, then: Timestamp) -> u32 {
    let s = (then - now).num_seconds().max(1);
    u32::try_from(s).unwrap_or(u32::MAX)
}

/// When a code issued at `issued_at` stops working.
pub fn code_expires(issued_at: Timestamp) -> Timestamp {
    issued_at + Duration::seconds(CODE_TTL_SECONDS)
}

/// Checks a guess at `now`: the state after it (a wrong guess counts, a right one uses the
/// code up) and whether it signs the member in.
pub fn verify(
    state: &PhoneCodes,
    guess: [u8; 32],
    now: Timestamp,
) -> (PhoneCodes, Result<MemberId, SignInError>) {
    let mut next = state.clone();
    let verdict = if state.used {
        Err(SignInError::NoCode)
    } else if state.wrong >= CODE_ATTEMPTS_MAX {
        Err(SignInError::Burned)
    } else if now >= code_expires(state.issued_at) {
        Err(SignInError::Expired)
    } else if guess != state.code_hash {
        next.wrong += 1;
        match CODE_ATTEMPTS_MAX - next.wrong {
            0 => Err(SignInError::Burned),
            left => Err(SignInError::Wrong { left }),
        }
    } else {
        next.used = true;
        Ok(state.member)
    };
    (next, verdict)
}

/// A signed-in member's session, found by the hash of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSession {
    pub token_hash: TokenHash,
    pub member: MemberId,
    pub opened_at: Timestamp,
    pub expires_at: Timestamp,
}

impl MemberSession {
    pub fn open(token_hash: TokenHash, member: MemberId, now: Timestamp) -> MemberSession {
        MemberSession {
            token_hash,
            member,
            opened_at: now,
            expires_at: now + Duration::days(SESSION_TTL_DAYS),
        }
    }

    pub fn live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// What a write of the member channel answers (and answers again to a repeat of its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelOutcome {
    /// A code is on its way when the phone is a member's; the answer is the same when not.
    CodeSent {
        expires_at: Timestamp,
    },
    SessionOpened(MemberSession),
    SignInRefused(SignInError),
    SessionsEnded {
        member: MemberId,
        count: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn member() -> MemberId {
        MemberId::parse((1 << 32) | 1).unwrap()
    }

    #[test]
    fn a_code_signs_in_once_and_guesses_burn_it() {
        let phone = Phone::new("13800000000").unwrap();
        let c = issue(None, member(), code_hash(&phone, "123456"), t(0)).unwrap();
        let (c2, v) = verify(&c, code_hash(&phone, "000000"), t(10));
        assert_eq!(v, Err(SignInError::Wrong { left: 4 }));
        let (c3, v) = verify(&c2, code_hash(&phone, "123456"), t(20));
        assert_eq!(v, Ok(member()));
        let (_, v) = verify(&c3, code_hash(&phone, "123456"), t(21));
        assert_eq!(v, Err(SignInError::NoCode));
        let (_, v) = verify(&c, code_hash(&phone, "123456"), t(CODE_TTL_SECONDS));
        assert_eq!(v, Err(SignInError::Expired));
        let mut s = c;
        for _ in 0..CODE_ATTEMPTS_MAX {
            s = verify(&s, code_hash(&phone, "999999"), t(30)).0;
        }
        let (_, v) = verify(&s, code_hash(&phone, "123456"), t(31));
        assert_eq!(v, Err(SignInError::Burned));
    }

    #[test]
    fn codes_are_throttled_per_phone() {
        let h = [1; 32];
        let c = issue(None, member(), h, t(0)).unwrap();
        assert_eq!(issue(Some(&c), member(), h, t(30)), Err(Throttled(30)));
        let mut s = c;
        for i in 1..CODES_PER_HOUR_MAX as i64 {
            s = issue(Some(&s), member(), h, t(i * 61)).unwrap();
        }
        let refused = issue(Some(&s), member(), h, t(CODES_PER_HOUR_MAX as i64 * 61));
        assert!(refused.is_err());
        assert!(issue(Some(&s), member(), h, t(3_601)).is_ok());
    }

    proptest! {
        /// Whatever the guesses and their times, a code signs in at most once, never
        /// after its expiry, and never after `CODE_ATTEMPTS_MAX` wrong guesses.
        #[test]
        fn guessing_never_beats_the_limits(guesses in proptest::collection::vec((0u32..1_000_000, 0i64..600), 1..40)) {
            let phone = Phone::new("13800000000").unwrap();
            let mut s = issue(None, member(), code_hash(&phone, "424242"), t(0)).unwrap();
            let mut ins = 0;
            let mut wrong = 0;
            let mut guesses = guesses;
            guesses.sort_by_key(|g| g.1);
            for (g, at) in guesses {
                let code = format!("{g:06}");
                let (next, v) = verify(&s, code_hash(&phone, &code), t(at));
                if v.is_ok() {
                    ins += 1;
                    prop_assert!(at < CODE_TTL_SECONDS);
                    prop_assert!(wrong < CODE_ATTEMPTS_MAX);
                    prop_assert_eq!(code.as_str(), "424242");
                }
                if matches!(v, Err(SignInError::Wrong { .. }) | Err(SignInError::Burned)) && next.wrong > s.wrong {
                    wrong += 1;
                }
                s = next;
            }
            prop_assert!(ins <= 1);
            prop_assert!(wrong <= CODE_ATTEMPTS_MAX);
        }
    }
}
