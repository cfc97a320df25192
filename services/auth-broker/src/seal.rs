//! Secrets at rest: AES-256-GCM under the master key. A sealed value is
//! `v1.<base64(nonce ‖ ciphertext ‖ tag)>`, bound to a context string (e.g. the
//! certificate id) so a sealed blob copied to another row does not open.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;

const VERSION_PREFIX: &str = "v1.";
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("invalid --master-key-file: cannot read {path}: {source}")]
    ReadKey {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid --master-key-file: {path} must hold 32 bytes as 64 hex characters")]
    KeyFormat { path: String },
    #[error("invalid --master-key-file: cannot create {path}: {source}")]
    WriteKey {
        path: String,
        source: std::io::Error,
    },
    #[error("a sealed secret in the store cannot be opened: it was sealed under another master key, or altered")]
    Open,
}

/// The master key. Never printed.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        Self {
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }

    /// A random key (tests, and the first start of `galsync up`).
    pub fn generate() -> ([u8; KEY_LEN], Self) {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let key = Self::from_bytes(&bytes);
        (bytes, key)
    }

    /// Reads the key file (64 hex characters), creating it with mode 0600 when
    /// `create_if_missing` and it does not exist.
    pub fn load_or_create(path: &Path, create_if_missing: bool) -> Result<Self, SealError> {
        let shown = path.display().to_string();
        if !path.exists() && create_if_missing {
            let (bytes, key) = Self::generate();
            if let Some(parent) = path.parent() {
                galsync_platform::private_files::create_private_dir(parent).map_err(|source| {
                    SealError::WriteKey {
                        path: shown.clone(),
                        source,
                    }
                })?;
            }
            galsync_platform::pki::write_file(path, hex::encode(bytes).as_bytes(), true).map_err(
                |error| SealError::WriteKey {
                    path: shown.clone(),
                    source: std::io::Error::other(error.to_string()),
                },
            )?;
            tracing::info!(path = %shown, "generated a new master key");
            return Ok(key);
        }
        let text = std::fs::read_to_string(path).map_err(|source| SealError::ReadKey {
            path: shown.clone(),
            source,
        })?;
        let decoded = hex::decode(text.trim()).map_err(|_| SealError::KeyFormat {
            path: shown.clone(),
        })?;
        let bytes: [u8; KEY_LEN] = decoded
            .try_into()
            .map_err(|_| SealError::KeyFormat { path: shown })?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Seals `plaintext` for the row identified by `context`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce_bytes = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce_bytes);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and nonce length cannot fail.
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce_bytes), payload)
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce_bytes);
        blob.extend_from_slice(&ciphertext);
        format!(
            "{VERSION_PREFIX}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(blob)
        )
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let encoded = sealed.strip_prefix(VERSION_PREFIX).ok_or(SealError::Open)?;
        let blob = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(encoded)
            .map_err(|_| SealError::Open)?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(SealError::Open);
        }
        let (nonce_bytes, ciphertext) = blob.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        self.cipher
            .decrypt(Nonce::from_slice(nonce_bytes), payload)
            .map_err(|_| SealError::Open)
    }
}

impl SealError {
    /// The error as a problem with `--master-key-file`, for start-up.
    pub(crate) fn into_flag_error(self) -> galsync_platform::ConfigError {
        let text = self.to_string();
        let problem = text
            .strip_prefix("invalid --master-key-file: ")
            .unwrap_or(&text)
            .to_owned();
        galsync_platform::ConfigError::new("master-key-file", problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_context_and_under_their_key() {
        let (_, key) = MasterKey::generate();
        let sealed = key.seal("certificate:1", b"-----BEGIN PRIVATE KEY-----");
        assert!(!sealed.contains("PRIVATE"));
        assert_eq!(
            key.open("certificate:1", &sealed).unwrap(),
            b"-----BEGIN PRIVATE KEY-----"
        );
        assert!(key.open("certificate:2", &sealed).is_err());
        let (_, other_key) = MasterKey::generate();
        assert!(other_key.open("certificate:1", &sealed).is_err());
        assert!(format!("{key:?}").contains("redacted"));
    }

    #[test]
    fn key_file_is_created_0600_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = MasterKey::load_or_create(&path, true).unwrap();
        let sealed = first.seal("x", b"secret");
        let second = MasterKey::load_or_create(&path, false).unwrap();
        assert_eq!(second.open("x", &sealed).unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").unwrap();
        let error = MasterKey::load_or_create(&path, false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("--master-key-file"), "{error}");
    }
}
