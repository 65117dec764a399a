//! The transaction envelope: what is signed, how it is hashed, and the stateless checks
//! (size, canonical decoding, strict signature) that the runner repeats at admission.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey};

use crate::action::Action;
use crate::bounded::Label;
use crate::codec::{decode_canonical, encode, DecodeError};
use crate::error::TxError;
use crate::ids::{sha256, AccountId, Hash};

/// Domain tag prefixed to the unsigned transaction's bytes to form the signed message, so a
/// transaction signature can never be mistaken for a signature over anything else.
pub const TX_SIGNING_DOMAIN: &[u8] = b"agora/tx/v1\0";

/// Largest signed transaction accepted, in bytes.
pub const MAX_TX_BYTES: u32 = 64 * 1024;

/// Everything the signer signs.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UnsignedTx {
    pub chain_id: Label,
    pub signer: AccountId,
    /// Must equal the signer's next nonce when the transaction executes.
    pub nonce: u64,
    /// The last block height at which the transaction may be included.
    pub valid_until_height: Option<u64>,
    pub action: Action,
}

/// A transaction with its ed25519 signature over [`UnsignedTx::signing_message`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTx {
    pub tx: UnsignedTx,
    pub signature: [u8; 64],
}

impl UnsignedTx {
    /// The exact bytes the signature covers: the domain tag, then the borsh encoding.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut message = Vec::from(TX_SIGNING_DOMAIN);
        message.extend_from_slice(&encode(self));
        message
    }

    /// Signs with `key`. The caller is responsible for `signer` matching the key; a
    /// mismatch produces a transaction that fails signature verification.
    pub fn sign(self, key: &SigningKey) -> SignedTx {
        let signature = key.sign(&self.signing_message()).to_bytes();
        SignedTx {
            tx: self,
            signature,
        }
    }
}

impl SignedTx {
    /// The canonical bytes of the signed transaction, as submitted and stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// sha256 of the canonical bytes: the transaction's identity.
    pub fn hash(&self) -> Hash {
        sha256(&[&self.to_bytes()])
    }

    /// Decodes submitted bytes: size limit first, then canonical decoding.
    pub fn decode(bytes: &[u8]) -> Result<SignedTx, TxError> {
        let size_bytes = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        if size_bytes > MAX_TX_BYTES {
            return Err(TxError::TxTooLarge {
                size_bytes,
                max_bytes: MAX_TX_BYTES,
            });
        }
        decode_canonical(bytes).map_err(|err| match err {
            DecodeError::Malformed => TxError::Malformed,
            DecodeError::NonCanonical => TxError::NonCanonical,
        })
    }

    /// The signature rule of [`crate::sig`]: canonical `S`, canonical non-small-order
    /// public key and `R`, cofactored equation.
    pub fn verify_signature(&self) -> Result<(), TxError> {
        if crate::sig::verify(
            &self.tx.signer.0,
            &self.tx.signing_message(),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(TxError::BadSignature)
        }
    }

    /// Envelope checks that need no state, in the documented order: signature, chain id,
    /// expiry. (Size and encoding are checked by [`SignedTx::decode`].)
    pub fn check_stateless(&self, chain_id: &Label, height: u64) -> Result<(), TxError> {
        self.verify_signature()?;
        self.check_after_signature(chain_id, height)
    }

    /// The stateless checks after the signature (chain id, then expiry), for a caller that
    /// verified the signature itself (in a batch).
    pub fn check_after_signature(&self, chain_id: &Label, height: u64) -> Result<(), TxError> {
        if &self.tx.chain_id != chain_id {
            return Err(TxError::WrongChain);
        }
        self.check_expiry(height)
    }

    /// Rejects the transaction if the block at `height` is past its validity.
    pub fn check_expiry(&self, height: u64) -> Result<(), TxError> {
        match self.tx.valid_until_height {
            Some(valid_until_height) if height > valid_until_height => Err(TxError::Expired {
                valid_until_height,
                height,
            }),
            _ => Ok(()),
        }
    }
}

/// The account id of a signing key.
pub fn account_of(key: &SigningKey) -> AccountId {
    AccountId(key.verifying_key().to_bytes())
}
