//! Deprecations, told to those they concern: operations a product's document marks
//! `deprecated`, or the settings give a sunset date (`[[products.sunsets]]`). The gateway
//! answers their calls with `Deprecation` and `Sunset` headers and the request-log writer counts
//! who makes them; each developer sees the ones their keys called in the last
//! [`RECENT_DAYS`] days on the dashboard and gets one email per operation, ever; admins see
//! who still calls each (`admin`'s deprecations page, which reads [`store::callers`]).

#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What "still calls it" means: a call in this many days.
pub const RECENT_DAYS: i64 = 30;

/// A deprecated operation someone called.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeprecatedCall {
    pub product: String,
    pub method: String,
    pub path: String,
    /// Where the docs show it.
    pub docs: String,
    /// `YYYY-MM-DD`: the last day it answers, when the operator set one.
    pub sunset: Option<String>,
    pub calls: i64,
    pub last_call_at: String,
}

/// An operation and the accounts that still call it (the admin's view).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeprecatedCallers {
    pub operation: DeprecatedCall,
    /// (account id, email, calls, last call)
    pub accounts: Vec<(String, String, i64, String)>,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::state::AppState;

    /// The product's name, the docs link and the sunset of an operation, from the catalogue.
    pub fn describe(state: &AppState, op: &store::OperationKey, calls: i64, last_call_at: time::OffsetDateTime) -> DeprecatedCall {
        let product = state.catalogue.find(&op.product);
        let found = product.and_then(|p| p.reference.operations.iter().find(|o| o.method == op.method && o.path == op.path));
        DeprecatedCall {
            product: product.map_or_else(|| op.product.clone(), |p| p.config.name.clone()),
            method: op.method.clone(),
            path: op.path.clone(),
            docs: match (product, found) {
                (Some(p), Some(o)) => p.reference.operation_href(&p.config.slug, o),
                _ => "/docs".to_string(),
            },
            sunset: found.and_then(|o| o.sunset.clone()),
            calls,
            last_call_at: crate::accounts::format_time(last_call_at),
        }
    }

    /// Mails every account about each deprecated operation it called and has not heard about.
    pub async fn send_notices(state: &AppState) -> Result<usize, sqlx::Error> {
        let pending = store::claim_unnotified(&state.db, state.clock.now(), 500).await?;
        let site = &state.config.site_name;
        for notice in &pending {
            let call = describe(state, &notice.op, 0, notice.last_call_at);
            let ends = match &call.sunset {
                Some(day) => format!("It stops working after {day} (UTC)."),
                None => "It may stop working in a later version.".to_string(),
            };
            state.send_mail_later(crate::mail::compose(
                &notice.email,
                &format!("You call a deprecated operation of {}", call.product),
                site,
                &[
                    &format!("Hello {},", notice.display_name),
                    &format!(
                        "Your API keys called {} {} of {}, which is deprecated, last at {}. {ends}",
                        call.method, call.path, call.product, call.last_call_at
                    ),
                    "Its documentation says what to use instead. This is the only email about this operation; your dashboard \
                     lists the deprecated operations you still call.",
                ],
                Some(("Read its documentation", &state.config.link(&call.docs))),
            ));
        }
        Ok(pending.len())
    }

    /// Sends the notices every few seconds, on every instance (each notice goes out once).
    pub fn spawn_notices(state: AppState) {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(NOTICE_INTERVAL_SECONDS));
            loop {
                every.tick().await;
                if let Err(err) = send_notices(&state).await {
                    tracing::warn!(error = %err, "deprecation notices failed; will retry");
                }
            }
        });
    }

    /// How often pending notices are looked for.
    pub const NOTICE_INTERVAL_SECONDS: u64 = 5;
}

#[cfg(feature = "ssr")]
pub use ssr::{NOTICE_INTERVAL_SECONDS, send_notices, spawn_notices};

/// The deprecated operations the signed-in developer's keys called recently.
#[server(prefix = "/rpc", endpoint = "your_deprecated_calls")]
pub async fn your_deprecated_calls() -> Result<Vec<DeprecatedCall>, AppError> {
    let state = crate::state::AppState::current()?;
    let account = crate::sessions::auth::require_account().await?;
    crate::sessions::auth::no_store();
    let since = state.clock.now() - time::Duration::days(RECENT_DAYS);
    let rows = store::calls_of_account(&state.db, account.account_id, since).await?;
    Ok(rows.iter().map(|r| ssr::describe(&state, &r.op, r.calls, r.last_call_at)).collect())
}

/// The deprecated operations a developer still calls, on the dashboard; nothing when none.
#[component]
pub fn DeprecationsCard(calls: Resource<Result<Vec<DeprecatedCall>, AppError>>) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || calls.get().and_then(Result::ok).filter(|c| !c.is_empty()).map(|calls| view! {
                <div class="card deprecations" role="region" aria-labelledby="deprecations-heading">
                    <h2 id="deprecations-heading">"Deprecated operations you call"</h2>
                    <p class="muted">{format!("Your keys called these in the last {RECENT_DAYS} days. Move to what their documentation suggests before they stop working.")}</p>
                    <table>
                        <thead><tr><th scope="col">"Operation"</th><th scope="col">"API"</th><th scope="col">"Last call"</th><th scope="col">"Stops working"</th></tr></thead>
                        <tbody>
                            {calls.into_iter().map(|c| view! {
                                <tr>
                                    <td><a href=c.docs rel="external"><code>{format!("{} {}", c.method, c.path)}</code></a></td>
                                    <td>{c.product}</td>
                                    <td>{c.last_call_at}</td>
                                    <td>{c.sunset.map_or_else(|| "Not announced".to_string(), |d| format!("After {d}"))}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
        </Transition>
    }
}

/// The dashboard's data for [`DeprecationsCard`], asked for once by the page.
pub fn deprecated_calls() -> Resource<Result<Vec<DeprecatedCall>, AppError>> {
    Resource::new(|| (), |_| your_deprecated_calls())
}
