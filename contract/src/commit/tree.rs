//! The in-memory state tree: leaves grouped in buckets, bucket roots in a fixed top tree
//! kept as a heap-ordered array. Writes mark buckets dirty; [`StateTree::commit`]
//! recomputes only those buckets (the changed leaves' paths, or the whole bucket when its
//! keys changed) and their top-tree paths, and reports every top-tree node it changed, so a
//! store can keep node versions for historical proofs.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use smallvec::SmallVec;

use super::{
    bucket_of, empty_subtree_roots, leaf_hash, node_hash, value_hash, CommitHasher, ProvenLeaf,
    StateProof, BUCKETS, EMPTY_ROOT, PROOF_VERSION,
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

/// One bucket: its key-sorted leaves and the rs_merkle levels above them, kept so that a
/// leaf whose hash changed rehashes its path (about 4 hashes at 15 leaves, the mean at
/// 10^6 keys) rather than the whole bucket (14).
#[derive(Clone, Debug, Default)]
struct Bucket {
    leaves: Vec<Leaf>,
    /// The interior levels bottom up, concatenated: level 1 (⌈n/2⌉ nodes for n leaves)
    /// first, the root last. Empty for a bucket of fewer than two leaves, and until the
    /// bucket's root is first computed.
    levels: Vec<Hash>,
}

/// What changed in a bucket since its levels were computed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Dirty {
    /// The leaves at these positions changed hash; none was inserted or removed.
    Leaves(SmallVec<[u32; MAX_PATHS]>),
    /// Leaves were inserted or removed, or more than [`MAX_PATHS`] changed: every level is
    /// rebuilt.
    All,
}

/// Changed leaves of one bucket rehashed path by path; beyond this many the bucket is
/// rebuilt whole (at 15 leaves, 4 paths cost about as much as the 14 hashes of a rebuild).
const MAX_PATHS: usize = 4;

