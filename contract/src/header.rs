//! Block headers (SPEC §7): the fields a light client trusts once the sequencer's
//! signature over them checks out, and the check that a state proof belongs to a header.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::bounded::Label;
use crate::commit::{ProofError, StateProof};
use crate::ids::{sha256, AccountId, Hash};

/// Prefix of the bytes a sequencer signs for a header.
pub const HEADER_SIGNING_DOMAIN: &[u8] = b"agora/header/v1\0";
/// Version of the header layout.
pub const HEADER_VERSION: u8 = 1;

/// A block header. Height 0 is the genesis header (no transactions).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Header {
    pub version: u8,
    pub chain_id: Label,
    pub height: u64,
    /// Hash of the previous header; all zero at genesis.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub prev_hash: Hash,
    /// Block time, unix milliseconds.
    pub time_ms: u64,
    pub tx_count: u32,
    /// `commit::list_root` over the transaction hashes in block order.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub tx_root: Hash,
    /// `commit::list_root` over the borsh-encoded receipts in block order.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub receipts_root: Hash,
    /// sha256 of the borsh-encoded events of the block's timeout hook.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub hook_events_hash: Hash,
    /// The state root after this block's hook and transactions.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub state_root: Hash,
    /// The sequencer that signed the header.
    pub proposer: AccountId,
}

/// A header with the sequencer's ed25519 signature over [`Header::signing_message`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedHeader {
    pub header: Header,
    pub signature: [u8; 64],
}

/// Why a header or a proof against it is not trusted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("header version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("header is for chain {found}, expected {expected}")]
    WrongChain { expected: Label, found: Label },
    #[error("header was proposed by {found}, the sequencer is {expected}")]
    WrongProposer {
        expected: AccountId,
        found: AccountId,
    },
    #[error("header signature does not verify")]
    BadSignature,
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// sha256 of the borsh-encoded events of a block's timeout hook (the header's
/// `hook_events_hash`).
pub fn hook_events_hash(events: &[crate::event::Event]) -> Hash {
    sha256(&[&borsh::to_vec(events).unwrap_or_default()])
}

impl Header {
    /// HEADER_SIGNING_DOMAIN ‖ borsh(header).
    pub fn signing_message(&self) -> Vec<u8> {
        let mut message = HEADER_SIGNING_DOMAIN.to_vec();
        message.extend(borsh::to_vec(self).unwrap_or_default());
        message
    }

    /// The header hash: sha256 of the signing message.
    pub fn hash(&self) -> Hash {
        sha256(&[&self.signing_message()])
    }

    /// Signs the header with the sequencer key.
    pub fn sign(self, key: &SigningKey) -> SignedHeader {
        let signature = key.sign(&self.signing_message()).to_bytes();
        SignedHeader {
            header: self,
            signature,
        }
    }
}

impl SignedHeader {
    /// Checks version, chain id, proposer and the strict ed25519 signature: what a light
    /// client does before trusting any root in the header.
    pub fn verify(&self, chain_id: &Label, sequencer: &AccountId) -> Result<(), HeaderError> {
        let header = &self.header;
        if header.version != HEADER_VERSION {
            return Err(HeaderError::UnsupportedVersion(header.version));
        }
        if &header.chain_id != chain_id {
            return Err(HeaderError::WrongChain {
                expected: chain_id.clone(),
                found: header.chain_id.clone(),
            });
        }
        if &header.proposer != sequencer {
            return Err(HeaderError::WrongProposer {
                expected: *sequencer,
                found: header.proposer,
            });
        }
        let key = VerifyingKey::from_bytes(&sequencer.0).map_err(|_| HeaderError::BadSignature)?;
        key.verify_strict(
            &header.signing_message(),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| HeaderError::BadSignature)
    }

    /// The light-client check: the header is signed by `sequencer` for `chain_id`, and
    /// `proof` shows `key` holding `value` (or absent, for `None`) under its state root.
    pub fn verify_state(
        &self,
        chain_id: &Label,
        sequencer: &AccountId,
        key: &[u8],
        value: Option<&[u8]>,
        proof: &StateProof,
    ) -> Result<(), HeaderError> {
        self.verify(chain_id, sequencer)?;
        proof.verify_value(&self.header.state_root, key, value)?;
        Ok(())
    }
}
