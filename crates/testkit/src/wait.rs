//! Waiting for a condition with a deadline.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it returns `Some`, and returns that value. Panics,
/// naming `what`, when `timeout` passes first. Tests use this instead of
/// sleeping: it is as fast as the system and says what did not happen.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}
