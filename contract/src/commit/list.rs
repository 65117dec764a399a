//! A list root built as items arrive: the same root as [`super::merkle_root`] over the
//! leaves so far, with each pair hashed as soon as both halves exist, so the root itself
//! costs at most one hash per level (a block's tx and receipts roots at its seal).

use alloc::vec::Vec;

use super::{node_hash, EMPTY_ROOT};
use crate::ids::Hash;

/// The complete subtrees of the leaves pushed so far, one at most per level: level k holds
/// the root over 2^k leaves still waiting for its right sibling (the binary digits of the
/// leaf count).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListRoot {
    waiting: Vec<Option<Hash>>,
}

impl ListRoot {
    /// An empty list (root [`EMPTY_ROOT`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one leaf (a [`super::list_leaf`]), hashing the pairs it completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        for slot in self.waiting.iter_mut() {
            match slot.take() {
                Some(left) => carry = node_hash(&left, &carry),
                None => {
                    *slot = Some(carry);
                    return;
                }
            }
        }
        self.waiting.push(Some(carry));
    }

    /// rs_merkle's root over the leaves pushed so far: the waiting subtrees joined from the
    /// lowest up, a subtree without a right sibling carried up unchanged.
    pub fn root(&self) -> Hash {
        let mut edge: Option<Hash> = None;
        for left in self.waiting.iter().flatten() {
            edge = Some(match edge {
                Some(right) => node_hash(left, &right),
                None => *left,
            });
        }
        edge.unwrap_or(EMPTY_ROOT)
    }
}
