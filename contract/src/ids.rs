//! Identities and fixed-size identifiers: accounts are ed25519 public keys, objects are
//! client-chosen UUIDs, hashes are sha256 digests.

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

pub use uuid::Uuid;

/// A sha256 digest.
pub type Hash = [u8; 32];

/// An account: the 32 bytes of an ed25519 public key. Whether the bytes are a valid key is
/// checked when a signature from it is verified, not when the id is decoded.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct AccountId(pub [u8; 32]);

/// In JSON an account is its key as lowercase hex, like every other byte string.
#[cfg(feature = "serde")]
impl serde::Serialize for AccountId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::serde_hex::serialize(&self.0, serializer)
    }
}

impl core::fmt::Debug for AccountId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AccountId(")?;
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

impl core::fmt::Display for AccountId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// sha256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The UUID version reserved for ids the chain derives (assignment ids).
pub const CHAIN_DERIVED_UUID_VERSION: usize = 8;

/// Turns 16 bytes into a version-8, RFC 4122 variant UUID: the shape of every id the chain
/// derives.
pub fn mark_chain_derived(mut bytes: [u8; 16]) -> Uuid {
    if let Some(version) = bytes.get_mut(6) {
        *version = (*version & 0x0f) | 0x80;
    }
    if let Some(variant) = bytes.get_mut(8) {
        *variant = (*variant & 0x3f) | 0x80;
    }
    Uuid::from_bytes(bytes)
}

/// Whether a client-chosen id falls in the space reserved for chain-derived ids.
pub fn is_reserved_id(id: &Uuid) -> bool {
    id.get_version_num() == CHAIN_DERIVED_UUID_VERSION
}
