//! The key format (design.md): `mast_live_` or `mast_test_`, 30 random base62 characters, and a
//! 6-character base62 CRC32 of everything before it. The prefix word is per installation. A leaked
//! key is recognisable by its prefix and checkable offline by its checksum, before any look-up.

use serde::{Deserialize, Serialize};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const RANDOM_LEN: usize = 30;
pub const CHECKSUM_LEN: usize = 6;
/// Longest prefix word accepted in the settings; keeps keys short enough for any header.
pub const MAX_WORD_LEN: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    Live,
    Test,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Live => "live",
            KeyType::Test => "test",
        }
    }

    pub fn parse(text: &str) -> Option<KeyType> {
        match text {
            "live" => Some(KeyType::Live),
            "test" => Some(KeyType::Test),
            _ => None,
        }
    }
}

/// Why a presented string is not a well-formed key of this installation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// Wrong prefix, type, length or alphabet.
    Malformed,
    /// Well-formed, but the checksum does not match: a typo or a made-up key.
    BadChecksum,
}

/// A prefix word is 1–16 lower-case ASCII letters or digits (checked at start).
pub fn is_valid_word(word: &str) -> bool {
    !word.is_empty() && word.len() <= MAX_WORD_LEN && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The part before the random characters, e.g. `mast_live_`.
pub fn type_prefix(word: &str, key_type: KeyType) -> String {
    format!("{word}_{}_", key_type.as_str())
}

/// A new key from 30 random base62 characters (`random` must be exactly that).
pub fn assemble(word: &str, key_type: KeyType, random: &str) -> String {
    debug_assert_eq!(random.len(), RANDOM_LEN);
    let body = format!("{}{random}", type_prefix(word, key_type));
    let checksum = checksum(&body);
    body + &checksum
}

/// Checks shape and checksum; on success returns the key's type.
pub fn parse(word: &str, key: &str) -> Result<KeyType, FormatError> {
    let rest = key.strip_prefix(word).and_then(|r| r.strip_prefix('_')).ok_or(FormatError::Malformed)?;
    let (key_type, tail) = if let Some(tail) = rest.strip_prefix("live_") {
        (KeyType::Live, tail)
    } else if let Some(tail) = rest.strip_prefix("test_") {
        (KeyType::Test, tail)
    } else {
        return Err(FormatError::Malformed);
    };
    if tail.len() != RANDOM_LEN + CHECKSUM_LEN || !tail.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FormatError::Malformed);
    }
    let (body, given) = key.split_at(key.len() - CHECKSUM_LEN);
    if checksum(body) != given {
        return Err(FormatError::BadChecksum);
    }
    Ok(key_type)
}

/// What lists and logs show instead of the key: its type prefix plus four characters, and the last four.
pub fn display_parts(key: &str, word: &str, key_type: KeyType) -> (String, String) {
    let head = type_prefix(word, key_type).len() + 4;
    (key[..head.min(key.len())].to_string(), key[key.len().saturating_sub(4)..].to_string())
}

/// CRC32 of `body` as six base62 digits, most significant first (62^6 > 2^32).
fn checksum(body: &str) -> String {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RANDOM: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123";

    #[test]
    fn a_key_has_the_documented_shape_and_parses_back() {
        let key = assemble("mast", KeyType::Live, RANDOM);
        assert!(key.starts_with("mast_live_AbCd"));
        assert_eq!(key.len(), "mast_live_".len() + 36);
        assert_eq!(parse("mast", &key), Ok(KeyType::Live));
        let test = assemble("acme", KeyType::Test, RANDOM);
        assert_eq!(parse("acme", &test), Ok(KeyType::Test));
        assert_eq!(parse("mast", &test), Err(FormatError::Malformed), "another installation's prefix");
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let key = assemble("mast", KeyType::Live, RANDOM);
        let typo = key.replacen("AbCd", "AbCe", 1);
        assert_eq!(parse("mast", &typo), Err(FormatError::BadChecksum));
        let swapped_type = key.replacen("_live_", "_test_", 1);
        assert_eq!(parse("mast", &swapped_type), Err(FormatError::BadChecksum));
    }

    #[test]
    fn wrong_lengths_and_alphabets_are_malformed() {
        let key = assemble("mast", KeyType::Live, RANDOM);
        for bad in [&key[..key.len() - 1], &format!("{key}x"), &key.replacen('A', "-", 1), "", "mast_", "mast_prod_x", "Bearer"] {
            assert_eq!(parse("mast", bad), Err(FormatError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn the_list_shows_prefix_and_last_four_only() {
        let key = assemble("mast", KeyType::Live, RANDOM);
        let (prefix, last4) = display_parts(&key, "mast", KeyType::Live);
        assert_eq!(prefix, "mast_live_AbCd");
        assert_eq!(last4, &key[key.len() - 4..]);
    }

    #[test]
    fn prefix_words_are_short_lowercase_ascii() {
        assert!(is_valid_word("mast") && is_valid_word("acme2"));
        for bad in ["", "Mast", "my_co", "my-co", "a".repeat(17).as_str()] {
            assert!(!is_valid_word(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_any_string_never_panics(input in ".{0,80}") {
            let _ = parse("mast", &input);
        }

        #[test]
        fn every_generated_key_parses_and_every_single_edit_is_caught(random in "[0-9A-Za-z]{30}", live in any::<bool>(),
                                                                     at in 10usize..46, replacement in "[0-9A-Za-z]") {
            let key_type = if live { KeyType::Live } else { KeyType::Test };
            let key = assemble("mast", key_type, &random);
            prop_assert_eq!(parse("mast", &key), Ok(key_type));
            let mut edited = key.clone().into_bytes();
            edited[at] = replacement.as_bytes()[0];
            let edited = String::from_utf8(edited).unwrap();
            if edited != key {
                prop_assert_eq!(parse("mast", &edited), Err(FormatError::BadChecksum));
            }
        }

        #[test]
        fn keys_with_a_prefix_and_garbage_after_it_never_panic(tail in "\\PC{0,60}") {
            let _ = parse("mast", &format!("mast_live_{tail}"));
        }

        /// Each installation's word is part of the key: another installation's key never parses.
        #[test]
        fn a_key_of_another_installation_is_never_accepted(word in "[a-z0-9]{1,16}", other in "[a-z0-9]{1,16}",
                                                           random in "[0-9A-Za-z]{30}", live in any::<bool>()) {
            let key_type = if live { KeyType::Live } else { KeyType::Test };
            let key = assemble(&other, key_type, &random);
            if other == word {
                prop_assert_eq!(parse(&word, &key), Ok(key_type));
            } else {
                prop_assert_eq!(parse(&word, &key), Err(FormatError::Malformed));
            }
        }

        /// Two neighbouring characters typed the wrong way round are always caught (CRC32 finds
        /// every burst of up to 32 bits).
        #[test]
        fn swapped_neighbours_are_always_caught(random in "[0-9A-Za-z]{30}", at in 10usize..45) {
            let key = assemble("mast", KeyType::Live, &random);
            let mut swapped = key.clone().into_bytes();
            swapped.swap(at, at + 1);
            let swapped = String::from_utf8(swapped).unwrap();
            if swapped != key {
                prop_assert_eq!(parse("mast", &swapped), Err(FormatError::BadChecksum));
            }
        }

        /// Any bytes at all (as a header can carry them, lossily decoded) are refused cleanly, and
        /// the masked form never panics on any parsed key.
        #[test]
        fn arbitrary_bytes_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120), word in "[a-z0-9]{1,16}") {
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(key_type) = parse(&word, &text) {
                let _ = display_parts(&text, &word, key_type);
            }
        }
    }
}
