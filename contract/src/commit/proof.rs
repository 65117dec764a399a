//! The versioned state proof and its verifier. A proof shows one bucket's leaves (the
//! key's own leaf, or its bracketing neighbours), the rs_merkle proof of those leaves in
//! the bucket, and the 16-hash rs_merkle proof of the bucket root in the top tree.
//! Verification rejects anything that is not exactly the canonical proof shape.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

use super::{bucket_of, leaf_hash, value_hash, CommitHasher, BUCKETS, BUCKET_BITS, EMPTY_ROOT};
use crate::ids::Hash;

/// Version of the proof format this crate writes and verifies.
pub const PROOF_VERSION: u8 = 1;
/// Largest encoded proof accepted by [`StateProof::decode`].
pub const MAX_PROOF_BYTES: usize = 16 * 1024;
/// Longest key a proof may show.
pub const MAX_KEY_BYTES: usize = 1024;

/// One leaf shown by a proof.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProvenLeaf {
    /// Position of the leaf in its bucket (key order).
    pub index: u32,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub key: Vec<u8>,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub value_hash: Hash,
}

/// A membership or non-membership proof for one key against a state root.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StateProof {
    pub version: u8,
    /// Number of leaves in the key's bucket.
    pub bucket_leaf_count: u32,
    /// The key's leaf (membership), or the one or two neighbours bracketing the key
    /// (non-membership); empty when the bucket is empty.
    pub leaves: Vec<ProvenLeaf>,
    /// rs_merkle proof hashes of `leaves` within the bucket.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex::list"))]
    pub bucket_proof: Vec<Hash>,
    /// rs_merkle proof hashes of the bucket root within the top tree, bottom first.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex::list"))]
    pub top_proof: Vec<Hash>,
}

/// Why a proof does not show what it claims.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("proof version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("proof is malformed: {0}")]
    Malformed(&'static str),
    #[error("proof does not lead to the state root")]
    WrongRoot,
    #[error("proof shows a different value for the key")]
    ValueMismatch,
    #[error("proof shows the key present, absence was claimed")]
    KeyPresent,
    #[error("proof shows the key absent, a value was claimed")]
    KeyAbsent,
}

impl StateProof {
    /// Canonical borsh bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    /// Decodes a proof, refusing oversize input and trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<StateProof, ProofError> {
        if bytes.len() > MAX_PROOF_BYTES {
            return Err(ProofError::Malformed("larger than the proof size limit"));
        }
        let proof = borsh::from_slice::<StateProof>(bytes)
            .map_err(|_| ProofError::Malformed("not a borsh-encoded proof"))?;
        Ok(proof)
    }

    /// Checks the proof for `key` against `state_root`. Returns the value hash the key
    /// has, or `None` if the proof shows it absent.
    pub fn verify(&self, state_root: &Hash, key: &[u8]) -> Result<Option<Hash>, ProofError> {
        if self.version != PROOF_VERSION {
            return Err(ProofError::UnsupportedVersion(self.version));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(ProofError::Malformed("key longer than the limit"));
        }
        let expected_top = usize::try_from(BUCKET_BITS).unwrap_or(0);
        if self.top_proof.len() != expected_top {
            return Err(ProofError::Malformed("top proof must have 16 hashes"));
        }
        let bucket = bucket_of(key);
        let (found, bucket_root) = self.verify_bucket(key, bucket)?;
        let top_root = rs_merkle_root(
            &self.top_proof,
            &[usize::from(bucket)],
            &[bucket_root],
            usize::try_from(BUCKETS).unwrap_or(0),
        )?;
        if &top_root != state_root {
            return Err(ProofError::WrongRoot);
        }
        Ok(found)
    }

    /// Checks that `key` has exactly `value` (or is absent, for `None`) under
    /// `state_root`.
    pub fn verify_value(
        &self,
        state_root: &Hash,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), ProofError> {
        match (self.verify(state_root, key)?, value) {
            (Some(proven), Some(value)) if proven == value_hash(value) => Ok(()),
            (Some(_), Some(_)) => Err(ProofError::ValueMismatch),
            (Some(_), None) => Err(ProofError::KeyPresent),
            (None, Some(_)) => Err(ProofError::KeyAbsent),
            (None, None) => Ok(()),
        }
    }

    /// Checks the shown leaves against the key and returns (the key's value hash if
    /// present, the bucket root they prove).
    fn verify_bucket(&self, key: &[u8], bucket: u16) -> Result<(Option<Hash>, Hash), ProofError> {
        let count = self.bucket_leaf_count;
        if count == 0 {
            if !self.leaves.is_empty() || !self.bucket_proof.is_empty() {
                return Err(ProofError::Malformed("an empty bucket shows no leaves"));
            }
            return Ok((None, EMPTY_ROOT));
        }
        for leaf in &self.leaves {
            if leaf.index >= count {
                return Err(ProofError::Malformed("leaf index outside the bucket"));
            }
            if leaf.key.len() > MAX_KEY_BYTES || bucket_of(&leaf.key) != bucket {
                return Err(ProofError::Malformed("leaf is not in the key's bucket"));
            }
        }
        let last = count.saturating_sub(1);
        let found = match self.leaves.as_slice() {
            [only] if only.key == key => Some(only.value_hash),
            [only] if only.index == 0 && key < only.key.as_slice() => None,
            [only] if only.index == last && only.key.as_slice() < key => None,
            [left, right]
                if left.index.checked_add(1) == Some(right.index)
                    && left.key.as_slice() < key
                    && key < right.key.as_slice() =>
            {
                None
            }
            _ => {
                return Err(ProofError::Malformed(
                    "leaves neither match nor bracket the key",
                ))
            }
        };
        let indices: Vec<usize> = self
            .leaves
            .iter()
            .filter_map(|leaf| usize::try_from(leaf.index).ok())
            .collect();
        let hashes: Vec<Hash> = self
            .leaves
            .iter()
            .map(|leaf| leaf_hash(&leaf.key, &leaf.value_hash))
            .collect();
        let total = usize::try_from(count).map_err(|_| ProofError::Malformed("bucket size"))?;
        let root = rs_merkle_root(&self.bucket_proof, &indices, &hashes, total)?;
        Ok((found, root))
    }
}

/// rs_merkle's root computation, after checking that the proof has exactly the number of
/// hashes rs_merkle's layout needs (rs_merkle itself ignores surplus hashes).
fn rs_merkle_root(
    proof: &[Hash],
    indices: &[usize],
    leaves: &[Hash],
    total: usize,
) -> Result<Hash, ProofError> {
    if proof.len() != proof_hash_count(indices, total) {
        return Err(ProofError::Malformed("wrong number of proof hashes"));
    }
    rs_merkle::MerkleProof::<CommitHasher>::new(proof.to_vec())
        .root(indices, leaves, total)
        .map_err(|_| ProofError::Malformed("rs_merkle could not compute a root"))
}

/// How many hashes rs_merkle's proof of the sorted `indices` in a tree of `total` leaves
/// holds: per layer, the siblings that are neither shown nor missing at an odd end.
pub fn proof_hash_count(indices: &[usize], total: usize) -> usize {
    let mut layer: Vec<usize> = indices.to_vec();
    let mut width = total;
    let mut needed = 0usize;
    while width > 1 {
        for index in &layer {
            let sibling = index ^ 1;
            if sibling < width && layer.binary_search(&sibling).is_err() {
                needed = needed.saturating_add(1);
            }
        }
        layer = layer.iter().map(|index| index / 2).collect();
        layer.dedup();
        width = width.div_ceil(2);
    }
    needed
}
