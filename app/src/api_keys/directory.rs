//! Key look-ups for the gateway, cached in memory. A change is effective at once on the instance
//! that made it (it forgets the entry after commit) and, on PostgreSQL, on every other instance
//! through `NOTIFY mast_keys` sent in the changing transaction. Entries also expire after
//! [`ENTRY_TTL`], a backstop for a listener that was down.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::secret::KeyHasher;
use super::store::{self, KeyLookup};
use crate::db::{Db, Tx};

pub const ENTRY_TTL: Duration = Duration::from_secs(30);
/// Entries kept at most; past it the least recently used goes. Keys in use are asked for all the
/// time, so a flood of made-up keys evicts its own entries, not theirs.
pub const MAX_ENTRIES: usize = 100_000;
pub const CHANNEL: &str = "mast_keys";

/// What changed, as announced to other instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Key { key_hash: String },
    Account { account_id: Uuid },
}

impl Change {
    fn to_message(&self) -> String {
        match self {
            Change::Key { key_hash } => format!("key:{key_hash}"),
            Change::Account { account_id } => format!("account:{account_id}"),
        }
    }

    fn from_message(text: &str) -> Option<Change> {
        if let Some(hash) = text.strip_prefix("key:") {
            return Some(Change::Key { key_hash: hash.to_string() });
        }
        text.strip_prefix("account:").and_then(|id| id.parse().ok()).map(|account_id| Change::Account { account_id })
    }
}

struct Entry {
    found: Option<Arc<KeyLookup>>,
    fetched: Instant,
}

pub struct KeyDirectory {
    db: Db,
    hasher: KeyHasher,
    /// By HMAC digest, not hex: the hot path then allocates nothing to look up.
    entries: Mutex<lru::LruCache<[u8; 32], Entry>>,
    /// Bumped by every forget: a look-up that raced with a change does not cache its stale answer.
    generation: AtomicU64,
}

impl KeyDirectory {
    pub fn new(db: Db, hasher: KeyHasher) -> KeyDirectory {
        let capacity = NonZeroUsize::new(MAX_ENTRIES).unwrap_or(NonZeroUsize::MIN);
        KeyDirectory { db, hasher, entries: Mutex::new(lru::LruCache::new(capacity)), generation: AtomicU64::new(0) }
    }

    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    /// The key and its account, or `None` for a key nobody holds.
    pub async fn find(&self, key: &str) -> Result<Option<Arc<KeyLookup>>, sqlx::Error> {
        let digest = self.hasher.digest(key);
        if let Some(found) = self.cached(&digest) {
            return Ok(found);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let found = store::lookup(&self.db, &hex::encode(digest)).await?.map(Arc::new);
        let mut entries = self.lock();
        if self.generation.load(Ordering::Acquire) == generation {
            entries.put(digest, Entry { found: found.clone(), fetched: Instant::now() });
        }
        Ok(found)
    }

    /// The cached answer for `key`, when one is fresh: `Some(None)` is "nobody holds it".
    pub fn cached_answer(&self, key: &str) -> Option<Option<Arc<KeyLookup>>> {
        self.cached(&self.hasher.digest(key))
    }

    fn cached(&self, digest: &[u8; 32]) -> Option<Option<Arc<KeyLookup>>> {
        self.lock().get(digest).filter(|entry| entry.fetched.elapsed() < ENTRY_TTL).map(|entry| entry.found.clone())
    }

    /// Tells the other instances, inside the transaction that makes the change (PostgreSQL
    /// delivers it on commit). Call [`KeyDirectory::apply`] after the commit for this instance.
    pub async fn announce(tx: &mut Tx, change: &Change) -> Result<(), sqlx::Error> {
        if let Tx::Postgres(t) = tx {
            sqlx::query("select pg_notify($1, $2)").bind(CHANNEL).bind(change.to_message()).execute(&mut **t).await?;
        }
        Ok(())
    }

    /// Forgets what the change makes stale.
    pub fn apply(&self, change: &Change) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut entries = self.lock();
        match change {
            Change::Key { key_hash } => match <[u8; 32]>::try_from(hex::decode(key_hash).unwrap_or_default()) {
                Ok(digest) => {
                    entries.pop(&digest);
                }
                // Not a hash of ours: forget everything rather than risk keeping a stale entry.
                Err(_) => entries.clear(),
            },
            Change::Account { account_id } => {
                let stale: Vec<[u8; 32]> = entries
                    .iter()
                    .filter(|(_, e)| e.found.as_ref().is_some_and(|k| k.account_id == *account_id))
                    .map(|(digest, _)| *digest)
                    .collect();
                for digest in stale {
                    entries.pop(&digest);
                }
            }
        }
    }

    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock().clear();
    }

    /// On PostgreSQL, applies the changes other instances announce. When the connection drops,
    /// notifications may have been missed, so everything is forgotten before listening again.
    pub fn spawn_listener(self: &Arc<Self>) {
        let Db::Postgres(pool) = &self.db else { return };
        let pool = pool.clone();
        let directory = Arc::clone(self);
        tokio::spawn(async move {
            // Ends with the pool: a server that has stopped listens no more.
            while !pool.is_closed() {
                let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(listener) => listener,
                    Err(err) => {
                        tracing::warn!(error = %err, "key change listener cannot connect; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(err) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %err, "cannot LISTEN for key changes; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                directory.forget_all();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(note)) => match Change::from_message(note.payload()) {
                            Some(change) => directory.apply(&change),
                            None => directory.forget_all(),
                        },
                        Ok(None) => {
                            tracing::warn!("key change listener lost its connection; cache cleared");
                            directory.forget_all();
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "key change listener failed; reconnecting");
                            directory.forget_all();
                            break;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, lru::LruCache<[u8; 32], Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many entries the cache holds (for tests and figures).
    pub fn cached_entries(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_survive_the_trip_through_notify() {
        let key = Change::Key { key_hash: "ab".repeat(32) };
        assert_eq!(Change::from_message(&key.to_message()), Some(key));
        let account = Change::Account { account_id: Uuid::now_v7() };
        assert_eq!(Change::from_message(&account.to_message()), Some(account));
        assert_eq!(Change::from_message("account:not-a-uuid"), None);
    }
}
