//! Keys are stored as HMAC-SHA256 under a secret kept outside the database (ASVS 11.4.2 and
//! design.md): a stolen database alone cannot be used to test guesses. The secret comes from the
//! settings or is generated once into the data folder (ASVS 13.3.1).

use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::config::Config;

pub const SECRET_FILE: &str = "api-key-secret";

#[derive(Clone)]
pub struct KeyHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or create {0}: {1}")]
    Io(String, std::io::Error),
    #[error("api_key_secret must be at least 32 characters")]
    TooShort,
}

impl KeyHasher {
    pub fn new(secret: &[u8]) -> KeyHasher {
        // HMAC takes keys of any length; this cannot fail.
        KeyHasher { mac: Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key length")) }
    }

    /// The configured secret, or the one in the data folder, created on first start.
    pub fn from_config(config: &Config) -> Result<KeyHasher, SecretError> {
        match &config.api_key_secret {
            Some(secret) if secret.expose_secret().len() < 32 => Err(SecretError::TooShort),
            Some(secret) => Ok(KeyHasher::new(secret.expose_secret().as_bytes())),
            None => Ok(KeyHasher::new(load_or_create(&config.data_dir.join(SECRET_FILE))?.expose_secret().as_bytes())),
        }
    }

    /// Hex of HMAC-SHA256(secret, key): what `api_key.key_hash` holds.
    pub fn hash(&self, key: &str) -> String {
        hex::encode(self.digest(key))
    }

    /// The random part of the try-it console's key `api_key_id`: base62 of HMAC-SHA256(secret,
    /// a label and the id), as long as a random part and unguessable without the secret.
    pub fn console_random(&self, api_key_id: uuid::Uuid) -> String {
        const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut out = String::with_capacity(crate::api_keys::format::RANDOM_LEN);
        for block in 0u32.. {
            let mut mac = self.mac.clone();
            mac.update(b"mast try-it console key\0");
            mac.update(api_key_id.as_bytes());
            mac.update(&block.to_be_bytes());
            // 248 = 4 x 62: bytes above it are skipped so every character is equally likely.
            for byte in mac.finalize().into_bytes().into_iter().filter(|b| *b < 248) {
                if out.len() == crate::api_keys::format::RANDOM_LEN {
                    return out;
                }
                out.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
        out
    }

    /// HMAC-SHA256(secret, key) as bytes (the cache's key: no hex string per request).
    pub fn digest(&self, key: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn load_or_create(path: &Path) -> Result<SecretString, SecretError> {
    let io = |e| SecretError::Io(path.display().to_string(), e);
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= 32 => return Ok(SecretString::from(text.trim().to_string())),
        Ok(_) => return Err(SecretError::TooShort),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        Err(_) => {}
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    if write_private(path, &secret).map_err(io)? {
        tracing::info!(path = %path.display(), "generated the API key secret; back it up with the database");
        return Ok(SecretString::from(secret));
    }
    // Another instance made it first: its secret is the installation's.
    let text = std::fs::read_to_string(path).map_err(io)?;
    if text.trim().len() < 32 {
        return Err(SecretError::TooShort);
    }
    Ok(SecretString::from(text.trim().to_string()))
}

/// Creates the file, readable by its owner only, whole or not at all: the text goes to a file of
/// its own, which is then linked under `path` unless one is there already. False when another
/// process made `path` first (two instances starting at once): theirs stays.
fn write_private(path: &Path, text: &str) -> std::io::Result<bool> {
    use std::io::Write;
    let draft = path.with_extension(format!("new-{}", uuid::Uuid::now_v7().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&draft).and_then(|mut file| file.write_all(text.as_bytes()).and_then(|()| file.sync_all()));
    let linked = written.and_then(|()| std::fs::hard_link(&draft, path));
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_generated_once_and_reused() {
        let dir = tempfile_dir();
        let config = Config { data_dir: dir.clone(), ..Config::default() };
        let first = KeyHasher::from_config(&config).unwrap().hash("mast_live_x");
        let second = KeyHasher::from_config(&config).unwrap().hash("mast_live_x");
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(SECRET_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "only the owner may read the secret");
        }
        let other = KeyHasher::new(b"another secret of at least thirty-two bytes").hash("mast_live_x");
        assert_ne!(first, other, "the hash depends on the secret");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn instances_creating_the_secret_at_once_all_use_the_one_that_was_made_first() {
        for _ in 0..20 {
            let dir = tempfile_dir();
            let path = dir.join(SECRET_FILE);
            let secrets: Vec<String> = std::thread::scope(|scope| {
                let starts: Vec<_> = (0..6).map(|_| scope.spawn(|| load_or_create(&path).unwrap().expose_secret().to_string())).collect();
                starts.into_iter().map(|s| s.join().unwrap()).collect()
            });
            assert!(secrets.iter().all(|s| s == &secrets[0] && s.len() == 64), "{secrets:?}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), secrets[0]);
            assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no draft is left behind");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn a_console_key_is_made_again_from_its_id_and_only_with_the_secret() {
        let hasher = KeyHasher::new(b"a secret of at least thirty-two bytes, for tests");
        let id = uuid::Uuid::now_v7();
        let random = hasher.console_random(id);
        assert_eq!(random.len(), crate::api_keys::format::RANDOM_LEN);
        assert!(random.bytes().all(|b| b.is_ascii_alphanumeric()), "{random}");
        assert_eq!(hasher.console_random(id), random, "the same id gives the same key");
        assert_ne!(hasher.console_random(uuid::Uuid::now_v7()), random, "another id, another key");
        let other = KeyHasher::new(b"another secret of at least thirty-two bytes");
        assert_ne!(other.console_random(id), random, "without the secret the key cannot be made");
        let key = crate::api_keys::format::assemble("mast", crate::api_keys::format::KeyType::Test, &random);
        assert!(crate::api_keys::format::parse("mast", &key).is_ok(), "a well-formed key with its checksum");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("mast-secret-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
