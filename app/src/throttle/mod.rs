//! Back-off throttling shared by every instance through the database (ASVS 6.3.1).
//!
//! A bucket (an address, an address from one client network, a client network) lets `free`
//! attempts through in an hour; past those, every failure doubles the wait, up to `max_delay`,
//! and after `max_per_hour` the bucket waits for its hour to end.
//!
//! An attempt is counted *before* the check it guards, by one statement that increments and
//! returns the count ([`attempt`]), and past the free ones only one attempt per bucket is in
//! flight at a time: a burst of concurrent guesses gets `free + 1` checks, not one each. The
//! caller then settles the [`Pass`]: `keep` when the attempt failed (or spent a mail), `refund`
//! when it succeeded.
//!
//! Sign-in buckets, chosen so that a stranger cannot keep the owner out:
//! - per address *and* client network: 5 free, then doubling up to 15 minutes. Guesses from one
//!   network slow that network only.
//! - per address, from anywhere: 10 free, then doubling up to 30 seconds, and at most 100 failures
//!   an hour (ASVS 6.3.1). Guesses spread over many networks slow everyone by seconds, and past
//!   100 in an hour stop password sign-in to the address until the hour ends.
//! - per client network: 30 free, then doubling up to 15 minutes.
//!
//! Passkey sign-in has buckets of its own (per client network): password guesses never block it,
//! and a reset link always works, so the owner always has a way in.

#[cfg(feature = "ssr")]
pub mod store;

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub free: i64,
    pub max_per_hour: i64,
    pub max_delay: Duration,
}

/// Failed password sign-ins (and other password checks) per address from one client network.
pub const SIGN_IN_PER_ACCOUNT_AND_CLIENT: Policy = Policy { free: 5, max_per_hour: 100, max_delay: Duration::from_secs(15 * 60) };
/// Failed password sign-ins per address from anywhere: a short wait, and the hourly cap.
pub const SIGN_IN_PER_ACCOUNT: Policy = Policy { free: 10, max_per_hour: 100, max_delay: Duration::from_secs(30) };
/// Failed sign-ins per client network: higher, as many people may share one address.
pub const SIGN_IN_PER_IP: Policy = Policy { free: 30, max_per_hour: 1000, max_delay: Duration::from_secs(15 * 60) };
/// Mails a person can trigger for one address (resend verification, reset): a few, then slower.
pub const MAIL_PER_ADDRESS: Policy = Policy { free: 3, max_per_hour: 10, max_delay: Duration::from_secs(30 * 60) };
/// Sign-ups and email changes per client network: each sends a mail and costs a hash.
pub const SIGN_UP_PER_CLIENT: Policy = Policy { free: 30, max_per_hour: 300, max_delay: Duration::from_secs(15 * 60) };

/// How long an attempt past the free ones may hold its bucket before it is settled; only a
/// process that died mid-attempt leaves a lease to run out.
pub const LEASE: Duration = Duration::from_secs(30);

impl Policy {
    /// How long the key must wait after its `failures`-th failure in the window.
    pub fn delay_after(&self, failures: i64) -> Duration {
        if failures <= self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free - 1).min(20) as u32;
        Duration::from_secs(1u64 << doublings).min(self.max_delay)
    }

    /// The wait after the `count`-th failure of the hour that began at `window_started_at`: the
    /// back-off, or the rest of the hour once `max_per_hour` is reached.
    #[cfg(feature = "ssr")]
    pub fn wait_after(&self, count: i64, window_started_at: time::OffsetDateTime, now: time::OffsetDateTime) -> Duration {
        if count >= self.max_per_hour {
            let rest = (window_started_at + time::Duration::hours(1)) - now;
            return Duration::from_secs(rest.whole_seconds().max(1) as u64);
        }
        self.delay_after(count)
    }
}

/// One throttled key and its policy; `scope` names it in events ("account", "ip", …).
#[derive(Clone, Debug)]
pub struct Bucket {
    pub key: String,
    pub policy: Policy,
    pub scope: &'static str,
}

