//! Webhook signing secrets at rest (issue 12): a copy of the database, a backup or a read-only
//! query must not be enough to forge an organisation's webhooks. Each secret is sealed with
//! XChaCha20-Poly1305 under `notify.secret_key` (32 bytes, base64, from the deployment's Secret)
//! and stored as `v1:<base64 of nonce (24 bytes) | ciphertext and tag>`. The organisation's id
//! is the associated data, so a sealed secret copied onto another organisation's row does not
//! open.
//!
//! Rows written before encryption hold the `whsec_...` text itself. A key cannot be applied by a
//! migration (migrations do not read the deployment's Secret), so such a value is read as legacy
//! plaintext ([`Opened::legacy`]) and sealed the next time the row is written: the delivery
//! worker rewrites it on first use, and a new registration always writes a sealed value.
//!
//! Pure but for the random nonce.

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use govshare_runtime::config::NotifySettings;

/// The version prefix of a sealed value. A later scheme (another cipher, a rotated key) takes
/// `v2:`, and values of both can be read while rows are rewritten.
const V1: &str = "v1:";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// The key from `notify.secret_key`. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// Why a stored secret could not be read, or a key not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("notify.secret_key is not base64 of 32 bytes")]
    BadKey,
    #[error("a sealed webhook secret is stored but notify.secret_key is not set")]
    NoKey,
    #[error("the stored webhook secret is not `v1:` and base64")]
    Malformed,
    /// Wrong key, a changed value, or a value sealed for another organisation.
    #[error("the stored webhook secret does not open with notify.secret_key")]
    DoesNotOpen,
}

/// A stored secret, read.
#[derive(PartialEq, Eq)]
pub struct Opened {
    /// The `whsec_...` text.
    pub secret: String,
    /// Stored in plain text (before encryption): rewrite it sealed.
    pub legacy: bool,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("secret", &"***").field("legacy", &self.legacy).finish()
    }
}

impl SecretKey {
    /// The key in `notify.secret_key`, if one is set.
    pub fn from_settings(s: &NotifySettings) -> Result<Option<Self>, SealError> {
        s.secret_key.as_ref().map(|k| Self::from_base64(k.expose())).transpose()
    }

    /// A key from base64 of exactly 32 bytes (`openssl rand -base64 32`).
    pub fn from_base64(raw: &str) -> Result<Self, SealError> {
        let bytes = BASE64.decode(raw.trim()).map_err(|_| SealError::BadKey)?;
        if bytes.len() != KEY_LEN {
            return Err(SealError::BadKey);
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self { cipher })
    }

    /// A fresh random key in its base64 form, for tests and the one-machine `govshare up`.
    pub fn generate_base64() -> String {
        BASE64.encode(rand::random::<[u8; KEY_LEN]>())
    }

    /// `secret` sealed for `org`'s row, with a fresh random nonce.
    pub fn seal(&self, org: &str, secret: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: secret.as_bytes(), aad: org.as_bytes() })
            .expect("XChaCha20-Poly1305 seals any message shorter than 256 GiB");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        format!("{V1}{}", BASE64.encode(out))
    }
}

/// Reads the value stored on `org`'s row: a sealed value with `key`, or a legacy plaintext one
/// with or without it.
pub fn open(key: Option<&SecretKey>, org: &str, stored: &str) -> Result<Opened, SealError> {
    let Some(encoded) = stored.strip_prefix(V1) else {
        return Ok(Opened { secret: stored.to_owned(), legacy: true });
    };
    let key = key.ok_or(SealError::NoKey)?;
    let bytes = BASE64.decode(encoded).map_err(|_| SealError::Malformed)?;
    if bytes.len() < NONCE_LEN {
        return Err(SealError::Malformed);
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Malformed)?;
    let plain =
        key.cipher.decrypt(&nonce, Payload { msg: sealed, aad: org.as_bytes() }).map_err(|_| SealError::DoesNotOpen)?;
    let secret = String::from_utf8(plain).map_err(|_| SealError::DoesNotOpen)?;
    Ok(Opened { secret, legacy: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn key() -> SecretKey {
        SecretKey::from_base64(&SecretKey::generate_base64()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_with_its_key_for_its_organisation() {
        // Given a secret sealed for gongan
        let key = key();
        let stored = key.seal("gongan", SECRET);

        // Then the stored text does not hold it, and it opens to the same secret
        assert!(stored.starts_with("v1:"), "{stored}");
        assert!(!stored.contains("MfKQ9r8G"));
        assert_eq!(open(Some(&key), "gongan", &stored), Ok(Opened { secret: SECRET.into(), legacy: false }));
    }

    #[test]
    fn the_same_secret_sealed_twice_reads_differently() {
        let key = key();
        assert_ne!(key.seal("gongan", SECRET), key.seal("gongan", SECRET), "a fresh nonce each time");
    }

    #[test]
    fn a_sealed_secret_does_not_open_with_another_key_on_another_row_or_changed() {
        let key = key();
        let stored = key.seal("gongan", SECRET);
        assert_eq!(open(Some(&self::key()), "gongan", &stored), Err(SealError::DoesNotOpen));
        assert_eq!(open(Some(&key), "weijian", &stored), Err(SealError::DoesNotOpen), "moved to another row");
        let mut bytes = BASE64.decode(&stored[3..]).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        let tampered = format!("v1:{}", BASE64.encode(bytes));
        assert_eq!(open(Some(&key), "gongan", &tampered), Err(SealError::DoesNotOpen));
        assert_eq!(open(Some(&key), "gongan", "v1:%%%"), Err(SealError::Malformed));
        assert_eq!(open(Some(&key), "gongan", "v1:AAAA"), Err(SealError::Malformed));
        assert_eq!(open(None, "gongan", &stored), Err(SealError::NoKey));
    }

    #[test]
    fn a_value_without_the_version_prefix_is_legacy_plaintext() {
        let read = open(Some(&key()), "gongan", SECRET).unwrap();
        assert_eq!(read, Opened { secret: SECRET.into(), legacy: true });
        assert!(open(None, "gongan", SECRET).unwrap().legacy, "readable without a key too");
    }

    #[test]
    fn a_key_is_base64_of_exactly_32_bytes() {
        assert!(SecretKey::from_base64(&BASE64.encode([1u8; 32])).is_ok());
        assert_eq!(SecretKey::from_base64(&BASE64.encode([1u8; 16])).unwrap_err(), SealError::BadKey);
        assert_eq!(SecretKey::from_base64("not base64!").unwrap_err(), SealError::BadKey);
    }

    #[test]
    fn neither_the_key_nor_an_opened_secret_shows_in_debug() {
        let key = key();
        let opened = open(Some(&key), "gongan", &key.seal("gongan", SECRET)).unwrap();
        let shown = format!("{key:?} {opened:?}");
        assert!(!shown.contains("MfKQ9r8G"), "{shown}");
        assert!(shown.contains("***"));
    }
}
