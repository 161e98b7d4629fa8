//! Back-off throttling shared by every instance through the database (ASVS 6.3.1).
//!
//! Each key (an account's email, an IP, a mailbox for resends) may fail `free` times in an hour;
//! every further failure doubles the wait, up to `max_delay`, so an attacker cannot lock a user
//! out for long; after `max_per_hour` failures the key waits for the hour to end.

#[cfg(feature = "ssr")]
pub mod store;

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub free: i64,
    pub max_per_hour: i64,
    pub max_delay: Duration,
}

/// Failed sign-ins (password or reset token) per email address, known or not.
pub const SIGN_IN_PER_ACCOUNT: Policy = Policy { free: 5, max_per_hour: 100, max_delay: Duration::from_secs(15 * 60) };
/// Failed sign-ins per client IP: higher, as many people may share one address.
pub const SIGN_IN_PER_IP: Policy = Policy { free: 30, max_per_hour: 1000, max_delay: Duration::from_secs(15 * 60) };
/// Mails a person can trigger for one address (resend verification, reset): a few, then slower.
pub const MAIL_PER_ADDRESS: Policy = Policy { free: 3, max_per_hour: 10, max_delay: Duration::from_secs(30 * 60) };

impl Policy {
    /// How long the key must wait after its `failures`-th failure in the window.
    pub fn delay_after(&self, failures: i64) -> Duration {
        if failures <= self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free - 1).min(20) as u32;
        Duration::from_secs(1u64 << doublings).min(self.max_delay)
    }
}

/// "in 3 minutes", for messages.
pub fn describe_wait(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    if secs < 90 { format!("in {secs} seconds") } else { format!("in {} minutes", secs.div_ceil(60)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asvs_6_3_1_backoff_grows_and_is_capped() {
        let p = SIGN_IN_PER_ACCOUNT;
        assert_eq!(p.delay_after(5), Duration::ZERO);
        assert_eq!(p.delay_after(6), Duration::from_secs(1));
        assert_eq!(p.delay_after(8), Duration::from_secs(4));
        assert_eq!(p.delay_after(60), p.max_delay);
    }
}