impl Bucket {
    pub fn new(scope: &'static str, key: String, policy: Policy) -> Bucket {
        Bucket { key, policy, scope }
    }
}

/// The buckets of a password check for `email_normalized` from the client `network`
/// (`ClientInfo::network`), most specific first: sign-in, "confirm it's you" and change password
/// share them.
pub fn password_buckets(email_normalized: &str, network: &str) -> [Bucket; 3] {
    [
        Bucket::new("account_client", format!("signin:acct-net:{email_normalized}|{network}"), SIGN_IN_PER_ACCOUNT_AND_CLIENT),
        Bucket::new("account", format!("signin:acct:{email_normalized}"), SIGN_IN_PER_ACCOUNT),
        Bucket::new("ip", format!("signin:ip:{network}"), SIGN_IN_PER_IP),
    ]
}

/// The bucket of passkey ceremonies from the client `network`: apart from passwords, so guessed
/// passwords never block a passkey.
pub fn passkey_bucket(network: &str) -> Bucket {
    Bucket::new("ip", format!("passkey:ip:{network}"), SIGN_IN_PER_IP)
}

/// Why an attempt was not let through: the bucket that refused it, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct Refused {
    pub scope: &'static str,
    pub wait: Duration,
}

/// An attempt let through by every bucket, to be settled with [`Pass::keep`] or [`Pass::refund`].
/// Dropped unsettled (an error on the way), it stays counted and its lease runs out.
#[cfg(feature = "ssr")]
#[must_use = "settle the attempt with keep() or refund()"]
pub struct Pass {
    counted: Vec<store::Counted>,
}

/// Counts one attempt against every bucket, most specific first; refused by one, the buckets
/// already counted are refunded and the rest are not touched.
#[cfg(feature = "ssr")]
pub async fn attempt(db: &crate::db::Db, buckets: &[Bucket], now: time::OffsetDateTime) -> Result<Result<Pass, Refused>, sqlx::Error> {
    let mut pass = Pass { counted: Vec::with_capacity(buckets.len()) };
    for bucket in buckets {
        match store::count_attempt(db, bucket, now).await? {
            Some(counted) => pass.counted.push(counted),
            None => {
                let wait = store::waiting_for(db, &bucket.key, now).await?.unwrap_or(Duration::from_secs(1));
                pass.refund(db).await?;
                return Ok(Err(Refused { scope: bucket.scope, wait }));
            }
        }
    }
    Ok(Ok(pass))
}

#[cfg(feature = "ssr")]
impl Pass {
    /// The attempt failed, or spent what the buckets limit: it stays counted.
    pub async fn keep(self, db: &crate::db::Db, now: time::OffsetDateTime) -> Result<(), sqlx::Error> {
        for counted in &self.counted {
            store::keep(db, counted, now).await?;
        }
        Ok(())
    }

    /// The attempt succeeded: it is not counted, and nobody waits for it.
    pub async fn refund(self, db: &crate::db::Db) -> Result<(), sqlx::Error> {
        for counted in &self.counted {
            store::refund(db, counted).await?;
        }
        Ok(())
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
        let p = SIGN_IN_PER_ACCOUNT_AND_CLIENT;
        assert_eq!(p.delay_after(5), Duration::ZERO);
        assert_eq!(p.delay_after(6), Duration::from_secs(1));
        assert_eq!(p.delay_after(8), Duration::from_secs(4));
        assert_eq!(p.delay_after(60), p.max_delay);
    }

    #[test]
    fn guesses_from_everywhere_slow_an_address_by_seconds_not_minutes() {
        assert!(SIGN_IN_PER_ACCOUNT.max_delay <= Duration::from_secs(30));
        assert_eq!(SIGN_IN_PER_ACCOUNT.max_per_hour, 100);
        assert_eq!(SIGN_IN_PER_ACCOUNT.delay_after(99), Duration::from_secs(30));
    }
}
