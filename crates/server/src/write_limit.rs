//! A token bucket per caller, for commands: one client in a loop cannot
//! fill the database or the outbox for everyone else.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::serving::WriteLimit;

/// Callers forgotten after this long idle, so the table does not grow forever.
const FORGET_AFTER: Duration = Duration::from_secs(600);

pub struct WriteLimiter {
    limit: WriteLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl WriteLimiter {
    pub fn new(limit: WriteLimit) -> WriteLimiter {
        WriteLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `caller` at `now`; on refusal, how long until one is free.
    pub fn take(&self, caller: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().expect("write limiter lock");
        if buckets.len() > 10_000 {
            buckets.retain(|_, bucket| now.duration_since(bucket.at) < FORGET_AFTER);
        }
        let bucket = buckets.entry(caller.to_owned()).or_insert(Bucket {
            tokens: self.limit.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.limit.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.limit.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_applies_per_caller() {
        let limiter = WriteLimiter::new(WriteLimit {
            per_second: 10.0,
            burst: 3.0,
        });
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("awa", start).is_ok());
        }
        let wait = limiter.take("awa", start).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(
            limiter.take("moussa", start).is_ok(),
            "another caller has their own bucket"
        );
        assert!(limiter.take("awa", start + Duration::from_millis(100)).is_ok());
        assert!(limiter.take("awa", start + Duration::from_millis(100)).is_err());
    }
}
