//! The mempool: transactions that passed the stateless checks and wait for a block. It
//! admits them against the signer's committed nonce, proposes a fair, nonce-ordered selection
//! for the next block, and forgets what a committed block included or made stale. It is a
//! pure data structure: no IO, no clock, no locks; the caller injects heights and nonces.
//!
//! Four indexes are kept in step by every operation, and `len()` / `bytes()` are counters
//! updated with them rather than recomputed:
//! - `queues`, each sender's pending txs by nonce, keyed by the sequence number at which the
//!   sender (last) entered the pool, so that key order is the round-robin order of
//!   [`Mempool::select`];
//! - `arrival_seq_of`, sender → its key in `queues`;
//! - `by_hash`, hash → (the sender's key, nonce), for de-duplication and removal by hash;
//! - `expiry`, (valid_until_height, hash) of txs that expire, so expired txs are found
//!   without scanning the pool.
//!
//! A sender is in the pool exactly while it has at least one pending tx: when its queue
//! empties it leaves the arrival order, and a later tx puts it at the back.
//!
//! A block being built takes txs out of the queues with [`Mempool::take`]; they stay in the
//! pool as *included* (still pending to the API, still counted, still de-duplicated) until
//! [`Mempool::remove_committed`] drops them, or [`Mempool::release_included`] puts them
//! back when the block is abandoned.

use std::collections::{btree_map, BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use agora_contract::ids::{AccountId, Hash};

/// Capacity limits of the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Most txs pending at once, over all senders.
    pub max_txs: usize,
    /// Most bytes pending at once: the sum of the txs' encoded lengths.
    pub max_bytes: usize,
    /// Most txs pending for one sender; also how far ahead of the committed nonce a tx may
    /// be, since further nonces could never be reached by the txs queued before them.
    pub max_per_sender: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 100_000,
            max_bytes: 64 * 1024 * 1024,
            max_per_sender: 1_024,
        }
    }
}

/// A transaction waiting for a block: its identity and ordering fields, decoded once at
/// admission, and its canonical bytes (shared, so selection clones are cheap).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingTx {
    pub hash: Hash,
    pub signer: AccountId,
    pub nonce: u64,
    /// The last block height that may include the tx, if any.
    pub valid_until_height: Option<u64>,
    pub bytes: Arc<[u8]>,
}

impl PendingTx {
    /// Whether a block at `height` may no longer include this tx.
    fn is_expired_at(&self, height: u64) -> bool {
        self.valid_until_height
            .is_some_and(|valid_until_height| valid_until_height < height)
    }
}

/// Why the pool refused a tx. Codes are stable (6xx: mempool admission); variants are listed
/// in the order [`Mempool::insert`] checks them, except `PoolFull`, checked last.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("mempool is full: at most {max_txs} txs and {max_bytes} bytes")]
    PoolFull { max_txs: usize, max_bytes: usize },
    #[error("signer already has the maximum of {max_per_sender} pending txs")]
    SenderQueueFull { max_per_sender: usize },
    #[error("a tx with this hash is already pending")]
    AlreadyPending,
    #[error("signer already has a different pending tx with nonce {nonce}")]
    NonceTaken { nonce: u64 },
    #[error("nonce {found} is below the signer's next nonce {expected}")]
    NonceTooLow { expected: u64, found: u64 },
    #[error("nonce {found} is {max_ahead} or more ahead of the signer's next nonce {next}")]
    NonceTooHigh {
        next: u64,
        found: u64,
        max_ahead: u64,
    },
    #[error("tx was valid until height {valid_until_height}, next block is {next_height}")]
    Expired {
        valid_until_height: u64,
        next_height: u64,
    },
}

impl MempoolError {
    /// The stable numeric code, as reported by the API.
    pub fn code(&self) -> u16 {
        match self {
            MempoolError::PoolFull { .. } => 600,
            MempoolError::SenderQueueFull { .. } => 601,
            MempoolError::AlreadyPending => 602,
            MempoolError::NonceTaken { .. } => 603,
            MempoolError::NonceTooLow { .. } => 604,
            MempoolError::NonceTooHigh { .. } => 605,
            MempoolError::Expired { .. } => 606,
        }
    }

    /// The variant's name, as reported by the API.
    pub fn name(&self) -> &'static str {
        match self {
            MempoolError::PoolFull { .. } => "PoolFull",
            MempoolError::SenderQueueFull { .. } => "SenderQueueFull",
            MempoolError::AlreadyPending => "AlreadyPending",
            MempoolError::NonceTaken { .. } => "NonceTaken",
            MempoolError::NonceTooLow { .. } => "NonceTooLow",
            MempoolError::NonceTooHigh { .. } => "NonceTooHigh",
            MempoolError::Expired { .. } => "Expired",
        }
    }
}

/// One sender's pending txs. Never empty while it is in the pool.
#[derive(Debug)]
struct SenderQueue {
    signer: AccountId,
    txs_by_nonce: BTreeMap<u64, PendingTx>,
}

/// Pending transactions, by sender and nonce. See the module documentation.
pub struct Mempool {
    config: MempoolConfig,
    /// Senders with pending txs, keyed by arrival sequence: iterating it in key order is the
    /// round order of [`Mempool::select`], without a lookup per sender.
    queues: BTreeMap<u64, SenderQueue>,
    /// Sender → its key in `queues`.
    arrival_seq_of: HashMap<AccountId, u64>,
    /// The next arrival sequence number; only grows, so re-entering senders go last.
    arrival_seq_next: u64,
    /// Hash → (arrival sequence of its sender, nonce). A sender's key in `queues` only
    /// changes after its queue emptied, so these entries never go stale.
    by_hash: HashMap<Hash, (u64, u64)>,
    /// (valid_until_height, hash) of every pending tx that has an expiry height.
    expiry: BTreeSet<(u64, Hash)>,
    /// Txs taken into the block being built, by hash: the order they were taken in, their
    /// sender's arrival sequence then, and the tx.
    included: HashMap<Hash, (u64, u64, PendingTx)>,
    included_seq_next: u64,
    /// Counts txs put in a queue (admitted or released); a caller that found nothing
    /// ready needs to look again only once it moved.
    enqueued: u64,
    /// (signer, nonce) of every included tx, so no other tx claims the nonce meanwhile.
    included_slots: HashSet<(AccountId, u64)>,
    /// Counts queued and included txs alike.
    tx_count: usize,
    byte_count: usize,
}

impl core::fmt::Debug for Mempool {
    // The counters, not the contents: a full pool is 100 000 txs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mempool")
            .field("config", &self.config)
            .field("txs", &self.tx_count)
            .field("bytes", &self.byte_count)
            .field("senders", &self.queues.len())
            .finish()
    }
}

/// A sender's position during [`Mempool::select`]: the nonce it must include next and its
/// remaining pending txs from there.
struct SelectCursor<'a> {
    nonce_next: u64,
    txs: btree_map::Range<'a, u64, PendingTx>,
}

impl Mempool {
    pub fn new(config: MempoolConfig) -> Self {
        Mempool {
            config,
            queues: BTreeMap::new(),
            arrival_seq_of: HashMap::new(),
            arrival_seq_next: 0,
            by_hash: HashMap::new(),
            expiry: BTreeSet::new(),
            included: HashMap::new(),
            included_seq_next: 0,
            enqueued: 0,
            included_slots: HashSet::new(),
            tx_count: 0,
            byte_count: 0,
        }
    }

    pub fn config(&self) -> &MempoolConfig {
        &self.config
    }

