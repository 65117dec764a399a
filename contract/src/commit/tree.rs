//! The in-memory state tree: leaves grouped in buckets, bucket roots in a fixed top tree
//! kept as a heap-ordered array. Writes mark buckets dirty; [`StateTree::commit`] rebuilds
//! only those buckets and their paths and reports every top-tree node it changed, so a
//! store can keep node versions for historical proofs.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use smallvec::SmallVec;

use super::{
    bucket_of, empty_subtree_roots, leaf_hash, merkle_root, node_hash, value_hash, CommitHasher,
    ProvenLeaf, StateProof, BUCKETS, EMPTY_ROOT, PROOF_VERSION,
};
use crate::ids::Hash;

/// A key's bucket, value hash and leaf hash, computed apart from the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreparedLeaf {
    bucket: u16,
    value_hash: Hash,
    leaf: Hash,
}

impl PreparedLeaf {
    /// The leaf of `key` holding a value whose [`value_hash`] is `value_hash`.
    pub fn new(key: &[u8], value_hash: Hash) -> PreparedLeaf {
        PreparedLeaf {
            bucket: bucket_of(key),
            value_hash,
            leaf: leaf_hash(key, &value_hash),
        }
    }
}

/// One state entry as the tree holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    value_hash: Hash,
    leaf: Hash,
}

/// Top-tree levels above the buckets that [`StateTree::commit_buckets_with`] rehashes
/// with the bucket roots. A block built in steps thus hashes the lower levels as it goes
/// (a 16 000-bucket block's seal hashed ~38 000 path nodes, ~30 000 of them in these three
/// levels), at the cost of rehashing a node again when its buckets change in different
/// steps: rare down here, where a node covers at most 8 buckets.
const STEP_PATH_LEVELS: u32 = 3;

/// A key held inline up to this many bytes, on the heap beyond: accounts (33 bytes),
/// escrows, deadlines and market objects fit; holdings (50) and offer-book entries do not.
const INLINE_KEY_BYTES: usize = 48;

/// One leaf of a bucket: its key (inline, so a search compares keys without following a
/// pointer) and its entry.
#[derive(Clone, Debug)]
struct Leaf {
    key: SmallVec<[u8; INLINE_KEY_BYTES]>,
    entry: Entry,
}

/// Buckets of key-sorted leaves plus the top tree over their roots.
///
/// A bucket is a key-sorted `Vec`: at 10^6 keys a bucket holds ~15 leaves, and a binary
/// search over one contiguous block replaced a `BTreeMap` whose every key comparison
/// followed a pointer to a heap key (a cache miss each, ~11 % of the sequencer's time).
#[derive(Clone, Debug)]
pub struct StateTree {
    buckets: Vec<Vec<Leaf>>,
    /// Heap order: index 1 is the state root, `BUCKETS + b` is bucket b's root.
    nodes: Vec<Hash>,
    /// Buckets whose leaves changed since their root was computed.
    dirty: BTreeSet<u16>,
    /// Top-tree nodes [`STEP_PATH_LEVELS`] above the buckets, brought up to date by
    /// [`StateTree::commit_buckets_with`], whose paths to the state root were not (heap
    /// indices).
    stale_paths: BTreeSet<usize>,
    /// Bucket roots and the nodes up to [`STEP_PATH_LEVELS`] above them changed since the
    /// last full commit: heap index → hash.
    changed_roots: BTreeMap<u32, Hash>,
    entries: u64,
}

impl Default for StateTree {
    fn default() -> Self {
        Self::new()
    }
}

impl StateTree {
    /// An empty state: every bucket empty, root = the all-empty top tree's root.
    pub fn new() -> Self {
        let empty = empty_subtree_roots();
        let size = bucket_count().saturating_mul(2);
        let mut nodes = Vec::with_capacity(size);
        nodes.push(EMPTY_ROOT); // index 0 is unused
        for index in 1..size {
            let level = top_level_of(index);
            nodes.push(empty.get(level).copied().unwrap_or(EMPTY_ROOT));
        }
        StateTree {
            buckets: (0..bucket_count()).map(|_| Vec::new()).collect(),
            nodes,
            dirty: BTreeSet::new(),
            stale_paths: BTreeSet::new(),
            changed_roots: BTreeMap::new(),
            entries: 0,
        }
    }