/// Buckets of key-sorted leaves plus the top tree over their roots.
///
/// A bucket is a key-sorted `Vec`: at 10^6 keys a bucket holds ~15 leaves, and a binary
/// search over one contiguous block replaced a `BTreeMap` whose every key comparison
/// followed a pointer to a heap key (a cache miss each, ~11 % of the sequencer's time).
#[derive(Clone, Debug)]
pub struct StateTree {
    buckets: Vec<Bucket>,
    /// Heap order: index 1 is the state root, `BUCKETS + b` is bucket b's root.
    nodes: Vec<Hash>,
    /// Buckets whose leaves changed since their root was computed, and how.
    dirty: BTreeMap<u16, Dirty>,
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
            buckets: (0..bucket_count()).map(|_| Bucket::default()).collect(),
            nodes,
            dirty: BTreeMap::new(),
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
        let leaves = &self.buckets.get(usize::from(bucket_of(key)))?.leaves;
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
        let leaves = &mut self.buckets.get_mut(usize::from(bucket))?.leaves;
        let found = search(leaves, key);
        let previous = match (found, entry) {
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
            // A leaf replaced in place keeps every position; an insert or removal moves them.
            let replaced_at = match (found, &previous, &entry) {
                (Ok(at), Some(_), Some(_)) => u32::try_from(at).ok(),
                _ => None,
            };
            self.mark_dirty(bucket, replaced_at);
        }
        previous.map(|previous| previous.value_hash)
    }

    /// Records that `bucket` changed: the leaf at `replaced_at` alone, or (`None`) its
    /// shape.
    fn mark_dirty(&mut self, bucket: u16, replaced_at: Option<u32>) {
        let dirty = self
            .dirty
            .entry(bucket)
            .or_insert_with(|| Dirty::Leaves(SmallVec::new()));
        match (&mut *dirty, replaced_at) {
            (Dirty::Leaves(positions), Some(at)) if positions.contains(&at) => {}
            (Dirty::Leaves(positions), Some(at)) if positions.len() < MAX_PATHS => {
                positions.push(at)
            }
            _ => *dirty = Dirty::All,
        }
    }

    /// Applies a batch of writes (`None` deletes).
    pub fn apply<'a>(&mut self, writes: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>) {
        for (key, value) in writes {
            self.set(key, value);
        }
    }

    /// Brings the dirty buckets and their paths up to date. Returns the new state root and every
    /// top-tree node that changed, as (heap index, hash) in ascending index order; heap
    /// index `BUCKETS + b` is bucket b's root and index 1 the state root.
    pub fn commit(&mut self) -> (Hash, Vec<(u32, Hash)>) {
        self.commit_with(|_| {})
    }

    /// [`StateTree::commit`], with the dirty buckets' roots computed by `run`, which may
    /// call [`BucketJob::run`] on each job from any thread (jobs it leaves are run after
    /// it returns).
    pub fn commit_with(
        &mut self,
        run: impl FnOnce(&mut [BucketJob<'_>]),
    ) -> (Hash, Vec<(u32, Hash)>) {
        self.commit_buckets_with(run);
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
    pub fn commit_buckets_with(&mut self, run: impl FnOnce(&mut [BucketJob<'_>])) {
        let dirty = core::mem::take(&mut self.dirty);
        if dirty.is_empty() {
            return;
        }
        let mut jobs: Vec<BucketJob<'_>> = Vec::with_capacity(dirty.len());
        // One `&mut` per dirty bucket, split off in ascending order.
        let mut rest: &mut [Bucket] = &mut self.buckets;
        let mut rest_starts_at = 0usize;
        for (bucket, dirty) in dirty {
            let skip = usize::from(bucket).saturating_sub(rest_starts_at);
            let Some((_, from_bucket)) = core::mem::take(&mut rest).split_at_mut_checked(skip)
            else {
                break;
            };
            let Some((this, after)) = from_bucket.split_first_mut() else {
                break;
            };
            jobs.push(BucketJob {
                index: bucket,
                bucket: this,
                dirty,
                root: None,
            });
            rest = after;
            rest_starts_at = usize::from(bucket).saturating_add(1);
        }
        run(&mut jobs);
        let roots: Vec<(u16, Hash)> = jobs.iter_mut().map(|job| (job.index, job.run())).collect();
        let mut changed = Vec::new();
        let mut indices = Vec::with_capacity(roots.len());
        for (bucket, root) in roots {
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
            .flat_map(|bucket| bucket.leaves.iter())
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

    fn write_node(&mut self, index: usize, hash: Hash, changed: &mut Vec<(u32, Hash)>) {
        if let Some(slot) = self.nodes.get_mut(index) {
            if *slot != hash {
                *slot = hash;
                changed.push((u32::try_from(index).unwrap_or(u32::MAX), hash));
            }
        }
    }
}

/// One dirty bucket whose root [`StateTree::commit_buckets_with`] needs.
#[derive(Debug)]
pub struct BucketJob<'a> {
    index: u16,
    bucket: &'a mut Bucket,
    dirty: Dirty,
    root: Option<Hash>,
}

impl BucketJob<'_> {
    /// Brings the bucket's levels up to date and returns its root ([`merkle_root`](super::merkle_root) of its
    /// leaf hashes); a second call returns the first call's root.
    pub fn run(&mut self) -> Hash {
        if let Some(root) = self.root {
            return root;
        }
        let root = self.bucket.rehash(&self.dirty);
        self.root = Some(root);
        root
    }
}

impl Bucket {
    /// Recomputes the levels above the leaves `dirty` names, or all of them, and returns
    /// the root.
    fn rehash(&mut self, dirty: &Dirty) -> Hash {
        let count = self.leaves.len();
        match (self.leaves.first(), count) {
            (None, _) => {
                self.levels = Vec::new();
                return EMPTY_ROOT;
            }
            (Some(only), 1) => {
                self.levels = Vec::new();
                return only.entry.leaf;
            }
            _ => {}
        }
        match dirty {
            Dirty::Leaves(positions) if self.levels.len() == interior_count(count) => {
                let mut positions: SmallVec<[usize; MAX_PATHS]> = positions
                    .iter()
                    .filter_map(|at| usize::try_from(*at).ok())
                    .collect();
                positions.sort_unstable();
                self.rehash_paths(positions)
            }
            _ => self.rebuild(),
        }
        self.levels.last().copied().unwrap_or(EMPTY_ROOT)
    }

    /// Every level from the leaves up: the paths of every leaf.
    fn rebuild(&mut self) {
        let count = self.leaves.len();
        self.levels.clear();
        self.levels.resize(interior_count(count), EMPTY_ROOT);
        self.rehash_paths(0..count);
    }

    /// The paths from the leaves at `positions` (ascending) to the root, as rs_merkle pairs
    /// nodes: a node without a right sibling is carried up unchanged. `levels` has the
    /// size for the current leaf count.
    fn rehash_paths(&mut self, positions: impl IntoIterator<Item = usize>) {
        let mut below: SmallVec<[usize; MAX_PATHS]> = positions.into_iter().collect();
        // Where the level below starts in `levels` (`None`: the leaves) and its width.
        let (mut below_start, mut below_width) = (None, self.leaves.len());
        let mut start = 0usize;
        while below_width > 1 {
            let width = below_width.div_ceil(2);
            let mut parents: SmallVec<[usize; MAX_PATHS]> =
                below.iter().map(|index| index / 2).collect();
            parents.dedup();
            for index in &parents {
                let left_at = index.saturating_mul(2);
                let right_at = left_at.saturating_add(1);
                let left = self.node_below(below_start, left_at);
                let right =
                    (right_at < below_width).then(|| self.node_below(below_start, right_at));
                let hash = parent(&left, right.as_ref());
                if let Some(slot) = self.levels.get_mut(start.saturating_add(*index)) {
                    *slot = hash;
                }
            }
            below = parents;
            below_start = Some(start);
            below_width = width;
            start = start.saturating_add(width);
        }
    }

    /// Node `index` of the level starting at `start` in `levels`, or leaf `index`.
    fn node_below(&self, start: Option<usize>, index: usize) -> Hash {
        let node = match start {
            None => self.leaves.get(index).map(|leaf| leaf.entry.leaf),
            Some(start) => self.levels.get(start.saturating_add(index)).copied(),
        };
        node.unwrap_or(EMPTY_ROOT)
    }
}

/// A parent in a bucket: the node hash of a pair, or a lone left node carried up.
fn parent(left: &Hash, right: Option<&Hash>) -> Hash {
    match right {
        Some(right) => node_hash(left, right),
        None => *left,
    }
}

/// Interior nodes of an rs_merkle tree over `leaves` leaves (every level above the leaves
/// down to the root; none for fewer than two leaves).
fn interior_count(leaves: usize) -> usize {
    let (mut count, mut width) = (0usize, leaves);
    while width > 1 {
        width = width.div_ceil(2);
        count = count.saturating_add(width);
    }
    count
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