    /// Admission after the stateless checks (done elsewhere): `committed_nonce` is the
    /// signer's nonce in committed state, `next_height` the height of the next block.
    ///
    /// Checks, in order: `AlreadyPending`, `Expired`, `NonceTooLow`, `NonceTooHigh`,
    /// `NonceTaken`, `SenderQueueFull`, `PoolFull`. A rejection changes nothing.
    pub fn insert(
        &mut self,
        tx: PendingTx,
        committed_nonce: u64,
        next_height: u64,
    ) -> Result<(), MempoolError> {
        self.check_insert(&tx, committed_nonce, next_height)?;
        self.enqueue(tx, None);
        Ok(())
    }

    /// Puts an admitted tx in its sender's queue and every index. A sender without a queue
    /// enters at `arrival_seq` if given (its place before it was taken into a block), else
    /// at the back.
    fn enqueue(&mut self, tx: PendingTx, arrival_seq: Option<u64>) {
        let tx_len = tx.bytes.len();
        self.enqueued = self.enqueued.wrapping_add(1);
        let place = arrival_seq.filter(|seq| !self.queues.contains_key(seq));
        let arrival_seq = *self.arrival_seq_of.entry(tx.signer).or_insert_with(|| {
            place.unwrap_or_else(|| {
                let arrival_seq = self.arrival_seq_next;
                self.arrival_seq_next += 1;
                arrival_seq
            })
        });
        let queue = self
            .queues
            .entry(arrival_seq)
            .or_insert_with(|| SenderQueue {
                signer: tx.signer,
                txs_by_nonce: BTreeMap::new(),
            });
        self.by_hash.insert(tx.hash, (arrival_seq, tx.nonce));
        if let Some(valid_until_height) = tx.valid_until_height {
            self.expiry.insert((valid_until_height, tx.hash));
        }
        queue.txs_by_nonce.insert(tx.nonce, tx);
        self.tx_count += 1;
        self.byte_count += tx_len;
    }

    /// The admission checks of [`Mempool::insert`], reading only.
    fn check_insert(
        &self,
        tx: &PendingTx,
        committed_nonce: u64,
        next_height: u64,
    ) -> Result<(), MempoolError> {
        if self.contains(&tx.hash) {
            return Err(MempoolError::AlreadyPending);
        }
        if let Some(valid_until_height) = tx.valid_until_height {
            if valid_until_height < next_height {
                return Err(MempoolError::Expired {
                    valid_until_height,
                    next_height,
                });
            }
        }
        if tx.nonce < committed_nonce {
            return Err(MempoolError::NonceTooLow {
                expected: committed_nonce,
                found: tx.nonce,
            });
        }
        let max_ahead = u64::try_from(self.config.max_per_sender).unwrap_or(u64::MAX);
        if tx.nonce - committed_nonce >= max_ahead {
            return Err(MempoolError::NonceTooHigh {
                next: committed_nonce,
                found: tx.nonce,
                max_ahead,
            });
        }
        let queue = self.queue_of(&tx.signer);
        if queue.is_some_and(|queue| queue.txs_by_nonce.contains_key(&tx.nonce))
            || self.included_slots.contains(&(tx.signer, tx.nonce))
        {
            return Err(MempoolError::NonceTaken { nonce: tx.nonce });
        }
        // Only stale txs (nonces now below `committed_nonce`, awaiting `remove_committed`)
        // can fill a queue past the `NonceTooHigh` window, but they still hold their slots.
        let queued = queue.map_or(0, |queue| queue.txs_by_nonce.len());
        if queued >= self.config.max_per_sender {
            return Err(MempoolError::SenderQueueFull {
                max_per_sender: self.config.max_per_sender,
            });
        }
        let bytes_after = self.byte_count.saturating_add(tx.bytes.len());
        if self.tx_count >= self.config.max_txs || bytes_after > self.config.max_bytes {
            return Err(MempoolError::PoolFull {
                max_txs: self.config.max_txs,
                max_bytes: self.config.max_bytes,
            });
        }
        Ok(())
    }

    fn queue_of(&self, signer: &AccountId) -> Option<&SenderQueue> {
        self.queues.get(self.arrival_seq_of.get(signer)?)
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.by_hash.contains_key(hash) || self.included.contains_key(hash)
    }

    /// The pending (queued or included) tx with this hash, if any.
    pub fn get(&self, hash: &Hash) -> Option<&PendingTx> {
        if let Some((_, _, tx)) = self.included.get(hash) {
            return Some(tx);
        }
        let (arrival_seq, nonce) = self.by_hash.get(hash)?;
        self.queues.get(arrival_seq)?.txs_by_nonce.get(nonce)
    }

    /// Number of txs taken into the block being built.
    pub fn included_len(&self) -> usize {
        self.included.len()
    }

    /// How many txs have been put in a queue so far (wrapping): unchanged means no tx
    /// became selectable that was not before, for the same nonces.
    pub fn enqueued(&self) -> u64 {
        self.enqueued
    }

    /// Number of pending txs.
    pub fn len(&self) -> usize {
        self.tx_count
    }

    pub fn is_empty(&self) -> bool {
        self.tx_count == 0
    }

    /// Sum of the pending txs' byte lengths.
    pub fn bytes(&self) -> usize {
        self.byte_count
    }

    /// Number of senders with at least one queued tx (txs taken into the block being built
    /// are not queued).
    pub fn senders(&self) -> usize {
        self.queues.len()
    }

    /// Block proposal: returns txs in inclusion order. For each sender only a run of
    /// consecutive nonces starting at `committed_nonce(sender)` is eligible (gaps wait), and
    /// an expired tx (valid_until_height < next_height) ends the run like a gap, since the
    /// nonces after it cannot execute without it.
    ///
    /// Fair across senders: round-robin, one tx per sender per round, senders visited in the
    /// order they entered the pool (oldest waiting sender first). A tx that would exceed
    /// `max_bytes` ends that sender's selection, but other senders' txs may still fit;
    /// selection stops at `max_txs` or when a round adds nothing. Removes nothing.
    ///
    /// Cost: at most one `committed_nonce` call per sender (none for the senders after a
    /// first round that fills `max_txs`), then O(1) per selected tx.
    pub fn select(
        &self,
        max_txs: usize,
        max_bytes: usize,
        next_height: u64,
        committed_nonce: impl Fn(&AccountId) -> u64,
    ) -> Vec<PendingTx> {
        self.select_from(max_txs, max_bytes, next_height, |signer| {
            Some(committed_nonce(signer))
        })
    }

