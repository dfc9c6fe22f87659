//! Per-credential rate limit: a token bucket per API key, lock-free (one atomic word per
//! credential in a crossbeam skip list). Over the limit: 429 with Retry-After.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_skiplist::SkipMap;

/// Bits of the bucket word that hold the token count (in thousandths of a token).
const TOKEN_BITS: u32 = 32;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;
const MILLI: u64 = 1000;

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
        if self.rate_per_s == 0 {
            return Ok(());
        }
        let now_ms = self.started.elapsed().as_millis() as u64;
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
}
