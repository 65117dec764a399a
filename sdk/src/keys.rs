//! Keys: generate, load and save, and the devnet's deterministic dev keys.
//!
//! Key file format (JSON, written with mode 0600):
//! `{ "version": 1, "kind": "ed25519", "public_key": "<64 hex>", "secret_key": "<64 hex seed>" }`.
//! Loading checks the public key against the secret.

use std::path::Path;

use agora_contract::ids::{sha256, AccountId};
use agora_contract::tx::account_of;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An ed25519 key pair: the account it controls and its signing key.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keypair({})", self.account())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    kind: String,
    public_key: String,
    secret_key: String,
}

impl Keypair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Keypair {
        Keypair {
            signing: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// Dev account `index` of a devnet: seed sha256("agora-dev" ‖ index as u64 BE).
    pub fn dev(index: u64) -> Keypair {
        Keypair::from_seed(sha256(&[b"agora-dev", &index.to_be_bytes()]))
    }

    /// The key with this 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        Keypair {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The account (public key).
    pub fn account(&self) -> AccountId {
        account_of(&self.signing)
    }

    /// The secret seed (keep it secret).
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// Writes the key file with permissions 0600; refuses to overwrite.
    pub fn save(&self, path: &Path) -> Result<()> {
        let file = KeyFile {
            version: 1,
            kind: "ed25519".into(),
            public_key: hex::encode(self.account().0),
            secret_key: hex::encode(self.seed()),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| Error::KeyFile(e.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut handle = options.open(path)?;
        std::io::Write::write_all(&mut handle, &text)?;
        Ok(())
    }

    /// Reads a key file written by [`Keypair::save`].
    pub fn load(path: &Path) -> Result<Keypair> {
        let text = std::fs::read(path)?;
        let file: KeyFile = serde_json::from_slice(&text)
            .map_err(|e| Error::KeyFile(format!("{}: {e}", path.display())))?;
        if file.version != 1 || file.kind != "ed25519" {
            return Err(Error::KeyFile(format!(
                "{}: unsupported key file version {} kind {}",
                path.display(),
                file.version,
                file.kind
            )));
        }
        let seed: [u8; 32] = hex::decode(&file.secret_key)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| Error::KeyFile("secret_key must be 64 hex characters".into()))?;
        let pair = Keypair::from_seed(seed);
        if hex::encode(pair.account().0) != file.public_key.to_lowercase() {
            return Err(Error::KeyFile(
                "public_key does not match secret_key".into(),
            ));
        }
        Ok(pair)
    }
}

/// Parses a 64-hex-character account id.
pub fn parse_account(text: &str) -> Result<AccountId> {
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .map(AccountId)
        .ok_or_else(|| Error::Protocol(format!("{text:?} is not a 64-hex-character account id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_keys_load_back_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let pair = Keypair::generate();
        pair.save(&path).unwrap();
        assert_eq!(Keypair::load(&path).unwrap().account(), pair.account());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(pair.save(&path).is_err(), "save must not overwrite");
    }

    #[test]
    fn a_key_file_with_a_wrong_public_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let text = format!(
            "{{\"version\":1,\"kind\":\"ed25519\",\"public_key\":\"{}\",\"secret_key\":\"{}\"}}",
            hex::encode([1u8; 32]),
            hex::encode([2u8; 32])
        );
        std::fs::write(&path, text).unwrap();
        assert!(matches!(Keypair::load(&path), Err(Error::KeyFile(_))));
    }

    #[test]
    fn dev_keys_match_the_devnet_derivation() {
        let seed = sha256(&[b"agora-dev", &3u64.to_be_bytes()]);
        assert_eq!(Keypair::dev(3).seed(), seed);
    }
}
