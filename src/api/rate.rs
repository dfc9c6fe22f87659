//! Per-credential rate limit: a token bucket per API key, lock-free (one atomic word per
//! credential in a crossbeam skip list). Over the limit: 429 with Retry-After.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_skiplist::SkipMap;

/// Bits of the bucket word that hold the token count (in thousandths of a token); the
/// other 40 hold milliseconds since start, which last 34 years before they wrap.
const TOKEN_BITS: u32 = 24;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;
const MILLI: u64 = 1000;
/// The largest burst a bucket can hold (its milli-tokens must fit `TOKEN_BITS`).
pub const RATE_BURST_MAX: u32 = (TOKEN_MASK / MILLI) as u32;

pub struct RateLimiter {
    /// Tokens per second, and the most a bucket holds; 0 turns the limit off.
    rate_per_s: u64,
    burst: u64,
    started: Instant,
    /// credential id -> (milliseconds since `started` << 32) | milli-tokens.
    buckets: SkipMap<u64, AtomicU64>,
}

impl RateLimiter {
    pub fn new(rate_per_s: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate_per_s: u64::from(rate_per_s),
            burst: u64::from(burst.max(1)).min(TOKEN_MASK / MILLI),
            started: Instant::now(),
            buckets: SkipMap::new(),
        }
    }

    /// Takes one token for `credential`; `Err(seconds)` to wait when the bucket is empty.
    pub fn take(&self, credential: u64) -> Result<(), u64> {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.take_at(credential, now_ms)
    }

    /// As `take`, at `now_ms` milliseconds since the limiter started.
    fn take_at(&self, credential: u64, now_ms: u64) -> Result<(), u64> {
        if self.rate_per_s == 0 {
            return Ok(());
        }
        let now_ms = now_ms.min(u64::MAX >> TOKEN_BITS);
        let full = (now_ms << TOKEN_BITS) | (self.burst * MILLI);
        let entry = self.buckets.get_or_insert(credential, AtomicU64::new(full));
        let word = entry.value();
        let mut current = word.load(Ordering::Acquire);
        loop {
            let last_ms = current >> TOKEN_BITS;
            let tokens = current & TOKEN_MASK;
            let refill = now_ms.saturating_sub(last_ms) * self.rate_per_s;
            let available = (tokens + refill).min(self.burst * MILLI);
            if available < MILLI {
                let missing = MILLI - available;
                return Err((missing / self.rate_per_s.max(1)).div_ceil(MILLI).max(1));
            }
            let next = (now_ms.max(last_ms) << TOKEN_BITS) | (available - MILLI);
            match word.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_then_off() {
        let limiter = RateLimiter::new(1, 3);
        assert!((0..3).all(|_| limiter.take(7).is_ok()));
        assert_eq!(limiter.take(7), Err(1));
        assert!(limiter.take(8).is_ok(), "buckets are per credential");
        let off = RateLimiter::new(0, 1);
        assert!((0..1000).all(|_| off.take(1).is_ok()));
    }

    /// The clock used to be shifted into the high 32 bits of the word: after 49.7 days of
    /// uptime it lost its top bits and every bucket refilled on every request.
    #[test]
    fn still_limits_after_fifty_days_of_uptime() {
        let limiter = RateLimiter::new(1, 3);
        let day_ms = 86_400_000;
        for at in [50 * day_ms, 400 * day_ms] {
            assert!((0..3).all(|_| limiter.take_at(7, at).is_ok()));
            assert_eq!(limiter.take_at(7, at), Err(1), "at {at} ms");
            assert!(limiter.take_at(7, at + 1_000).is_ok());
        }
    }
}