    /// [`Mempool::select`] with each sender's next nonce given by `next_nonce`; a sender
    /// for which it answers `None` contributes nothing.
    pub fn select_from(
        &self,
        max_txs: usize,
        max_bytes: usize,
        next_height: u64,
        next_nonce: impl Fn(&AccountId) -> Option<u64>,
    ) -> Vec<PendingTx> {
        let mut selected = Vec::with_capacity(max_txs.min(self.tx_count));
        if max_txs == 0 {
            return selected;
        }
        let mut bytes_selected = 0usize;
        // One tx from a sender's cursor if it is the next nonce, unexpired and fits; false
        // ends the sender's part in this selection.
        let mut advance = |cursor: &mut SelectCursor<'_>, selected: &mut Vec<PendingTx>| {
            let Some((&nonce, tx)) = cursor.txs.next() else {
                return false;
            };
            if nonce != cursor.nonce_next || tx.is_expired_at(next_height) {
                return false;
            }
            let bytes_after = bytes_selected.saturating_add(tx.bytes.len());
            if bytes_after > max_bytes {
                return false;
            }
            bytes_selected = bytes_after;
            selected.push(tx.clone());
            // At u64::MAX the range is exhausted, so saturating cannot match a later tx.
            cursor.nonce_next = nonce.saturating_add(1);
            true
        };
        // The first round opens the senders' cursors as it reaches them, so a selection
        // that fills up early never looks at the senders after it (a block built in small
        // steps from a large pool looked at every sender on every step).
        let mut cursors: Vec<SelectCursor<'_>> = Vec::new();
        for queue in self.queues.values() {
            if selected.len() >= max_txs {
                break;
            }
            let Some(nonce_next) = next_nonce(&queue.signer) else {
                continue;
            };
            let mut cursor = SelectCursor {
                nonce_next,
                txs: queue.txs_by_nonce.range(nonce_next..),
            };
            if advance(&mut cursor, &mut selected) {
                cursors.push(cursor);
            }
        }
        // Each later round keeps, in order, the senders that contributed a tx to it.
        while !cursors.is_empty() {
            cursors.retain_mut(|cursor| selected.len() < max_txs && advance(cursor, &mut selected));
        }
        selected
    }

    /// Takes txs into the block being built: [`Mempool::select_from`], then moves each
    /// selected tx from its queue to the included set. Returns them in inclusion order.
    pub fn take(
        &mut self,
        max_txs: usize,
        max_bytes: usize,
        next_height: u64,
        next_nonce: impl Fn(&AccountId) -> Option<u64>,
    ) -> Vec<PendingTx> {
        let selected = self.select_from(max_txs, max_bytes, next_height, next_nonce);
        for tx in &selected {
            let Some(&(arrival_seq, _)) = self.by_hash.get(&tx.hash) else {
                continue;
            };
            if let Some(taken) = self.remove_by_hash(&tx.hash) {
                self.tx_count += 1;
                self.byte_count += taken.bytes.len();
                self.included_slots.insert((taken.signer, taken.nonce));
                self.included
                    .insert(taken.hash, (self.included_seq_next, arrival_seq, taken));
                self.included_seq_next += 1;
            }
        }
        selected
    }

    /// Puts every included tx back in its queue (the block being built was abandoned), in
    /// the order they were taken. A sender whose queue emptied when its txs were taken
    /// gets its place in the round order back; one that sent more meanwhile keeps the
    /// place it took then.
    pub fn release_included(&mut self) {
        self.included_slots.clear();
        let mut released: Vec<(u64, u64, PendingTx)> =
            std::mem::take(&mut self.included).into_values().collect();
        released.sort_unstable_by_key(|(seq, _, _)| *seq);
        for (_, arrival_seq, tx) in released {
            self.tx_count -= 1;
            self.byte_count -= tx.bytes.len();
            self.enqueue(tx, Some(arrival_seq));
        }
    }

    /// After a block commits: drop the given hashes (unknown ones are ignored), then for
    /// every sender with pending txs drop nonces below `committed_nonce(sender)` and txs with
    /// valid_until_height < next_height. Returns the number of txs removed.
    ///
    /// Cost: O(log n) per removed tx plus one `committed_nonce` call per sender with pending
    /// txs; expired txs are found through the expiry index, not by scanning.
    pub fn remove_committed(
        &mut self,
        included: &[Hash],
        next_height: u64,
        committed_nonce: impl Fn(&AccountId) -> u64,
    ) -> usize {
        let mut removed = 0;
        for hash in included {
            if let Some((_, _, tx)) = self.included.remove(hash) {
                self.included_slots.remove(&(tx.signer, tx.nonce));
                self.tx_count -= 1;
                self.byte_count -= tx.bytes.len();
                removed += 1;
            } else if self.remove_by_hash(hash).is_some() {
                removed += 1;
            }
        }
        while self
            .expiry
            .first()
            .is_some_and(|&(until, _)| until < next_height)
        {
            let Some((_, hash)) = self.expiry.pop_first() else {
                break;
            };
            if self.remove_by_hash(&hash).is_some() {
                removed += 1;
            }
        }
        removed + self.remove_stale_nonces(committed_nonce)
    }

    /// Drops, for every sender, the pending txs with nonces below its committed nonce.
    fn remove_stale_nonces(&mut self, committed_nonce: impl Fn(&AccountId) -> u64) -> usize {
        let mut removed = 0;
        let mut emptied = Vec::new();
        for (&arrival_seq, queue) in &mut self.queues {
            let nonce_next = committed_nonce(&queue.signer);
            let Some((&nonce_first, _)) = queue.txs_by_nonce.first_key_value() else {
                continue;
            };
            if nonce_first >= nonce_next {
                continue;
            }
            let kept = queue.txs_by_nonce.split_off(&nonce_next);
            let stale = std::mem::replace(&mut queue.txs_by_nonce, kept);
            for tx in stale.into_values() {
                self.by_hash.remove(&tx.hash);
                if let Some(valid_until_height) = tx.valid_until_height {
                    self.expiry.remove(&(valid_until_height, tx.hash));
                }
                self.tx_count -= 1;
                self.byte_count -= tx.bytes.len();
                removed += 1;
            }
            if queue.txs_by_nonce.is_empty() {
                emptied.push((arrival_seq, queue.signer));
            }
        }
        for (arrival_seq, signer) in emptied {
            self.queues.remove(&arrival_seq);
            self.arrival_seq_of.remove(&signer);
        }
        removed
    }

    /// Removes one tx and every index entry for it; a sender whose queue empties leaves the
    /// pool and the arrival order.
    fn remove_by_hash(&mut self, hash: &Hash) -> Option<PendingTx> {
        let (arrival_seq, nonce) = self.by_hash.remove(hash)?;
        let queue = self.queues.get_mut(&arrival_seq)?;
        let tx = queue.txs_by_nonce.remove(&nonce)?;
        if queue.txs_by_nonce.is_empty() {
            self.queues.remove(&arrival_seq);
            self.arrival_seq_of.remove(&tx.signer);
        }
        if let Some(valid_until_height) = tx.valid_until_height {
            self.expiry.remove(&(valid_until_height, tx.hash));
        }
        self.tx_count -= 1;
        self.byte_count -= tx.bytes.len();
        Some(tx)
    }

    /// Removes everything (used when the chain is reverted). The arrival sequence keeps
    /// counting, which is harmless: only the relative order matters.
    pub fn clear(&mut self) {
        self.queues.clear();
        self.arrival_seq_of.clear();
        self.by_hash.clear();
        self.expiry.clear();
        self.included.clear();
        self.included_slots.clear();
        self.tx_count = 0;
        self.byte_count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // --- helpers -------------------------------------------------------------------------

    fn account(signer: u8) -> AccountId {
        AccountId([signer; 32])
    }

    /// A 100-byte tx without expiry. Its hash is derived from (signer, nonce, variant), so
    /// tests get distinct hashes without signing anything.
    fn pending(signer: u8, nonce: u64) -> PendingTx {
        PendingTx {
            hash: hash_of(signer, nonce, 0),
            signer: account(signer),
            nonce,
            valid_until_height: None,
            bytes: Arc::from(vec![signer; 100]),
        }
    }

    fn hash_of(signer: u8, nonce: u64, variant: u8) -> Hash {
        let mut hash = [0u8; 32];
        hash[0] = signer;
        hash[1..9].copy_from_slice(&nonce.to_le_bytes());
        hash[9] = variant;
        hash
    }

    fn with_len(mut tx: PendingTx, len: usize) -> PendingTx {
        tx.bytes = Arc::from(vec![0u8; len]);
        tx
    }

    fn with_expiry(mut tx: PendingTx, valid_until_height: u64) -> PendingTx {
        tx.valid_until_height = Some(valid_until_height);
        tx
    }

    /// The same signer and nonce with a different hash: another tx competing for the slot.
    fn with_variant(mut tx: PendingTx, variant: u8) -> PendingTx {
        tx.hash = hash_of(tx.signer.0[0], tx.nonce, variant);
        tx
    }

    /// Committed nonces for the listed signers; every other signer is at 0.
    fn committed(nonces: &[(u8, u64)]) -> impl Fn(&AccountId) -> u64 {
        let nonces: BTreeMap<AccountId, u64> = nonces
            .iter()
            .map(|&(signer, nonce)| (account(signer), nonce))
            .collect();
        move |signer| nonces.get(signer).copied().unwrap_or(0)
    }

    /// (signer byte, nonce) of each tx, in order: selections read as data.
    fn picked(txs: &[PendingTx]) -> Vec<(u8, u64)> {
        txs.iter().map(|tx| (tx.signer.0[0], tx.nonce)).collect()
    }

    fn pool_with(config: MempoolConfig, txs: impl IntoIterator<Item = PendingTx>) -> Mempool {
        let mut pool = Mempool::new(config);
        for tx in txs {
            pool.insert(tx, 0, 1).expect("test tx is admissible");
        }
        check_invariants(&pool);
        pool
    }

    fn roomy() -> MempoolConfig {
        MempoolConfig::default()
    }

    /// Recounts everything from the per-sender queues and checks every index against them.
    fn check_invariants(pool: &Mempool) {
        let mut tx_count = 0;
        let mut byte_count = 0;
        let mut expiring = 0;
        for (&arrival_seq, queue) in &pool.queues {
            let signer = queue.signer;
            assert!(
                !queue.txs_by_nonce.is_empty(),
                "empty queue kept for {signer:?}"
            );
            assert_eq!(pool.arrival_seq_of.get(&signer), Some(&arrival_seq));
            assert!(arrival_seq < pool.arrival_seq_next);
            for (&nonce, tx) in &queue.txs_by_nonce {
                assert_eq!((tx.signer, tx.nonce), (signer, nonce));
                assert_eq!(pool.by_hash.get(&tx.hash), Some(&(arrival_seq, nonce)));
                if let Some(until) = tx.valid_until_height {
                    assert!(pool.expiry.contains(&(until, tx.hash)));
                    expiring += 1;
                }
                tx_count += 1;
                byte_count += tx.bytes.len();
            }
        }
        let queued = tx_count;
        for (hash, (_, _, tx)) in &pool.included {
            assert_eq!(&tx.hash, hash);
            assert!(!pool.by_hash.contains_key(hash), "included tx still queued");
            assert!(pool.included_slots.contains(&(tx.signer, tx.nonce)));
            tx_count += 1;
            byte_count += tx.bytes.len();
        }
        assert_eq!(pool.included_slots.len(), pool.included.len());
        assert_eq!(pool.included_len(), pool.included.len());
        assert_eq!(pool.len(), tx_count);
        assert_eq!(pool.bytes(), byte_count);
        assert_eq!(pool.by_hash.len(), queued);
        assert_eq!(pool.expiry.len(), expiring);
        assert_eq!(pool.arrival_seq_of.len(), pool.queues.len());
        assert_eq!(pool.senders(), pool.queues.len());
        assert_eq!(pool.is_empty(), tx_count == 0);
    }

    // --- errors --------------------------------------------------------------------------

    /// Codes and names are part of the API: pinned here so a change is deliberate.
    #[test]
    fn error_codes_and_names_are_stable() {
        let cases = [
            (
                MempoolError::PoolFull {
                    max_txs: 1,
                    max_bytes: 2,
                },
                600,
                "PoolFull",
            ),
            (
                MempoolError::SenderQueueFull { max_per_sender: 1 },
                601,
                "SenderQueueFull",
            ),
            (MempoolError::AlreadyPending, 602, "AlreadyPending"),
            (MempoolError::NonceTaken { nonce: 1 }, 603, "NonceTaken"),
            (
                MempoolError::NonceTooLow {
                    expected: 2,
                    found: 1,
                },
                604,
                "NonceTooLow",
            ),
            (
                MempoolError::NonceTooHigh {
                    next: 0,
                    found: 9,
                    max_ahead: 4,
                },
                605,
                "NonceTooHigh",
            ),
            (
                MempoolError::Expired {
                    valid_until_height: 1,
                    next_height: 2,
                },
                606,
                "Expired",
            ),
        ];
        for (error, code, name) in cases {
            assert_eq!((error.code(), error.name()), (code, name), "{error}");
        }
    }

    /// A hash already pending is refused with 602, even when the tx is otherwise valid.
    #[test]
    fn insert_refuses_a_pending_hash_with_already_pending() {
        let mut pool = pool_with(roomy(), [pending(1, 0)]);
        let error = pool.insert(pending(1, 0), 0, 1).unwrap_err();
        assert_eq!(error, MempoolError::AlreadyPending);
        assert_eq!(error.code(), 602);
        assert_eq!(pool.len(), 1);
    }

    /// valid_until_height below the next height is refused with 606; equal is still valid.
    #[test]
    fn insert_refuses_expired_and_accepts_last_valid_height() {
        let mut pool = Mempool::new(roomy());
        let error = pool
            .insert(with_expiry(pending(1, 0), 9), 0, 10)
            .unwrap_err();
        assert_eq!(
            error,
            MempoolError::Expired {
                valid_until_height: 9,
                next_height: 10
            }
        );
        assert_eq!(error.code(), 606);
        assert_eq!(pool.insert(with_expiry(pending(1, 0), 10), 0, 10), Ok(()));
        check_invariants(&pool);
    }

    /// A nonce below the committed nonce can never execute: 604.
    #[test]
    fn insert_refuses_nonce_below_committed_with_nonce_too_low() {
        let mut pool = Mempool::new(roomy());
        let error = pool.insert(pending(1, 4), 5, 1).unwrap_err();
        assert_eq!(
            error,
            MempoolError::NonceTooLow {
                expected: 5,
                found: 4
            }
        );
        assert_eq!(error.code(), 604);
        assert_eq!(pool.insert(pending(1, 5), 5, 1), Ok(()));
    }

    /// Nonces committed..committed+max_per_sender-1 are admissible; the next one is 605.
    #[test]
    fn insert_refuses_nonce_max_per_sender_ahead_with_nonce_too_high() {
        let config = MempoolConfig {
            max_per_sender: 4,
            ..roomy()
        };
        let mut pool = Mempool::new(config);
        let error = pool.insert(pending(1, 14), 10, 1).unwrap_err();
        assert_eq!(
            error,
            MempoolError::NonceTooHigh {
                next: 10,
                found: 14,
                max_ahead: 4
            }
        );
        assert_eq!(error.code(), 605);
        assert_eq!(pool.insert(pending(1, 13), 10, 1), Ok(()));
        check_invariants(&pool);
    }

    /// A second, different tx for a nonce the signer already has pending is refused: 603.
    #[test]
    fn insert_refuses_a_different_tx_for_a_taken_nonce() {
        let mut pool = pool_with(roomy(), [pending(1, 0)]);
        let error = pool
            .insert(with_variant(pending(1, 0), 1), 0, 1)
            .unwrap_err();
        assert_eq!(error, MempoolError::NonceTaken { nonce: 0 });
        assert_eq!(error.code(), 603);
        // The same nonce of another signer is unrelated.
        assert_eq!(pool.insert(pending(2, 0), 0, 1), Ok(()));
        assert_eq!(pool.get(&pending(1, 0).hash), Some(&pending(1, 0)));
    }

    /// A queue still holding txs that became stale fills up: 601 until they are removed.
    #[test]
    fn insert_refuses_when_the_sender_queue_is_full() {
        let config = MempoolConfig {
            max_per_sender: 3,
            ..roomy()
        };
        let mut pool = pool_with(config, (0..3).map(|nonce| pending(1, nonce)));
        // Nonce 0 committed elsewhere; nonce 3 is inside the window but the queue is full.
        let error = pool.insert(pending(1, 3), 1, 1).unwrap_err();
        assert_eq!(error, MempoolError::SenderQueueFull { max_per_sender: 3 });
        assert_eq!(error.code(), 601);
        assert_eq!(pool.insert(pending(2, 0), 0, 1), Ok(()));

        assert_eq!(pool.remove_committed(&[], 1, committed(&[(1, 1)])), 1);
        assert_eq!(pool.insert(pending(1, 3), 1, 1), Ok(()));
        check_invariants(&pool);
    }

    /// The pool refuses the tx that would exceed max_txs: 600.
    #[test]
    fn insert_refuses_beyond_max_txs_with_pool_full() {
        let config = MempoolConfig {
            max_txs: 2,
            ..roomy()
        };
        let mut pool = pool_with(config.clone(), [pending(1, 0), pending(2, 0)]);
        let error = pool.insert(pending(3, 0), 0, 1).unwrap_err();
        assert_eq!(
            error,
            MempoolError::PoolFull {
                max_txs: 2,
                max_bytes: config.max_bytes
            }
        );
        assert_eq!(error.code(), 600);
        assert_eq!(pool.len(), 2);
    }

    /// The pool refuses the tx whose bytes would exceed max_bytes, and accepts one that fits.
    #[test]
    fn insert_refuses_beyond_max_bytes_with_pool_full() {
        let config = MempoolConfig {
            max_bytes: 250,
            ..roomy()
        };
        let mut pool = pool_with(config.clone(), [pending(1, 0), pending(2, 0)]);
        let error = pool.insert(with_len(pending(3, 0), 51), 0, 1).unwrap_err();
        assert_eq!(
            error,
            MempoolError::PoolFull {
                max_txs: config.max_txs,
                max_bytes: 250
            }
        );
        assert_eq!(pool.insert(with_len(pending(3, 0), 50), 0, 1), Ok(()));
        assert_eq!(pool.bytes(), 250);
        check_invariants(&pool);
    }

    /// With several faults at once, the first check in the documented order reports.
    #[test]
    fn insert_checks_run_in_documented_order() {
        let config = MempoolConfig {
            max_txs: 2,
            max_bytes: 10_000,
            max_per_sender: 2,
        };
        let mut pool = Mempool::new(config);
        assert_eq!(pool.insert(with_expiry(pending(1, 1), 5), 1, 1), Ok(()));
        assert_eq!(pool.insert(pending(1, 2), 1, 1), Ok(()));
        // Pool and queue are full from here on; committed nonce moves to 2 (nonce 1 stale).
        let old = with_expiry(pending(1, 1), 5);
        assert_eq!(
            pool.insert(old, 2, 9),
            Err(MempoolError::AlreadyPending),
            "AlreadyPending before Expired"
        );
        let expired_low = with_expiry(with_variant(pending(1, 1), 1), 5);
        assert_eq!(
            pool.insert(expired_low, 2, 9).map_err(|e| e.name()),
            Err("Expired"),
            "Expired before NonceTooLow"
        );
        assert_eq!(
            pool.insert(with_variant(pending(1, 1), 1), 2, 1)
                .map_err(|e| e.name()),
            Err("NonceTooLow"),
            "NonceTooLow before NonceTaken"
        );
        assert_eq!(
            pool.insert(pending(1, 4), 2, 1).map_err(|e| e.name()),
            Err("NonceTooHigh"),
            "NonceTooHigh before SenderQueueFull"
        );
        assert_eq!(
            pool.insert(with_variant(pending(1, 2), 1), 2, 1)
                .map_err(|e| e.name()),
            Err("NonceTaken"),
            "NonceTaken before SenderQueueFull"
        );
        assert_eq!(
            pool.insert(pending(1, 3), 2, 1).map_err(|e| e.name()),
            Err("SenderQueueFull"),
            "SenderQueueFull before PoolFull"
        );
        assert_eq!(
            pool.insert(pending(2, 0), 0, 1).map_err(|e| e.name()),
            Err("PoolFull")
        );
        assert_eq!((pool.len(), pool.bytes(), pool.senders()), (2, 200, 1));
        check_invariants(&pool);
    }

    /// Accepted txs are findable by hash and counted; rejected ones leave no trace.
    #[test]
    fn insert_counts_accepted_txs_and_rejections_change_nothing() {
        let mut pool = Mempool::new(roomy());
        assert!(pool.is_empty());
        assert_eq!(pool.insert(with_len(pending(1, 0), 30), 0, 1), Ok(()));
        assert_eq!(pool.insert(with_len(pending(1, 1), 20), 0, 1), Ok(()));
        assert_eq!(pool.insert(with_len(pending(2, 0), 10), 0, 1), Ok(()));
        assert!(pool.insert(with_variant(pending(2, 0), 1), 0, 1).is_err());
        assert!(pool.insert(with_expiry(pending(3, 0), 0), 0, 1).is_err());
        assert_eq!((pool.len(), pool.bytes(), pool.senders()), (3, 60, 2));
        assert!(pool.contains(&pending(1, 1).hash));
        assert!(!pool.contains(&pending(3, 0).hash));
        assert_eq!(
            pool.get(&pending(2, 0).hash).map(|tx| tx.bytes.len()),
            Some(10)
        );
        assert_eq!(pool.get(&with_variant(pending(2, 0), 1).hash), None);
        check_invariants(&pool);
    }

    // --- select --------------------------------------------------------------------------

    /// Only the consecutive run from the committed nonce is eligible; txs after a gap wait.
    #[test]
    fn select_takes_consecutive_nonces_and_stops_at_a_gap() {
        let txs = [0, 1, 2, 4, 5].map(|nonce| pending(1, nonce));
        let pool = pool_with(roomy(), txs);
        let selected = pool.select(100, usize::MAX, 1, committed(&[]));
        assert_eq!(picked(&selected), [(1, 0), (1, 1), (1, 2)]);
    }

    /// Txs below the committed nonce (not yet removed) are skipped; the run starts at it.
    #[test]
    fn select_starts_at_the_committed_nonce() {
        let pool = pool_with(roomy(), (0..4).map(|nonce| pending(1, nonce)));
        let selected = pool.select(100, usize::MAX, 1, committed(&[(1, 2)]));
        assert_eq!(picked(&selected), [(1, 2), (1, 3)]);
        // A sender whose committed nonce is past a gap-free start has nothing eligible.
        let selected = pool.select(100, usize::MAX, 1, committed(&[(1, 7)]));
        assert!(selected.is_empty());
    }

    /// A busy sender cannot starve others: B's single tx is in the first round, right after
    /// A's first tx, and A's remaining 99 follow.
    #[test]
    fn select_is_round_robin_across_senders() {
        let a = (0..100).map(|nonce| pending(0xA, nonce));
        let pool = pool_with(roomy(), a.chain([pending(0xB, 0)]));
        let selected = pool.select(1_000, usize::MAX, 1, committed(&[]));
        assert_eq!(selected.len(), 101);
        assert_eq!(picked(&selected[..3]), [(0xA, 0), (0xB, 0), (0xA, 1)]);
        let a_nonces: Vec<u64> = selected
            .iter()
            .filter(|tx| tx.signer == account(0xA))
            .map(|tx| tx.nonce)
            .collect();
        assert_eq!(a_nonces, (0..100).collect::<Vec<_>>());
    }

    /// Rounds visit senders in the order they entered the pool, not by account id; a sender
    /// whose queue emptied re-enters at the back.
    #[test]
    fn select_visits_senders_in_arrival_order_and_reentry_goes_last() {
        let mut pool = pool_with(
            roomy(),
            [pending(3, 0), pending(1, 0), pending(2, 0), pending(3, 1)],
        );
        let selected = pool.select(100, usize::MAX, 1, committed(&[]));
        assert_eq!(picked(&selected), [(3, 0), (1, 0), (2, 0), (3, 1)]);

        let included = [pending(3, 0).hash, pending(3, 1).hash];
        assert_eq!(pool.remove_committed(&included, 2, committed(&[(3, 2)])), 2);
        assert_eq!(pool.insert(pending(3, 2), 2, 2), Ok(()));
        let selected = pool.select(100, usize::MAX, 2, committed(&[(3, 2)]));
        assert_eq!(picked(&selected), [(1, 0), (2, 0), (3, 2)]);
        check_invariants(&pool);
    }

    /// max_txs caps the selection, cutting the last round short in arrival order.
    #[test]
    fn select_respects_max_txs() {
        let txs = (1..=3).flat_map(|signer| (0..3).map(move |nonce| pending(signer, nonce)));
        let pool = pool_with(roomy(), txs);
        let selected = pool.select(5, usize::MAX, 1, committed(&[]));
        assert_eq!(picked(&selected), [(1, 0), (2, 0), (3, 0), (1, 1), (2, 1)]);
        assert!(pool.select(0, usize::MAX, 1, committed(&[])).is_empty());
    }

    #[test]
    fn a_selection_filled_in_its_first_round_looks_at_no_later_sender() {
        let txs = (1..=50).map(|signer| pending(signer, 0));
        let pool = pool_with(roomy(), txs);
        let asked = std::cell::Cell::new(0u32);
        let selected = pool.select_from(10, usize::MAX, 1, |_| {
            asked.set(asked.get() + 1);
            Some(0)
        });
        assert_eq!(selected.len(), 10);
        assert_eq!(asked.get(), 10, "senders 11 to 50 are never looked at");
    }

    /// A tx that does not fit max_bytes ends its sender's selection (its later nonces cannot
    /// go without it), while other senders' smaller txs still fit.
    #[test]
    fn select_respects_max_bytes_and_lets_smaller_txs_fit() {
        let pool = pool_with(
            roomy(),
            [
                with_len(pending(1, 0), 60),
                with_len(pending(1, 1), 60),
                with_len(pending(1, 2), 1),
                with_len(pending(2, 0), 10),
                with_len(pending(2, 1), 10),
                with_len(pending(2, 2), 10),
            ],
        );
        let selected = pool.select(100, 100, 1, committed(&[]));
        assert_eq!(picked(&selected), [(1, 0), (2, 0), (2, 1), (2, 2)]);
        assert_eq!(selected.iter().map(|tx| tx.bytes.len()).sum::<usize>(), 90);
        // Exactly max_bytes fits.
        let selected = pool.select(100, 70, 1, committed(&[]));
        assert_eq!(picked(&selected), [(1, 0), (2, 0)]);
    }

    /// An expired tx is skipped and, like a gap, ends its sender's run; other senders go on.
    #[test]
    fn select_skips_expired_txs_and_ends_that_senders_run() {
        let pool = pool_with(
            roomy(),
            [
                pending(1, 0),
                with_expiry(pending(1, 1), 5),
                pending(1, 2),
                with_expiry(pending(2, 0), 5),
                pending(3, 0),
                with_expiry(pending(3, 1), 6),
            ],
        );
        let at_6 = pool.select(100, usize::MAX, 6, committed(&[]));
        assert_eq!(picked(&at_6), [(1, 0), (3, 0), (3, 1)]);
        let at_5 = pool.select(100, usize::MAX, 5, committed(&[]));
        assert_eq!(
            picked(&at_5),
            [(1, 0), (2, 0), (3, 0), (1, 1), (3, 1), (1, 2)]
        );
    }

    /// Selection is a read: the pool is unchanged and selecting again gives the same answer.
    #[test]
    fn select_removes_nothing() {
        let pool = pool_with(roomy(), (0..5).map(|nonce| pending(1, nonce)));
        let first = pool.select(3, usize::MAX, 1, committed(&[]));
        let second = pool.select(3, usize::MAX, 1, committed(&[]));
        assert_eq!(first, second);
        assert_eq!((pool.len(), pool.bytes()), (5, 500));
        check_invariants(&pool);
    }

    /// At the scale of a large block, one tx from each of 20 000 senders comes out whole
    /// and in arrival order (the timing is a benchmark's business, not a test's).
    #[test]
    fn select_covers_twenty_thousand_senders_in_arrival_order() {
        let mut pool = Mempool::new(roomy());
        let signers: Vec<AccountId> = (0..20_000u32)
            .map(|i| {
                let mut id = [0u8; 32];
                // Reversed so that arrival order and account order disagree.
                id[..4].copy_from_slice(&(u32::MAX - i).to_be_bytes());
                AccountId(id)
            })
            .collect();
        for (i, signer) in signers.iter().enumerate() {
            let mut hash = signer.0;
            hash[31] = 1;
            let tx = PendingTx {
                hash,
                signer: *signer,
                nonce: 0,
                valid_until_height: None,
                bytes: Arc::from(vec![0u8; 1 + i % 7]),
            };
            pool.insert(tx, 0, 1).expect("admissible");
        }
        let selected = pool.select(20_000, usize::MAX, 1, |_| 0);
        let order: Vec<AccountId> = selected.iter().map(|tx| tx.signer).collect();
        assert_eq!(order, signers);
        assert_eq!(
            selected.iter().map(|tx| tx.bytes.len()).sum::<usize>(),
            pool.bytes()
        );
    }

    // --- remove_committed and clear ------------------------------------------------------

    /// After a block: included txs, txs below the new committed nonces and expired txs go;
    /// the rest stays, with exact counts.
    #[test]
    fn remove_committed_drops_included_stale_and_expired_and_keeps_the_rest() {
        let mut pool = pool_with(
            roomy(),
            [
                with_len(pending(1, 0), 10),                 // included
                with_len(pending(1, 1), 11),                 // included
                with_len(pending(1, 2), 12),                 // kept
                with_len(pending(2, 0), 20),                 // stale: committed elsewhere
                with_len(pending(2, 1), 21),                 // kept
                with_expiry(with_len(pending(3, 0), 30), 4), // expired at height 5
                with_expiry(with_len(pending(3, 1), 31), 5), // kept: still valid at 5
                with_len(pending(4, 3), 40),                 // kept: waits for a gap
            ],
        );
        assert_eq!((pool.len(), pool.bytes(), pool.senders()), (8, 175, 4));

        let included = [pending(1, 0).hash, pending(1, 1).hash];
        let removed = pool.remove_committed(&included, 5, committed(&[(1, 2), (2, 1)]));
        assert_eq!(removed, 4);
        assert_eq!(
            (pool.len(), pool.bytes(), pool.senders()),
            (4, 12 + 21 + 31 + 40, 4)
        );
        for gone in [(1, 0), (1, 1), (2, 0), (3, 0)] {
            assert!(!pool.contains(&pending(gone.0, gone.1).hash), "{gone:?}");
        }
        for kept in [(1, 2), (2, 1), (3, 1), (4, 3)] {
            assert!(pool.contains(&pending(kept.0, kept.1).hash), "{kept:?}");
        }
        check_invariants(&pool);
    }

    /// A sender whose every tx is gone leaves the pool; unknown hashes and a second removal
    /// of the same block change nothing.
    #[test]
    fn remove_committed_forgets_emptied_senders_and_ignores_unknown_hashes() {
        let mut pool = pool_with(roomy(), [pending(1, 0), pending(2, 0)]);
        let included = [pending(1, 0).hash, pending(9, 9).hash];
        assert_eq!(pool.remove_committed(&included, 2, committed(&[(1, 1)])), 1);
        assert_eq!((pool.len(), pool.senders()), (1, 1));
        assert_eq!(pool.remove_committed(&included, 2, committed(&[(1, 1)])), 0);
        assert_eq!((pool.len(), pool.bytes(), pool.senders()), (1, 100, 1));
        check_invariants(&pool);
    }

    /// A hash that is both included and expired or stale is removed and counted once.
    #[test]
    fn remove_committed_counts_each_tx_once() {
        let mut pool = pool_with(roomy(), [with_expiry(pending(1, 0), 1), pending(1, 1)]);
        let included = [pending(1, 0).hash, pending(1, 0).hash];
        assert_eq!(pool.remove_committed(&included, 9, committed(&[(1, 2)])), 2);
        assert!(pool.is_empty());
        check_invariants(&pool);
    }

    /// clear empties everything, and the pool works normally afterwards.
    #[test]
    fn clear_removes_everything() {
        let mut pool = pool_with(
            roomy(),
            [pending(1, 0), with_expiry(pending(2, 0), 7), pending(2, 1)],
        );
        pool.clear();
        assert_eq!((pool.len(), pool.bytes(), pool.senders()), (0, 0, 0));
        assert!(pool.is_empty());
        assert!(!pool.contains(&pending(1, 0).hash));
        assert!(pool.select(100, usize::MAX, 1, committed(&[])).is_empty());
        check_invariants(&pool);

        assert_eq!(pool.insert(pending(2, 0), 0, 1), Ok(()));
        assert_eq!(pool.insert(pending(1, 0), 0, 1), Ok(()));
        let selected = pool.select(100, usize::MAX, 1, committed(&[]));
        assert_eq!(picked(&selected), [(2, 0), (1, 0)]);
        check_invariants(&pool);
    }

    // --- property: the pool against a naive model ----------------------------------------

    /// A deliberately naive model: a list of txs in insertion order and the list of senders
    /// in arrival order, every operation a scan.
    #[derive(Default)]
    struct Model {
        txs: Vec<PendingTx>,
        arrival_order: Vec<AccountId>,
    }

    impl Model {
        fn insert(
            &mut self,
            config: &MempoolConfig,
            tx: PendingTx,
            committed_nonce: u64,
            next_height: u64,
        ) -> Result<(), MempoolError> {
            let own: Vec<&PendingTx> = self.txs.iter().filter(|t| t.signer == tx.signer).collect();
            if self.txs.iter().any(|t| t.hash == tx.hash) {
                return Err(MempoolError::AlreadyPending);
            }
            match tx.valid_until_height {
                Some(valid_until_height) if valid_until_height < next_height => {
                    return Err(MempoolError::Expired {
                        valid_until_height,
                        next_height,
                    })
                }
                _ => {}
            }
            if tx.nonce < committed_nonce {
                return Err(MempoolError::NonceTooLow {
                    expected: committed_nonce,
                    found: tx.nonce,
                });
            }
            if tx.nonce >= committed_nonce + config.max_per_sender as u64 {
                return Err(MempoolError::NonceTooHigh {
                    next: committed_nonce,
                    found: tx.nonce,
                    max_ahead: config.max_per_sender as u64,
                });
            }
            if own.iter().any(|t| t.nonce == tx.nonce) {
                return Err(MempoolError::NonceTaken { nonce: tx.nonce });
            }
            if own.len() >= config.max_per_sender {
                return Err(MempoolError::SenderQueueFull {
                    max_per_sender: config.max_per_sender,
                });
            }
            let bytes: usize = self.txs.iter().map(|t| t.bytes.len()).sum();
            if self.txs.len() >= config.max_txs || bytes + tx.bytes.len() > config.max_bytes {
                return Err(MempoolError::PoolFull {
                    max_txs: config.max_txs,
                    max_bytes: config.max_bytes,
                });
            }
            if own.is_empty() {
                self.arrival_order.push(tx.signer);
            }
            self.txs.push(tx);
            Ok(())
        }

        /// Each sender's eligible run first, then rounds over the runs.
        fn select(
            &self,
            max_txs: usize,
            max_bytes: usize,
            next_height: u64,
            committed_nonce: &dyn Fn(&AccountId) -> u64,
        ) -> Vec<PendingTx> {
            let mut runs: Vec<Vec<PendingTx>> = Vec::new();
            for signer in &self.arrival_order {
                let mut run = Vec::new();
                let mut nonce = committed_nonce(signer);
                while let Some(tx) = self
                    .txs
                    .iter()
                    .find(|t| t.signer == *signer && t.nonce == nonce)
                {
                    if tx.is_expired_at(next_height) {
                        break;
                    }
                    run.push(tx.clone());
                    nonce += 1;
                }
                runs.push(run);
            }
            let mut done = vec![false; runs.len()];
            let mut selected = Vec::new();
            let mut bytes = 0;
            for round in 0.. {
                let mut added = false;
                for (run, done) in runs.iter().zip(done.iter_mut()) {
                    if *done || selected.len() == max_txs {
                        continue;
                    }
                    match run.get(round) {
                        Some(tx) if bytes + tx.bytes.len() <= max_bytes => {
                            bytes += tx.bytes.len();
                            selected.push(tx.clone());
                            added = true;
                        }
                        _ => *done = true,
                    }
                }
                if !added {
                    break;
                }
            }
            selected
        }

        fn remove_committed(
            &mut self,
            included: &[Hash],
            next_height: u64,
            committed_nonce: &dyn Fn(&AccountId) -> u64,
        ) -> usize {
            let before = self.txs.len();
            self.txs.retain(|t| {
                !included.contains(&t.hash)
                    && t.nonce >= committed_nonce(&t.signer)
                    && !t.is_expired_at(next_height)
            });
            let txs = &self.txs;
            self.arrival_order
                .retain(|signer| txs.iter().any(|t| t.signer == *signer));
            before - self.txs.len()
        }
    }

    /// A small deterministic generator (64-bit LCG, high bits out).
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % bound
        }
    }

    /// Random inserts, selections, block commits and clears: every result equals the naive
    /// model's, and `len()`, `bytes()` and `senders()` always equal a recount.
    #[test]
    fn random_operations_match_a_naive_model() {
        let config = MempoolConfig {
            max_txs: 20,
            max_bytes: 800,
            max_per_sender: 5,
        };
        for seed in 0..20u64 {
            let mut rng = Lcg(seed);
            let mut pool = Mempool::new(config.clone());
            let mut model = Model::default();
            let mut nonces: BTreeMap<AccountId, u64> = BTreeMap::new();
            let mut next_height = 1u64;
            for step in 0..1_500 {
                let context = format!("seed {seed} step {step}");
                let nonce_of = |nonces: &BTreeMap<AccountId, u64>, signer: &AccountId| {
                    nonces.get(signer).copied().unwrap_or(0)
                };
                match rng.below(100) {
                    0..=68 => {
                        let signer = rng.below(6) as u8;
                        let committed_nonce = nonce_of(&nonces, &account(signer));
                        let nonce = (committed_nonce + rng.below(7)).saturating_sub(1);
                        let mut tx = with_variant(pending(signer, nonce), rng.below(2) as u8);
                        tx = with_len(tx, 1 + rng.below(80) as usize);
                        if rng.below(3) == 0 {
                            tx = with_expiry(tx, next_height + rng.below(6) - 1);
                        }
                        let expected =
                            model.insert(&config, tx.clone(), committed_nonce, next_height);
                        let actual = pool.insert(tx, committed_nonce, next_height);
                        assert_eq!(actual, expected, "{context}");
                    }
                    69..=83 => {
                        let (max_txs, max_bytes) =
                            (rng.below(25) as usize, rng.below(900) as usize);
                        // A proposer may look past the last removal: expired txs still pending.
                        let height = next_height + rng.below(3);
                        let committed_nonce = |signer: &AccountId| nonce_of(&nonces, signer);
                        let actual = pool.select(max_txs, max_bytes, height, committed_nonce);
                        let expected = model.select(max_txs, max_bytes, height, &committed_nonce);
                        assert_eq!(actual, expected, "{context}");
                    }
                    84..=88 => {
                        // Txs the pool never saw commit: nonces move on, nothing is removed
                        // yet, so stale txs hold queue slots until the next block.
                        let signer = account(rng.below(6) as u8);
                        *nonces.entry(signer).or_insert(0) += 1 + rng.below(2);
                    }
                    89..=98 => {
                        // A block: a prefix of a selection is included and height advances.
                        let block = {
                            let committed_nonce = |signer: &AccountId| nonce_of(&nonces, signer);
                            let selected = pool.select(20, 800, next_height, committed_nonce);
                            let keep = rng.below(selected.len() as u64 + 1) as usize;
                            selected[..keep].to_vec()
                        };
                        for tx in &block {
                            nonces.insert(tx.signer, tx.nonce + 1);
                        }
                        next_height += rng.below(3);
                        let included: Vec<Hash> = block.iter().map(|tx| tx.hash).collect();
                        let committed_nonce = |signer: &AccountId| nonce_of(&nonces, signer);
                        let expected =
                            model.remove_committed(&included, next_height, &committed_nonce);
                        let actual = pool.remove_committed(&included, next_height, committed_nonce);
                        assert_eq!(actual, expected, "{context}");
                    }
                    _ => {
                        pool.clear();
                        model = Model::default();
                    }
                }
                check_invariants(&pool);
                assert_eq!(pool.len(), model.txs.len(), "{context}");
                let model_bytes: usize = model.txs.iter().map(|t| t.bytes.len()).sum();
                assert_eq!(pool.bytes(), model_bytes, "{context}");
                assert_eq!(pool.senders(), model.arrival_order.len(), "{context}");
                assert!(
                    model.txs.iter().all(|t| pool.get(&t.hash) == Some(t)),
                    "{context}"
                );
            }
        }
    }

    // --- blocks built in steps -------------------------------------------------------------

    /// The open block's next nonce per sender: taken senders continue after what the block
    /// holds, others start at 0.
    fn next_in_block(nonces: &[(u8, Option<u64>)]) -> impl Fn(&AccountId) -> Option<u64> {
        let nonces: BTreeMap<AccountId, Option<u64>> = nonces
            .iter()
            .map(|&(signer, nonce)| (account(signer), nonce))
            .collect();
        move |signer| nonces.get(signer).copied().unwrap_or(Some(0))
    }

    #[test]
    fn taken_txs_stay_pending_and_are_not_taken_twice() {
        let mut pool = pool_with(roomy(), [pending(1, 0), pending(1, 1), pending(2, 0)]);
        let first = pool.take(2, usize::MAX, 1, next_in_block(&[]));
        assert_eq!(picked(&first), vec![(1, 0), (2, 0)]);
        check_invariants(&pool);
        assert_eq!((pool.len(), pool.included_len()), (3, 2));
        assert!(pool.contains(&pending(1, 0).hash));
        assert_eq!(pool.get(&pending(2, 0).hash), Some(&pending(2, 0)));
        // The same bytes again, or another tx for a nonce the block holds, are refused.
        assert_eq!(
            pool.insert(pending(1, 0), 0, 1),
            Err(MempoolError::AlreadyPending)
        );
        assert_eq!(
            pool.insert(with_variant(pending(2, 0), 9), 0, 1),
            Err(MempoolError::NonceTaken { nonce: 0 })
        );
        // The next step continues each sender after the block's nonce.
        let second = pool.take(
            10,
            usize::MAX,
            1,
            next_in_block(&[(1, Some(1)), (2, Some(1))]),
        );
        assert_eq!(picked(&second), vec![(1, 1)]);
        check_invariants(&pool);
        assert!(pool
            .take(
                10,
                usize::MAX,
                1,
                next_in_block(&[(1, Some(2)), (2, Some(1))])
            )
            .is_empty());
    }

    #[test]
    fn a_sender_done_for_the_block_contributes_nothing_more() {
        let mut pool = pool_with(roomy(), [pending(1, 0), pending(1, 1), pending(2, 0)]);
        let taken = pool.take(10, usize::MAX, 1, next_in_block(&[(1, None)]));
        assert_eq!(picked(&taken), vec![(2, 0)]);
        check_invariants(&pool);
    }

    #[test]
    fn committing_drops_included_txs_and_releasing_puts_them_back() {
        let mut pool = pool_with(
            roomy(),
            [
                pending(1, 0),
                with_expiry(pending(1, 1), 5),
                pending(2, 0),
                pending(3, 0),
            ],
        );
        let taken = pool.take(10, usize::MAX, 1, next_in_block(&[]));
        assert_eq!(picked(&taken), vec![(1, 0), (2, 0), (3, 0), (1, 1)]);
        // Abandoned: everything is queued again, in the same selection order.
        pool.release_included();
        check_invariants(&pool);
        assert_eq!(pool.included_len(), 0);
        assert_eq!(
            picked(&pool.select(10, usize::MAX, 1, committed(&[]))),
            vec![(1, 0), (2, 0), (3, 0), (1, 1)]
        );
        // Taken again and committed: only what is left stays.
        let taken = pool.take(2, usize::MAX, 1, next_in_block(&[]));
        let hashes: Vec<Hash> = taken.iter().map(|tx| tx.hash).collect();
        let removed = pool.remove_committed(&hashes, 2, committed(&[(1, 1), (2, 1)]));
        assert_eq!(removed, 2);
        check_invariants(&pool);
        assert_eq!((pool.len(), pool.included_len()), (2, 0));
        assert_eq!(
            picked(&pool.select(10, usize::MAX, 2, committed(&[(1, 1), (2, 1)]))),
            vec![(1, 1), (3, 0)]
        );
        pool.take(10, usize::MAX, 2, next_in_block(&[(1, Some(1))]));
        pool.clear();
        check_invariants(&pool);
        assert!(pool.is_empty());
    }

    #[test]
    fn released_senders_get_their_place_back_before_later_arrivals() {
        let mut pool = pool_with(roomy(), [pending(1, 0), pending(2, 0)]);
        let enqueued = pool.enqueued();
        pool.take(10, usize::MAX, 1, next_in_block(&[]));
        pool.insert(pending(3, 0), 0, 1).expect("a later arrival");
        assert_ne!(pool.enqueued(), enqueued);
        pool.release_included();
        check_invariants(&pool);
        assert_eq!(
            picked(&pool.select(10, usize::MAX, 1, committed(&[]))),
            vec![(1, 0), (2, 0), (3, 0)]
        );
    }
}