    /// Number of keys in the state.
    pub fn len(&self) -> u64 {
        self.entries
    }

    /// Whether the state holds no key.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Whether writes are waiting for [`StateTree::commit`].
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty() || !self.stale_paths.is_empty()
    }

    /// The value hash `key` holds, if present.
    pub fn value_hash_of(&self, key: &[u8]) -> Option<Hash> {
        let leaves = self.buckets.get(usize::from(bucket_of(key)))?;
        let at = search(leaves, key).ok()?;
        leaves.get(at).map(|leaf| leaf.entry.value_hash)
    }

    /// Sets `key` to `value` (`None` deletes it).
    pub fn set(&mut self, key: &[u8], value: Option<&[u8]>) {
        self.set_hashed(key, value.map(value_hash));
    }

    /// Sets `key` to a value already hashed with [`value_hash`] (`None` deletes it).
    pub fn set_hashed(&mut self, key: &[u8], hashed: Option<Hash>) {
        match hashed {
            Some(value_hash) => self.set_prepared(key, PreparedLeaf::new(key, value_hash)),
            None => self.remove(key),
        }
    }

    /// Sets `key` to a leaf prepared with [`PreparedLeaf::new`] (which a caller may compute
    /// for many keys in parallel; `PreparedLeaf::new(key, ..)` must be for this `key`).
    pub fn set_prepared(&mut self, key: &[u8], prepared: PreparedLeaf) {
        let PreparedLeaf {
            bucket,
            value_hash,
            leaf,
        } = prepared;
        self.update(key, bucket, Some(Entry { value_hash, leaf }));
    }

    /// Sets `key` to a leaf prepared with [`PreparedLeaf::new`] for it (`None` deletes
    /// it) and returns the value hash it held before: one search of the bucket where
    /// [`StateTree::value_hash_of`] and then a set take two.
    pub fn replace(&mut self, key: &[u8], prepared: Option<PreparedLeaf>) -> Option<Hash> {
        match prepared {
            Some(PreparedLeaf {
                bucket,
                value_hash,
                leaf,
            }) => self.update(key, bucket, Some(Entry { value_hash, leaf })),
            None => self.update(key, bucket_of(key), None),
        }
    }

    fn remove(&mut self, key: &[u8]) {
        self.update(key, bucket_of(key), None);
    }

    /// Sets or deletes one leaf; returns the value hash the key held before.
    fn update(&mut self, key: &[u8], bucket: u16, entry: Option<Entry>) -> Option<Hash> {
        let leaves = self.buckets.get_mut(usize::from(bucket))?;
        let previous = match (search(leaves, key), entry) {
            (Ok(at), Some(entry)) => leaves
                .get_mut(at)
                .map(|leaf| core::mem::replace(&mut leaf.entry, entry)),
            (Ok(at), None) => Some(leaves.remove(at).entry),
            (Err(at), Some(entry)) => {
                leaves.insert(
                    at,
                    Leaf {
                        key: SmallVec::from_slice(key),
                        entry,
                    },
                );
                None
            }
            (Err(_), None) => None,
        };
        let changed = match (&previous, &entry) {
            (Some(previous), Some(entry)) => previous != entry,
            (None, None) => false,
            _ => true,
        };
        match (&previous, &entry) {
            (None, Some(_)) => self.entries = self.entries.saturating_add(1),
            (Some(_), None) => self.entries = self.entries.saturating_sub(1),
            _ => {}
        }
        if changed {
            self.dirty.insert(bucket);
        }
        previous.map(|previous| previous.value_hash)
    }

    /// Applies a batch of writes (`None` deletes).
    pub fn apply<'a>(&mut self, writes: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>) {
        for (key, value) in writes {
            self.set(key, value);
        }
    }

    /// Rebuilds the dirty buckets and their paths. Returns the new state root and every
    /// top-tree node that changed, as (heap index, hash) in ascending index order; heap
    /// index `BUCKETS + b` is bucket b's root and index 1 the state root.
    pub fn commit(&mut self) -> (Hash, Vec<(u32, Hash)>) {
        self.commit_with(|leaf_lists| {
            leaf_lists
                .iter()
                .map(|leaves| merkle_root(leaves))
                .collect()
        })
    }

    /// [`StateTree::commit`], with the dirty buckets' roots computed by `bucket_roots`:
    /// given each dirty bucket's leaf hashes in order, it must return
    /// [`merkle_root`] of each, in the same order (a caller may spread this over threads).
    /// A missing root counts as the empty bucket's.
    pub fn commit_with(
        &mut self,
        bucket_roots: impl FnOnce(&[Vec<Hash>]) -> Vec<Hash>,
    ) -> (Hash, Vec<(u32, Hash)>) {
        self.commit_buckets_with(bucket_roots);
        let stale: Vec<usize> = core::mem::take(&mut self.stale_paths).into_iter().collect();
        let mut changed: Vec<(u32, Hash)> = core::mem::take(&mut self.changed_roots)
            .into_iter()
            .collect();
        self.rehash_up(stale, u32::MAX, &mut changed);
        changed.sort_unstable_by_key(|(index, _)| *index);
        (self.root(), changed)
    }

    /// The first half of [`StateTree::commit_with`]: recomputes the roots of the buckets
    /// whose leaves changed and the [`STEP_PATH_LEVELS`] levels above them, leaving the
    /// rest of their paths to the state root for the commit. A block built in steps calls
    /// this after each step, so its commit has only the upper levels left.
    /// Until that commit, [`StateTree::root`] is the last committed root and top-tree
    /// proofs are not meaningful.
    pub fn commit_buckets_with(&mut self, bucket_roots: impl FnOnce(&[Vec<Hash>]) -> Vec<Hash>) {
        let dirty = core::mem::take(&mut self.dirty);
        if dirty.is_empty() {
            return;
        }
        let leaf_lists: Vec<Vec<Hash>> = dirty
            .iter()
            .map(|bucket| self.bucket_leaves_of(*bucket))
            .collect();
        let roots = bucket_roots(&leaf_lists);
        let mut changed = Vec::new();
        let mut indices = Vec::with_capacity(dirty.len());
        for (position, bucket) in dirty.into_iter().enumerate() {
            let root = roots.get(position).copied().unwrap_or(EMPTY_ROOT);
            let index = bucket_count().saturating_add(usize::from(bucket));
            // Changed against the last commit or not, the path is recomputed: an earlier
            // step may have moved this root away and back.
            self.write_node(index, root, &mut changed);
            indices.push(index);
        }
        let reached = self.rehash_up(indices, STEP_PATH_LEVELS, &mut changed);
        self.stale_paths.extend(reached);
        self.changed_roots.extend(changed);
    }

    /// Rehashes the parents of `indices` (heap indices of one depth, ascending), then
    /// theirs, `levels` times or up to the state root; returns the indices it reached.
    fn rehash_up(
        &mut self,
        mut indices: Vec<usize>,
        levels: u32,
        changed: &mut Vec<(u32, Hash)>,
    ) -> Vec<usize> {
        for _ in 0..levels {
            if indices.first().is_none_or(|index| *index <= 1) {
                break;
            }
            let mut parents: Vec<usize> = indices.iter().map(|index| index / 2).collect();
            parents.dedup();
            for parent in &parents {
                let left = self.node(parent.saturating_mul(2));
                let right = self.node(parent.saturating_mul(2).saturating_add(1));
                self.write_node(*parent, node_hash(&left, &right), changed);
            }
            indices = parents;
        }
        indices
    }

    /// The state root as of the last [`StateTree::commit`].
    pub fn root(&self) -> Hash {
        self.node(1)
    }

    /// A top-tree node by heap index ([`EMPTY_ROOT`] outside the tree).
    pub fn node(&self, index: usize) -> Hash {
        self.nodes.get(index).copied().unwrap_or(EMPTY_ROOT)
    }

    /// The leaves of one bucket in key order, as (key, value hash).
    pub fn bucket_leaves(&self, bucket: u16) -> impl Iterator<Item = (&[u8], &Hash)> {
        self.buckets
            .get(usize::from(bucket))
            .into_iter()
            .flat_map(|leaves| leaves.iter())
            .map(|leaf| (leaf.key.as_slice(), &leaf.entry.value_hash))
    }

    /// The 16 sibling hashes from bucket `bucket` up to the root, bottom first.
    pub fn top_proof(&self, bucket: u16) -> Vec<Hash> {
        let mut index = bucket_count().saturating_add(usize::from(bucket));
        let mut siblings = Vec::with_capacity(16);
        while index > 1 {
            siblings.push(self.node(index ^ 1));
            index /= 2;
        }
        siblings
    }

    /// A membership or non-membership proof for `key` against the last committed root.
    /// Call [`StateTree::commit`] first; writes made since are not reflected.
    pub fn prove(&self, key: &[u8]) -> StateProof {
        let bucket = bucket_of(key);
        let leaves: Vec<(&[u8], Hash)> = self
            .bucket_leaves(bucket)
            .map(|(leaf_key, hash)| (leaf_key, *hash))
            .collect();
        let part = bucket_part(&leaves, key);
        StateProof {
            version: PROOF_VERSION,
            bucket_leaf_count: part.leaf_count,
            leaves: part.leaves,
            bucket_proof: part.proof,
            top_proof: self.top_proof(bucket),
        }
    }

    fn bucket_leaves_of(&self, bucket: u16) -> Vec<Hash> {
        self.buckets
            .get(usize::from(bucket))
            .into_iter()
            .flat_map(|leaves| leaves.iter())
            .map(|leaf| leaf.entry.leaf)
            .collect()
    }

    fn write_node(&mut self, index: usize, hash: Hash, changed: &mut Vec<(u32, Hash)>) {
        if let Some(slot) = self.nodes.get_mut(index) {
            if *slot != hash {
                *slot = hash;
                changed.push((u32::try_from(index).unwrap_or(u32::MAX), hash));
            }
        }
    }
}

