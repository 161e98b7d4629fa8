//! `server seed`: made-up accounts, keys and request-log records spread over past days, for
//! development and the scale benchmark. It refuses to touch a database that holds any real
//! account (one whose address is not `@seed.invalid`).

use std::sync::Arc;

use app::api_keys::format::{self, KeyType};
use app::api_keys::store::{KeyLookup, NewKey, insert_key};
use app::db::{Db, new_id};
use app::state::AppState;
use rand::distributions::Alphanumeric;
use rand::{Rng, SeedableRng};
use time::{Duration, OffsetDateTime};

use crate::request_log::{RequestRecord, write_batch};

pub const DOMAIN: &str = "seed.invalid";
/// Every seeded account signs in with this password (printed by the command).
pub const PASSWORD: &str = "mast-seed-password";

#[derive(Debug, Clone, Copy)]
pub struct SeedPlan {
    pub accounts: usize,
    pub keys_per_account: usize,
    pub records: u64,
    pub days: i64,
}

/// Records per transaction: larger than the live writer's, as nothing waits for them.
const BATCH: usize = 20_000;

const ROUTES: [&str; 8] = [
    "/api/v1/orders",
    "/api/v1/orders/{id}",
    "/api/v1/customers",
    "/api/v1/invoices",
    "/api/v1/search",
    "/api/v1/echo",
    "/api/v2/orders",
    "/api/v1/webhooks",
];
const REFUSALS: [(&str, u16); 5] =
    [("rate_limited", 429), ("quota_exceeded", 429), ("revoked_key", 401), ("expired_key", 401), ("account_unverified", 403)];

/// Creates the accounts and keys, then writes `records` requests evenly over the last `days`
/// days, oldest first as real traffic arrives. Account 1 is the busiest (about a fifth of all
/// traffic); the rest share the remainder unevenly. Returns the seeded accounts' emails.
pub async fn seed(state: &AppState, plan: SeedPlan, progress: impl Fn(u64)) -> Result<Vec<String>, String> {
    let db = &state.db;
    let real: i64 = app::on_db!(db, pool => sqlx::query_scalar("select count(*) from account where email_normalized not like $1")
        .bind(format!("%@{DOMAIN}")).fetch_one(pool).await)
    .map_err(|e| e.to_string())?;
    if real > 0 {
        return Err(format!("this database has {real} real accounts: seed only a database for development or benchmarks"));
    }
    let password_hash = state.hasher.hash(PASSWORD).await.ok_or("cannot hash the seed password")?;
    let now = app::db::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut keys: Vec<Vec<Arc<KeyLookup>>> = Vec::with_capacity(plan.accounts);
    let mut emails = Vec::with_capacity(plan.accounts);
    let word = &state.config.api_key_prefix;
    for n in 1..=plan.accounts {
        let email = format!("dev-{n:05}-{}@{DOMAIN}", new_id().simple());
        let account_id = new_id();
        let mut tx = db.begin().await.map_err(|e| e.to_string())?;
        let new = app::accounts::store::NewAccount {
            account_id,
            email: &email,
            email_normalized: &email,
            display_name: &format!("Seed developer {n}"),
            organisation: Some("Seed Ltd"),
            country: None,
            password_hash: Some(&password_hash),
        };
        app::accounts::store::insert_account(&mut tx, &new, now - Duration::days(plan.days)).await.map_err(|e| e.to_string())?;
        let mut account_keys = Vec::with_capacity(plan.keys_per_account);
        for k in 0..plan.keys_per_account {
            let key_type = if k % 2 == 0 { KeyType::Live } else { KeyType::Test };
            let random: String = (&mut rng).sample_iter(&Alphanumeric).take(format::RANDOM_LEN).map(char::from).collect();
            let key = format::assemble(word, key_type, &random);
            let key_hash = state.keys.hasher().hash(&key);
            let (display_prefix, last4) = format::display_parts(&key, word, key_type);
            let label = format!("Seed key {}", k + 1);
            let api_key_id = new_id();
            let row = NewKey {
                api_key_id,
                account_id,
                key_hash: &key_hash,
                display_prefix: &display_prefix,
                last4: &last4,
                label: &label,
                key_type: key_type.as_str(),
                expires_at: None,
                replaces: None,
                scope: &Default::default(),
                session_key_hash: None,
            };
            insert_key(&mut tx, &row, now - Duration::days(plan.days)).await.map_err(|e| e.to_string())?;
            account_keys.push(Arc::new(KeyLookup {
                api_key_id,
                account_id,
                label,
                key_type: key_type.as_str().to_string(),
                display_prefix,
                last4,
                expires_at: None,
                revoked_at: None,
                account_status: "active".into(),
                email_verified_at: Some(now),
                plan: None,
                current_consents: app::consent::DOCUMENTS.len() as i64,
                stored_scope: Default::default(),
                scope: Default::default(),
            }));
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        app::on_db!(db, pool => sqlx::query("update account set email_verified_at = $2 where account_id = $1")
            .bind(account_id).bind(app::db::Ts(now - Duration::days(plan.days))).execute(pool).await.map(|_| ()))
        .map_err(|e| e.to_string())?;
        keys.push(account_keys);
        emails.push(email);
    }
    write_traffic(db, &keys, plan, now, &mut rng, progress).await?;
    Ok(emails)
}

async fn write_traffic(
    db: &Db,
    keys: &[Vec<Arc<KeyLookup>>],
    plan: SeedPlan,
    now: OffsetDateTime,
    rng: &mut rand::rngs::StdRng,
    progress: impl Fn(u64),
) -> Result<(), String> {
    if keys.is_empty() || keys[0].is_empty() || plan.records == 0 {
        return Ok(());
    }
    let start = now - Duration::days(plan.days);
    let step_us = (plan.days * 86_400_000_000) as f64 / plan.records as f64;
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..plan.records {
        // u³ makes low account numbers busy: account 1 gets (1/N)^(1/3) of the traffic.
        let u: f64 = rng.r#gen();
        let account = ((u * u * u) * keys.len() as f64) as usize;
        let account_keys = &keys[account.min(keys.len() - 1)];
        let key = account_keys[rng.gen_range(0..account_keys.len())].clone();
        let roll: u32 = rng.gen_range(0..100);
        let (outcome, code, status) = match roll {
            0..=93 => ("accepted", None, 200),
            94..=98 => {
                let (code, status) = REFUSALS[rng.gen_range(0..REFUSALS.len())];
                ("refused", Some(code), status)
            }
            _ => ("failed", Some("upstream_unavailable"), 502),
        };
        batch.push(RequestRecord {
            at: start + Duration::microseconds((i as f64 * step_us) as i64),
            method: if roll % 4 == 0 { "POST".into() } else { "GET".into() },
            route: ROUTES[rng.gen_range(0..ROUTES.len())].into(),
            status,
            outcome,
            code,
            key: Some(key),
            ip: format!("198.51.100.{}", rng.gen_range(1..255)),
            user_agent: "seed-client/1.0".into(),
            latency_us: rng.gen_range(300..8_000),
            deprecated: None,
        });
        if batch.len() == BATCH {
            write_batch(db, &batch).await.map_err(|e| e.to_string())?;
            batch.clear();
            if (i + 1) % 1_000_000 < BATCH as u64 {
                progress(i + 1);
            }
        }
    }
    write_batch(db, &batch).await.map_err(|e| e.to_string())?;
    progress(plan.records);
    Ok(())
}
