//! The security event log (ASVS V16): who, what, when (UTC), from where. Never a password,
//! token or key: callers pass only ids and short, non-secret details.

#[cfg(feature = "ssr")]
pub mod store;

/// Refusals of anonymous requests that anyone can repeat without end (cross-site posts, bot hits
/// of the contact form): the first ten an hour per kind and client network are events, the rest
/// are only counted in `unrecorded` (`mast_refusals_unrecorded_total`), so they cannot fill the
/// event table.
#[cfg(feature = "ssr")]
pub async fn record_anonymous_refusal(
    db: &crate::db::Db,
    unrecorded: &prometheus_client::metrics::counter::Counter,
    event: store::NewEvent<'_>,
    now: time::OffsetDateTime,
) {
    use crate::throttle::{self, Bucket, Policy};
    const KEPT: Policy = Policy { free: 10, max_per_hour: 10, max_delay: std::time::Duration::from_secs(3600) };
    let network = event.client.map(|c| c.network()).unwrap_or_default();
    let bucket = Bucket::new("ip", format!("event:{}:{network}", event.kind), KEPT);
    match throttle::attempt(db, &[bucket], now).await {
        Ok(Ok(pass)) => {
            if let Err(err) = pass.keep(db, now).await {
                tracing::error!(error = %err, "could not count a refusal");
            }
            store::record(db, event).await;
        }
        Ok(Err(_)) => {
            unrecorded.inc();
        }
        Err(err) => tracing::error!(error = %err, "could not count a refusal"),
    }
}

/// Event kinds, stable strings stored in `event.kind`.
pub mod kind {
    pub const SIGN_UP: &str = "account.sign_up";
    pub const SIGN_UP_EXISTING: &str = "account.sign_up_existing_email";
    pub const EMAIL_VERIFIED: &str = "account.email_verified";
    pub const VERIFICATION_SENT: &str = "account.verification_sent";
    pub const SIGN_IN: &str = "session.sign_in";
    pub const SIGN_IN_FAILED: &str = "session.sign_in_failed";
    pub const SIGN_IN_THROTTLED: &str = "session.sign_in_throttled";
    pub const SIGN_OUT: &str = "session.sign_out";
    pub const SESSION_ENDED: &str = "session.ended";
    pub const OTHER_SESSIONS_ENDED: &str = "session.others_ended";
    pub const PROFILE_UPDATED: &str = "account.profile_updated";
    pub const EMAIL_CHANGE_REQUESTED: &str = "account.email_change_requested";
    pub const EMAIL_CHANGED: &str = "account.email_changed";
    pub const DATA_EXPORTED: &str = "account.data_exported";
    /// Kept without account, IP or browser: that an account was deleted, and when.
    pub const ACCOUNT_DELETED: &str = "account.deleted";
    pub const PASSWORD_CHANGED: &str = "password.changed";
    pub const PASSWORD_CHANGE_FAILED: &str = "password.change_failed";
    pub const PASSWORD_RESET_REQUESTED: &str = "password.reset_requested";
    pub const PASSWORD_RESET: &str = "password.reset";
    pub const REAUTHENTICATED: &str = "session.reauthenticated";
    pub const REAUTHENTICATION_FAILED: &str = "session.reauthentication_failed";
    pub const PASSKEY_ADDED: &str = "passkey.added";
    pub const PASSKEY_RENAMED: &str = "passkey.renamed";
    pub const PASSKEY_REMOVED: &str = "passkey.removed";
    pub const API_KEY_CREATED: &str = "api_key.created";
    pub const API_KEY_ROLLED: &str = "api_key.rolled";
    pub const API_KEY_REVOKED: &str = "api_key.revoked";
    /// Revoked through `POST /v1/keys/revoke` by someone holding the key.
    pub const API_KEY_REPORTED: &str = "api_key.reported_leaked";
    pub const API_KEY_EMAILED: &str = "api_key.emailed";
    /// What a key may do changed (detail: the scope before and after).
    pub const API_KEY_SCOPE_CHANGED: &str = "api_key.scope_changed";
    pub const CONSENT_ACCEPTED: &str = "consent.accepted";
    pub const CSRF_REFUSED: &str = "request.cross_origin_refused";
    pub const ADMIN_GRANTED: &str = "admin.granted";
    pub const ADMIN_REVOKED: &str = "admin.revoked";
    /// A signed-in account without the admin role called an admin function.
    pub const ADMIN_REFUSED: &str = "admin.refused";
    pub const ADMIN_SUSPENDED: &str = "admin.account_suspended";
    pub const ADMIN_REACTIVATED: &str = "admin.account_reactivated";
    pub const ADMIN_PLAN_CHANGED: &str = "admin.plan_changed";
    pub const ADMIN_VERIFICATION_SENT: &str = "admin.verification_sent";
    pub const ADMIN_SESSIONS_ENDED: &str = "admin.sessions_ended";
    pub const ADMIN_LOGS_EXPORTED: &str = "admin.request_log_exported";
    /// A message came through the contact form (detail: its id).
    pub const CONTACT_RECEIVED: &str = "contact.received";
    /// The contact form refused what looked like a bot: `honeypot`, `too_quick` or `bad_token`.
    pub const CONTACT_SPAM_REFUSED: &str = "contact.spam_refused";
    /// The contact form's limit per IP or per address was reached.
    pub const CONTACT_THROTTLED: &str = "contact.throttled";
    pub const ADMIN_CONTACT_REPLIED: &str = "admin.contact_replied";
    pub const ADMIN_CONTACT_CLOSED: &str = "admin.contact_closed";
    pub const ADMIN_CONTACT_REOPENED: &str = "admin.contact_reopened";
}