/// The bucket half of a proof: which leaves are shown and the rs_merkle proof for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketPart {
    pub leaf_count: u32,
    pub leaves: Vec<ProvenLeaf>,
    pub proof: Vec<Hash>,
    pub root: Hash,
}

/// Builds the bucket half of a proof for `key` from the bucket's leaves (key-sorted, as
/// (key, value hash)): the key's own leaf if present, else the neighbours that bracket it
/// (one at either end, none if the bucket is empty). Stores with historical buckets use
/// this to prove past heights.
pub fn bucket_part(leaves: &[(&[u8], Hash)], key: &[u8]) -> BucketPart {
    let leaf_hashes: Vec<Hash> = leaves
        .iter()
        .map(|(leaf_key, hash)| leaf_hash(leaf_key, hash))
        .collect();
    let count = leaves.len();
    let shown: Vec<usize> = match leaves.binary_search_by(|(leaf_key, _)| (*leaf_key).cmp(key)) {
        Ok(found) => alloc::vec![found],
        Err(_) if count == 0 => Vec::new(),
        Err(0) => alloc::vec![0],
        Err(at) if at == count => alloc::vec![at.saturating_sub(1)],
        Err(at) => alloc::vec![at.saturating_sub(1), at],
    };
    let tree = rs_merkle::MerkleTree::<CommitHasher>::from_leaves(&leaf_hashes);
    let proof = if shown.is_empty() {
        Vec::new()
    } else {
        tree.proof(&shown).proof_hashes().to_vec()
    };
    BucketPart {
        leaf_count: u32::try_from(count).unwrap_or(u32::MAX),
        leaves: shown
            .iter()
            .filter_map(|index| {
                let (leaf_key, hash) = leaves.get(*index)?;
                Some(ProvenLeaf {
                    index: u32::try_from(*index).ok()?,
                    key: leaf_key.to_vec(),
                    value_hash: *hash,
                })
            })
            .collect(),
        proof,
        root: tree.root().unwrap_or(EMPTY_ROOT),
    }
}

/// Where `key` is in a key-sorted bucket, or where it would go.
fn search(leaves: &[Leaf], key: &[u8]) -> Result<usize, usize> {
    leaves.binary_search_by(|leaf| leaf.key.as_slice().cmp(key))
}

fn bucket_count() -> usize {
    usize::try_from(BUCKETS).unwrap_or(0)
}

/// Height above the bucket level of a heap index in the top tree (0 for bucket roots).
fn top_level_of(index: usize) -> usize {
    let depth = usize::try_from(usize::BITS.saturating_sub(index.leading_zeros()))
        .unwrap_or(0)
        .saturating_sub(1);
    16usize.saturating_sub(depth)
}
