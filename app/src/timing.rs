//! Equal answer times where the work depends on whether an account exists (ASVS 6.3.8).
//!
//! Sign-up and reset requests do different work for a new and a known address (a transaction of
//! inserts, or none). Rather than fake that work, their answers wait until a fixed time after the
//! request began, well above what either path needs on a normal day. The wait is a timer, not
//! CPU, and these are rare requests, so nobody notices it.

use std::time::Duration;

use tokio::time::Instant;

/// How long a sign-up or password-reset request takes at least.
pub const ACCOUNT_LOOKUP_MIN: Duration = Duration::from_millis(300);

/// Waits until `started + min`; returns at once if that has passed.
pub async fn answer_no_sooner_than(started: Instant, min: Duration) {
    tokio::time::sleep_until(started + min).await;
}
