//! The application boundary (SPEC §1): an ABCI++-shaped interface between a consensus
//! driver and the state machine. Transactions cross it as opaque bytes; height, time and
//! proposer come from the driver. The single sequencer (`sequencer.rs`) is one driver; a
//! BFT engine would be another, using the same calls.
//!
//! `AgoraApp` implements it over the contract, the in-memory `StateTree` and the RocksDB
//! `Store`. `finalize_block` executes and stages; `commit` writes the staged block in one
//! synced batch. Re-running `finalize_block` for the same height (say after a failed
//! commit) first rolls the staged tree changes back, so it is idempotent.
//!
//! A proposer may also execute the block it is building as transactions arrive
//! (optimistic execution): `begin_block`, then `deliver_txs` any number of times, then
//! `end_block` stages exactly what `finalize_block` would for the same transactions, so
//! only the roots, header and synced write remain when the block is sealed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use agora_contract::block::{apply_tx_with, begin_block, init_chain, BlockError, Genesis, Receipt};
use agora_contract::bounded::Label;
use agora_contract::commit::{
    list_leaf, value_hash, BucketJob, ListRoot, PreparedLeaf, StateProof, StateTree,
};
use agora_contract::context::BlockCtx;
use agora_contract::event::Event;
use agora_contract::header::SignedHeader;
use agora_contract::ids::{sha256, AccountId, Hash};
use agora_contract::state::{decode_record, Changes, WriteSet};
use agora_contract::tx::{SignedTx, MAX_TX_BYTES};
use agora_contract::TxError;
use agora_contract::{sig, wallet};

use crate::accounts::AccountCache;
use crate::store::{
    BlockContents, PreparedBatch, StagePart, Store, StoreError, StoredBlock, RECEIPTS_PER_ENTRY,
};

/// What the application reports about itself (ABCI `Info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    pub chain_id: Label,
    /// Last committed height, `None` before `init_chain`.
    pub height: Option<u64>,
    /// State root after the last committed block.
    pub state_root: Hash,
    /// Hash of the last committed header.
    pub last_header_hash: Hash,
    pub last_time_ms: u64,
}

/// A transaction that passed `check_tx`.
#[derive(Clone, Debug)]
pub struct CheckedTx {
    pub hash: Hash,
    pub signer: AccountId,
    pub nonce: u64,
    pub valid_until_height: Option<u64>,
    pub bytes: Arc<[u8]>,
    /// The signer's nonce in committed state when checked.
    pub committed_nonce: u64,
}

/// A block the driver decided on, to execute (ABCI `FinalizeBlock` request).
#[derive(Clone, Debug)]
pub struct ProposedBlock {
    pub height: u64,
    pub time_ms: u64,
    pub proposer: AccountId,
    pub txs: Vec<Arc<[u8]>>,
}

/// The execution result of a block, staged until `commit`.
#[derive(Clone, Debug)]
pub struct FinalizedBlock {
    pub height: u64,
    pub time_ms: u64,
    /// Shared, so the staged copy and the driver's are one list.
    pub receipts: Arc<[Receipt]>,
    pub hook_events: Vec<Event>,
    pub tx_root: Hash,
    pub receipts_root: Hash,
    pub hook_events_hash: Hash,
    pub state_root: Hash,
}

/// Failures of the application boundary.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("block rejected by the state machine: {0}")]
    Block(#[from] BlockError),
    #[error("genesis rejected: {0}")]
    Genesis(String),
    #[error("chain is already initialised")]
    AlreadyInitialised,
    #[error("chain is not initialised")]
    NotInitialised,
    #[error("no block is open")]
    NothingOpen,
    #[error("nothing staged for height {0}")]
    NothingStaged(u64),
    #[error("header does not match the staged block: {0}")]
    HeaderMismatch(&'static str),
    #[error("state root {computed} rebuilt from the store differs from the header's {stored} at height {height}")]
    RootMismatch {
        height: u64,
        computed: String,
        stored: String,
    },
}

/// The ABCI++-shaped interface a consensus driver calls.
pub trait Application {
    /// Chain id, last committed height, state root and header hash.
    fn info(&self) -> Info;
    /// Executes genesis and stages it as height 0; the driver then commits its header.
    fn init_chain(&mut self, genesis: &Genesis) -> Result<FinalizedBlock, AppError>;
    /// Stateless checks plus the committed nonce: may this transaction enter a mempool?
    fn check_tx(&self, bytes: &[u8], next_height: u64) -> Result<CheckedTx, TxError>;
    /// Orders and trims candidate transactions into a block body within `max_bytes`.
    fn prepare_proposal(&self, candidates: Vec<CheckedTx>, max_bytes: usize) -> Vec<CheckedTx>;
    /// Executes a decided block against committed state and stages the result.
    fn finalize_block(&mut self, block: &ProposedBlock) -> Result<FinalizedBlock, AppError>;
    /// Opens a block for optimistic execution (drops a block already open): records the
    /// new chain head and runs the block's hooks at its time.
    fn begin_block(
        &mut self,
        height: u64,
        time_ms: u64,
        proposer: AccountId,
    ) -> Result<(), AppError>;
    /// Executes transactions in the open block, after those delivered before; returns
    /// their receipts.
    fn deliver_txs(&mut self, txs: &[Arc<[u8]>]) -> Result<&[Receipt], AppError>;
    /// Closes the open block and stages it, as `finalize_block` of the same transactions.
    fn end_block(&mut self) -> Result<FinalizedBlock, AppError>;
    /// Writes the staged block with its signed header in one atomic, synced batch.
    fn commit(&mut self, header: SignedHeader) -> Result<(), AppError>;
    /// A state value at a height, with its proof when asked.
    fn query(&self, key: &[u8], height: Option<u64>, prove: bool) -> Result<QueryResult, AppError>;
}

/// Answer to [`Application::query`].
#[derive(Clone, Debug)]
pub struct QueryResult {
    pub height: u64,
    pub value: Option<Vec<u8>>,
    pub proof: Option<StateProof>,
    pub header: SignedHeader,
}

/// A block being executed in steps: its context, writes, receipts and transactions so
/// far, and the value hashes the tree held before the block for each key it wrote (the
/// tree's leaves follow the block's writes as they happen).
struct OpenBlock {
    ctx: BlockCtx,
    writes: WriteSet,
    hook_events: Vec<Event>,
    receipts: Vec<Receipt>,
    /// The tx root and the receipts root so far, built as the steps add to them.
    tx_list: ListRoot,
    receipt_list: ListRoot,
    /// The receipts borsh-encoded: hashed for the leaves, stored as they are.
    encoded_receipts: Vec<Vec<u8>>,
    txs: Vec<Vec<u8>>,
    rollback: HashMap<Vec<u8>, Option<Hash>>,
    /// Parts of the block's height-keyed records staged in the store so far (blocks
    /// after genesis stage theirs as they execute; genesis writes all at its commit).
    parts: u32,
    /// Receipt entries (`RECEIPTS_PER_ENTRY` receipts each) staged so far.
    staged_receipt_entries: u32,
}

/// Smallest write set worth hashing on every core.
const PARALLEL_HASH_MIN_KEYS: usize = 256;

/// What a staged block needs at commit time.
struct Staged {
    finalized: FinalizedBlock,
    txs: Vec<Vec<u8>>,
    /// The block's batch without its pages, record and head (built with the roots).
    batch: PreparedBatch,
    writes: WriteSet,
    pages: Vec<(u8, u16, Vec<Hash>)>,
    /// Value hashes the tree held before the block, to roll it back.
    rollback: Vec<(Vec<u8>, Option<Hash>)>,
    /// Whether its height-keyed records are staged in the store (to delete if dropped).
    staged_records: bool,
}

/// The parts of the application any thread may use: the store, the chain id and the
/// signature cache that lets `finalize_block` skip signatures `check_tx` verified.
pub struct AppShared {
    pub store: Arc<Store>,
    pub chain_id: Label,
    verified: Mutex<HashSet<Hash>>,
    /// Committed account records (nonces for admission, records for execution).
    accounts: AccountCache,
    /// Parsed public keys by account, for batch verification.
    keys: Mutex<HashMap<AccountId, Option<sig::PublicKey>>>,
}

/// Bound on remembered public keys (a parsed key is ~200 bytes: ~16 MiB at this bound);
/// when full the cache starts over.
const PUBLIC_KEY_CACHE_MAX: usize = 1 << 16;

/// Batch weights: 128 bits each from the operating system's generator, drawn after the
/// signatures are fixed, so no signer can aim a bad signature at the weights.
fn random_weights(count: usize) -> Vec<u128> {
    let mut bytes = vec![0u8; count.saturating_mul(16)];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes
        .chunks_exact(16)
        .map(|chunk| u128::from_le_bytes(chunk.try_into().unwrap_or_default()))
        .collect()
}

/// Bound on remembered verified signatures; when full the cache starts over, which only
/// costs re-verification.
const VERIFIED_CACHE_MAX: usize = 1 << 20;

impl AppShared {
    /// Stateless checks (size, canonical decoding, strict signature, chain id, expiry
    /// against `next_height`) and the committed nonce (too-low nonces are refused).
    pub fn check_tx(&self, bytes: &[u8], next_height: u64) -> Result<CheckedTx, TxError> {
        let size = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        if size > MAX_TX_BYTES {
            return Err(TxError::TxTooLarge {
                size_bytes: size,
                max_bytes: MAX_TX_BYTES,
            });
        }
        let tx = SignedTx::decode(bytes)?;
        tx.check_stateless(&self.chain_id, next_height)?;
        let committed_nonce = self.load_nonce(&tx.tx.signer)?;
        self.checked(tx, bytes, committed_nonce)
    }

    /// [`AppShared::check_tx`] for many transactions, with their signatures verified as
    /// one batch equation (one by one only if the batch fails). Accepts and rejects exactly
    /// what `check_tx` does (see `agora_contract::sig`); results are in input order.
    pub fn check_txs(&self, txs: &[&[u8]], next_height: u64) -> Vec<Result<CheckedTx, TxError>> {
        let decoded: Vec<Result<SignedTx, TxError>> =
            txs.iter().map(|bytes| SignedTx::decode(bytes)).collect();
        let prepared: Vec<Option<sig::Prepared>> = decoded
            .iter()
            .map(|tx| {
                let tx = tx.as_ref().ok()?;
                let key = self.public_key(&tx.tx.signer)?;
                sig::prepare_with_key(&key, &tx.tx.signing_message(), &tx.signature)
            })
            .collect();
        let candidates: Vec<sig::Prepared> = prepared.iter().flatten().cloned().collect();
        let weights = random_weights(candidates.len());
        let batch_valid = sig::verify_batch(&candidates, &weights);
        let passed: Vec<Result<SignedTx, TxError>> = decoded
            .into_iter()
            .zip(prepared)
            .map(|(tx, prepared)| {
                let tx = tx?;
                let signature_valid =
                    prepared.is_some_and(|prepared| batch_valid || prepared.verify());
                if !signature_valid {
                    return Err(TxError::BadSignature);
                }
                tx.check_after_signature(&self.chain_id, next_height)?;
                Ok(tx)
            })
            .collect();
        let signers: Vec<AccountId> = passed.iter().flatten().map(|tx| tx.tx.signer).collect();
        let mut nonces = self.load_nonces(&signers).into_iter();
        passed
            .into_iter()
            .zip(txs)
            .map(|(tx, bytes)| {
                let tx = tx?;
                let committed_nonce = nonces.next().ok_or(TxError::StateCorrupt)??;
                self.checked(tx, bytes, committed_nonce)
            })
            .collect()
    }

    /// The signer's parsed public key (`None` if it fails the encoding rules), decoded
    /// once per account.
    fn public_key(&self, signer: &AccountId) -> Option<sig::PublicKey> {
        if let Some(key) = self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(signer)
        {
            return *key;
        }
        let key = sig::PublicKey::parse(&signer.0);
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= PUBLIC_KEY_CACHE_MAX {
            keys.clear();
        }
        keys.insert(*signer, key);
        key
    }

    /// The nonce check and bookkeeping after the stateless checks passed.
    fn checked(
        &self,
        tx: SignedTx,
        bytes: &[u8],
        committed_nonce: u64,
    ) -> Result<CheckedTx, TxError> {
        let hash = sha256(&[bytes]);
        if tx.tx.nonce < committed_nonce {
            return Err(TxError::BadNonce {
                expected: committed_nonce,
                found: tx.tx.nonce,
            });
        }
        self.remember_verified(hash);
        Ok(CheckedTx {
            hash,
            signer: tx.tx.signer,
            nonce: tx.tx.nonce,
            valid_until_height: tx.tx.valid_until_height,
            bytes: Arc::from(bytes),
            committed_nonce,
        })
    }

    fn remember_verified(&self, hash: Hash) {
        let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= VERIFIED_CACHE_MAX {
            cache.clear();
        }
        cache.insert(hash);
    }

    /// Takes the verified flags for a block's transactions out of the cache.
    fn take_verified(&self, hashes: &[Hash]) -> Vec<bool> {
        let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        hashes.iter().map(|hash| cache.remove(hash)).collect()
    }

    /// The committed nonce of an account (0 if it has no record).
    pub fn committed_nonce(&self, account: &AccountId) -> u64 {
        self.load_nonce(account).unwrap_or(0)
    }

    /// The committed nonce, from the in-memory cache or the store.
    fn load_nonce(&self, account: &AccountId) -> Result<u64, TxError> {
        let record = self.accounts.get_or_load(account, || {
            let key = agora_contract::state::keys::account(account);
            let stored = self
                .store
                .state_get(&key)
                .map_err(|_| TxError::StateCorrupt)?;
            decode_record::<wallet::Account>(stored.as_deref())
        })?;
        Ok(record.unwrap_or_default().nonce)
    }

    /// [`AppShared::load_nonce`] for many accounts, in order; the uncached ones are read
    /// from the store as one batch (at 10^6 accounts, one read per transaction was a seventh
    /// of admission's time).
    fn load_nonces(&self, accounts: &[AccountId]) -> Vec<Result<u64, TxError>> {
        match self.account_values(accounts) {
            Ok(values) => values
                .iter()
                .map(|value| match value {
                    AccountValue::Held(record) => Ok(record.nonce),
                    AccountValue::Stored(bytes) => {
                        Ok(wallet::account_from_record(bytes.as_deref())?.nonce)
                    }
                })
                .collect(),
            Err(_) => accounts
                .iter()
                .map(|_| Err(TxError::StateCorrupt))
                .collect(),
        }
    }

    /// The committed records of `accounts`, in order: held ones from the cache, the rest
    /// read from the store as one batch and held from then on if they decode.
    fn account_values(&self, accounts: &[AccountId]) -> Result<Vec<AccountValue>, StoreError> {
        let lookup = self.accounts.lookup(accounts);
        let missing: Vec<AccountId> = accounts
            .iter()
            .zip(&lookup.cached)
            .filter(|(_, cached)| cached.is_none())
            .map(|(account, _)| *account)
            .collect();
        let loaded = if missing.is_empty() {
            Vec::new()
        } else {
            let keys: Vec<Vec<u8>> = missing
                .iter()
                .map(agora_contract::state::keys::account)
                .collect();
            self.store.state_multi_get(&keys)?
        };
        self.accounts.remember(
            &lookup,
            missing.iter().zip(&loaded).filter_map(|(account, value)| {
                let record = decode_record::<wallet::Account>(value.as_deref()).ok()??;
                Some((*account, record))
            }),
        );
        let mut loaded = loaded.into_iter();
        Ok(lookup
            .cached
            .iter()
            .map(|cached| match cached {
                Some(record) => AccountValue::Held(*record),
                None => AccountValue::Stored(loaded.next().flatten()),
            })
            .collect())
    }

    /// A value at `height` (latest if `None`), with a proof when `prove`.
    pub fn query(
        &self,
        key: &[u8],
        height: Option<u64>,
        prove: bool,
    ) -> Result<QueryResult, AppError> {
        let head = self.store.head()?.ok_or(AppError::NotInitialised)?;
        let height = height.unwrap_or(head);
        let header = self
            .store
            .header(height)?
            .ok_or(StoreError::MissingHeight(height))?;
        let (value, proof) = if prove || height != head {
            let (value, proof) = self.store.prove_at(key, height)?;
            (value, Some(proof))
        } else {
            (self.store.state_get(key)?, None)
        };
        if let Some(proof) = &proof {
            // The store is checked against its own header before anything is served.
            proof
                .verify_value(&header.header.state_root, key, value.as_deref())
                .map_err(|error| StoreError::Corrupt(format!("proof at {height}: {error}")))?;
        }
        Ok(QueryResult {
            height,
            value,
            proof: if prove { proof } else { None },
            header,
        })
    }
}

/// The committed state with some values read ahead: execution is sequential, so its
/// store reads are the block's critical path; reading the keys a block will certainly
/// touch in batches, on every core, first takes most of them off it. Values are the
/// committed state's either way, so execution cannot tell the difference.
struct PrefetchedView<'a> {
    base: crate::store::StoreView<'a>,
    values: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl agora_contract::state::StateView for PrefetchedView<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.values.get(key) {
            Some(value) => value.clone(),
            None => self.base.get(key),
        }
    }

    fn first_in_range(&self, start: &[u8], end: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        self.base.first_in_range(start, end)
    }
}

/// A committed account record: held by the cache, or as the store has it.
enum AccountValue {
    Held(wallet::Account),
    Stored(Option<Vec<u8>>),
}

/// The account records of the signers and transfer recipients of `txs`: held ones from
/// the account cache, the rest read in sorted batches on every core. Undecodable
/// transactions are skipped (execution reports them).
fn prefetch_accounts(
    shared: &AppShared,
    txs: &[Vec<u8>],
) -> Result<HashMap<Vec<u8>, Option<Vec<u8>>>, AppError> {
    use rayon::prelude::*;
    const BATCH_KEYS: usize = 2048;
    let mut wanted: Vec<AccountId> = txs
        .par_iter()
        .flat_map_iter(|bytes| {
            let tx = SignedTx::decode(bytes).ok();
            let signer = tx.as_ref().map(|tx| tx.tx.signer);
            let recipient = tx.and_then(|tx| match tx.tx.action {
                agora_contract::Action::Transfer { to, .. } => Some(to),
                _ => None,
            });
            signer.into_iter().chain(recipient)
        })
        .collect();
    wanted.par_sort_unstable();
    wanted.dedup();
    let values: Vec<Vec<AccountValue>> = wanted
        .par_chunks(BATCH_KEYS)
        .map(|accounts| shared.account_values(accounts))
        .collect::<Result<_, _>>()?;
    Ok(wanted
        .iter()
        .zip(values.into_iter().flatten())
        .filter_map(|(account, value)| {
            let bytes = match value {
                // A held record was decoded canonically from the stored bytes (or from a
                // committed write), so it encodes back to exactly those bytes. If it could
                // not, the key is left out and execution reads the store.
                AccountValue::Held(record) => Some(borsh::to_vec(&record).ok()?),
                AccountValue::Stored(bytes) => bytes,
            };
            Some((agora_contract::state::keys::account(account), bytes))
        })
        .collect())
}

/// The dirty buckets' roots, on every core.
fn run_bucket_jobs(jobs: &mut [BucketJob<'_>]) {
    use rayon::prelude::*;
    jobs.par_iter_mut().with_min_len(64).for_each(|job| {
        job.run();
    });
}

/// [`StateTree::commit_buckets_with`] on every core.
fn commit_buckets_parallel(tree: &mut StateTree) {
    tree.commit_buckets_with(run_bucket_jobs)
}

/// Puts the tree's leaves back to the value hashes a block's rollback record holds, then
/// commits, so the roots the dropped block's steps computed are not reported as changed
/// by the next block.
fn restore_tree(tree: &mut StateTree, rollback: impl IntoIterator<Item = (Vec<u8>, Option<Hash>)>) {
    for (key, hash) in rollback {
        tree.set_hashed(&key, hash);
    }
    commit_parallel(tree);
}

/// [`StateTree::commit`] with the dirty buckets' roots computed on every core.
pub fn commit_parallel(tree: &mut StateTree) -> (Hash, Vec<(u32, Hash)>) {
    tree.commit_with(run_bucket_jobs)
}

/// Loads every state entry into `tree`, hashing values on every core in chunks while the
/// store is read.
fn rebuild_tree(tree: &mut StateTree, store: &Store) -> Result<(), AppError> {
    use rayon::prelude::*;
    const CHUNK_ENTRIES: usize = 1 << 15;
    let mut entries = store.state_entries();
    loop {
        let chunk: Vec<crate::store::RawEntry> = entries
            .by_ref()
            .take(CHUNK_ENTRIES)
            .collect::<Result<_, _>>()?;
        if chunk.is_empty() {
            return Ok(());
        }
        let leaves: Vec<PreparedLeaf> = chunk
            .par_iter()
            .map(|(key, value)| PreparedLeaf::new(key, value_hash(value)))
            .collect();
        for ((key, _), leaf) in chunk.iter().zip(leaves) {
            tree.set_prepared(key, leaf);
        }
    }
}

/// The records of the accounts a block wrote (`None` for a deleted or undecodable record:
/// the cache forgets the account and reloads from the store).
fn account_records(
    writes: &WriteSet,
) -> impl Iterator<Item = (AccountId, Option<wallet::Account>)> + '_ {
    writes.iter().filter_map(|(key, value)| {
        let (&namespace, id) = key.split_first()?;
        if namespace != agora_contract::state::keys::NS_ACCOUNT {
            return None;
        }
        let account = AccountId(id.try_into().ok()?);
        let record = decode_record::<wallet::Account>(value.as_deref())
            .ok()
            .flatten();
        Some((account, record))
    })
}

/// The application over the contract, the state tree and the store.
pub struct AgoraApp {
    shared: Arc<AppShared>,
    tree: StateTree,
    open: Option<OpenBlock>,
    staged: Option<Staged>,
    last_header_hash: Hash,
    last_height: Option<u64>,
    last_time_ms: u64,
    /// A dropped block whose staged records could not be deleted: the next block deletes
    /// them before it stages its own at the same height.
    undiscarded: Option<u64>,
    /// The last committed block's data, freed when the next block opens.
    retired: Option<Retired>,
}

/// What a committed block leaves to free (see [`Application::commit`] in `AgoraApp`).
struct Retired {
    _block: StoredBlock,
    _writes: WriteSet,
    _rollback: Vec<(Vec<u8>, Option<Hash>)>,
}

impl AgoraApp {
    /// Opens the application over a store. If the store holds a chain, rebuilds the state
    /// tree from it and refuses to start unless the root equals the last header's.
    pub fn open(store: Arc<Store>, chain_id: Label) -> Result<AgoraApp, AppError> {
        let mut tree = StateTree::new();
        let head = store.head()?;
        let mut app = AgoraApp {
            shared: Arc::new(AppShared {
                store: store.clone(),
                chain_id,
                verified: Mutex::new(HashSet::new()),
                accounts: AccountCache::default(),
                keys: Mutex::new(HashMap::new()),
            }),
            tree: StateTree::new(),
            open: None,
            staged: None,
            last_header_hash: [0; 32],
            last_height: None,
            last_time_ms: 0,
            undiscarded: None,
            retired: None,
        };
        if let Some(height) = head {
            rebuild_tree(&mut tree, &store)?;
            let (root, _) = commit_parallel(&mut tree);
            let header = store
                .header(height)?
                .ok_or(StoreError::MissingHeight(height))?
                .header;
            if root != header.state_root {
                return Err(AppError::RootMismatch {
                    height,
                    computed: hex::encode(root),
                    stored: hex::encode(header.state_root),
                });
            }
            if header.chain_id != app.shared.chain_id {
                return Err(AppError::Genesis(format!(
                    "the data dir holds chain {}, not {}",
                    header.chain_id, app.shared.chain_id
                )));
            }
            app.tree = tree;
            app.last_header_hash = header.hash();
            app.last_height = Some(height);
            app.last_time_ms = header.time_ms;
        }
        Ok(app)
    }

    /// The thread-safe half (checks and queries) for the API.
    pub fn shared(&self) -> Arc<AppShared> {
        self.shared.clone()
    }

    /// Number of keys in the state.
    pub fn state_len(&self) -> u64 {
        self.tree.len()
    }

    fn rollback_staged(&mut self) {
        if let Some(staged) = self.staged.take() {
            self.drop_block(
                staged.finalized.height,
                staged.rollback,
                staged.staged_records,
            );
        }
    }

    /// Undoes a block that will not commit: puts the tree's leaves back and, if it staged
    /// records in the store, deletes them.
    fn drop_block(
        &mut self,
        height: u64,
        rollback: impl IntoIterator<Item = (Vec<u8>, Option<Hash>)>,
        staged_records: bool,
    ) {
        restore_tree(&mut self.tree, rollback);
        if staged_records {
            self.discard(height);
        }
    }

    /// Deletes what a dropped block staged in the store. If that fails, the next block
    /// tries again before it stages anything, and fails if it cannot.
    fn discard(&mut self, height: u64) {
        if let Err(error) = self.shared.store.discard_staged(height) {
            tracing::error!(%error, height, "deleting a dropped block's staged records failed");
            self.undiscarded = Some(height);
        }
    }

    /// Sets the tree's leaves to `writes`, remembering for `open` each key's value hash
    /// from before the block.
    fn write_tree(
        tree: &mut StateTree,
        rollback: &mut HashMap<Vec<u8>, Option<Hash>>,
        writes: &WriteSet,
    ) {
        use rayon::prelude::*;
        let prepare = |(key, value): (&Vec<u8>, &Option<Vec<u8>>)| {
            value
                .as_deref()
                .map(|value| PreparedLeaf::new(key, value_hash(value)))
        };
        let leaves: Vec<Option<PreparedLeaf>> = if writes.len() >= PARALLEL_HASH_MIN_KEYS {
            let entries: Vec<_> = writes.iter().collect();
            entries.into_par_iter().map(prepare).collect()
        } else {
            writes.iter().map(prepare).collect()
        };
        for (key, leaf) in writes.keys().zip(leaves) {
            let previous = tree.replace(key, leaf);
            if !rollback.contains_key(key) {
                rollback.insert(key.clone(), previous);
            }
        }
    }

    /// Opens a block whose first writes are `writes` (the head and hooks, or genesis);
    /// a block after genesis stages them, with its hook events, as its part 0.
    fn open_with(
        &mut self,
        ctx: BlockCtx,
        writes: WriteSet,
        hook_events: Vec<Event>,
    ) -> Result<(), AppError> {
        let mut rollback = HashMap::new();
        Self::write_tree(&mut self.tree, &mut rollback, &writes);
        let stages = ctx.height > 0;
        if stages {
            let staged = self.shared.store.stage(&StagePart {
                height: ctx.height,
                part: 0,
                writes: &writes,
                txs: &[],
                receipts: &[],
                first_index: 0,
                hook_events: &hook_events,
                receipt_entries: &[],
                first_entry: 0,
            });
            if let Err(error) = staged {
                self.drop_block(ctx.height, rollback, true);
                return Err(error.into());
            }
        }
        self.open = Some(OpenBlock {
            ctx,
            writes,
            hook_events,
            receipts: Vec::new(),
            tx_list: ListRoot::new(),
            receipt_list: ListRoot::new(),
            encoded_receipts: Vec::new(),
            txs: Vec::new(),
            rollback,
            parts: u32::from(stages),
            staged_receipt_entries: 0,
        });
        Ok(())
    }

    /// Drops the open block, if any, and puts the tree back as it was: its leaves, then a
    /// commit, so the bucket roots its steps computed are not reported as changed by the
    /// next block (whose pages, and whose revert, cover only the keys it wrote).
    pub fn abandon_block(&mut self) {
        if let Some(open) = self.open.take() {
            self.drop_block(open.ctx.height, open.rollback, open.parts > 0);
        }
    }

    /// Stages the open block: roots of its lists and the state tree.
    fn stage_open(&mut self) -> Result<FinalizedBlock, AppError> {
        let open = self.open.take().ok_or(AppError::NothingOpen)?;
        let tree = &mut self.tree;
        let store = &self.shared.store;
        let contents = BlockContents {
            height: open.ctx.height,
            receipts: &open.receipts,
            encoded_receipts: &open.encoded_receipts,
            writes: &open.writes,
            hook_events: &open.hook_events,
            txs: &open.txs,
            staged: open.parts > 0,
            staged_receipt_entries: open.staged_receipt_entries,
        };
        // The list roots cost a hash per level: the steps hashed the rest.
        let (tx_root, receipts_root) = (open.tx_list.root(), open.receipt_list.root());
        // The state root, and beside it most of the block's batch, which needs no root.
        let ((state_root, nodes), prepared) =
            rayon::join(|| commit_parallel(tree), || store.prepare_block(&contents));
        let batch = match prepared {
            Ok(batch) => batch,
            Err(error) => {
                // The block is dropped: its leaves go back as they were.
                self.drop_block(open.ctx.height, open.rollback, open.parts > 0);
                return Err(error.into());
            }
        };
        let pages = crate::store::changed_pages(&nodes, |index| self.tree.node(index));
        let finalized = FinalizedBlock {
            height: open.ctx.height,
            time_ms: open.ctx.time_ms,
            tx_root,
            receipts_root,
            hook_events_hash: agora_contract::header::hook_events_hash(&open.hook_events),
            state_root,
            receipts: Arc::from(open.receipts),
            hook_events: open.hook_events,
        };
        self.staged = Some(Staged {
            finalized: finalized.clone(),
            txs: open.txs,
            batch,
            writes: open.writes,
            pages,
            rollback: open.rollback.into_iter().collect(),
            staged_records: open.parts > 0,
        });
        Ok(finalized)
    }

    /// Undoes every block above `height` (devnet revert). The mempool is the caller's.
    pub fn revert_to(&mut self, height: u64) -> Result<(), AppError> {
        self.abandon_block();
        self.rollback_staged();
        let restored = self.shared.store.revert_to(height)?;
        // The revert deleted whatever a dropped block had left staged.
        self.undiscarded = None;
        self.shared.accounts.clear();
        for (key, value) in &restored {
            self.tree.set(key, value.as_deref());
        }
        let (root, _) = commit_parallel(&mut self.tree);
        let header = self
            .shared
            .store
            .header(height)?
            .ok_or(StoreError::MissingHeight(height))?
            .header;
        if root != header.state_root {
            return Err(AppError::RootMismatch {
                height,
                computed: hex::encode(root),
                stored: hex::encode(header.state_root),
            });
        }
        self.last_header_hash = header.hash();
        self.last_height = Some(height);
        self.last_time_ms = header.time_ms;
        Ok(())
    }
}

impl Application for AgoraApp {
    fn info(&self) -> Info {
        Info {
            chain_id: self.shared.chain_id.clone(),
            height: self.last_height,
            state_root: self.tree.root(),
            last_header_hash: self.last_header_hash,
            last_time_ms: self.last_time_ms,
        }
    }

    fn init_chain(&mut self, genesis: &Genesis) -> Result<FinalizedBlock, AppError> {
        if self.last_height.is_some() {
            return Err(AppError::AlreadyInitialised);
        }
        if genesis.chain_id != self.shared.chain_id {
            return Err(AppError::Genesis(
                "genesis chain id differs from the node's".into(),
            ));
        }
        self.abandon_block();
        self.rollback_staged();
        let writes = init_chain(genesis).map_err(|error| AppError::Genesis(error.to_string()))?;
        let ctx = BlockCtx {
            chain_id: self.shared.chain_id.clone(),
            height: 0,
            time_ms: genesis.genesis_time_ms,
            proposer: AccountId([0; 32]),
        };
        self.open_with(ctx, writes, Vec::new())?;
        self.stage_open()
    }

    fn check_tx(&self, bytes: &[u8], next_height: u64) -> Result<CheckedTx, TxError> {
        self.shared.check_tx(bytes, next_height)
    }

    fn prepare_proposal(&self, candidates: Vec<CheckedTx>, max_bytes: usize) -> Vec<CheckedTx> {
        let mut used = 0usize;
        candidates
            .into_iter()
            .take_while(|tx| {
                used = used.saturating_add(tx.bytes.len());
                used <= max_bytes
            })
            .collect()
    }

    fn finalize_block(&mut self, block: &ProposedBlock) -> Result<FinalizedBlock, AppError> {
        self.begin_block(block.height, block.time_ms, block.proposer)?;
        self.deliver_txs(&block.txs)?;
        self.end_block()
    }

    fn begin_block(
        &mut self,
        height: u64,
        time_ms: u64,
        proposer: AccountId,
    ) -> Result<(), AppError> {
        self.abandon_block();
        self.rollback_staged();
        self.retired = None;
        if self.last_height.is_none() {
            return Err(AppError::NotInitialised);
        }
        if let Some(dropped) = self.undiscarded {
            self.shared.store.discard_staged(dropped)?;
            self.undiscarded = None;
        }
        let ctx = BlockCtx {
            chain_id: self.shared.chain_id.clone(),
            height,
            time_ms,
            proposer,
        };
        let opened = begin_block(&self.shared.store.view(), &ctx)?;
        self.open_with(ctx, opened.writes, opened.hook_events)
    }

    fn deliver_txs(&mut self, txs: &[Arc<[u8]>]) -> Result<&[Receipt], AppError> {
        let open = self.open.as_mut().ok_or(AppError::NothingOpen)?;
        let txs: Vec<Vec<u8>> = txs.iter().map(|tx| tx.to_vec()).collect();
        let hashes: Vec<Hash> = txs.iter().map(|tx| sha256(&[tx])).collect();
        let verified = self.shared.take_verified(&hashes);
        let view = PrefetchedView {
            base: self.shared.store.view(),
            values: prefetch_accounts(&self.shared, &txs)?,
        };
        let mut block = Changes::with_writes(&view, std::mem::take(&mut open.writes));
        let mut step = Changes::new(&block);
        let receipts: Vec<Receipt> = txs
            .iter()
            .zip(&verified)
            .map(|(bytes, checked)| apply_tx_with(&mut step, &open.ctx, bytes, *checked))
            .collect();
        let (step_writes, _) = step.into_parts();
        Self::write_tree(&mut self.tree, &mut open.rollback, &step_writes);
        let tree = &mut self.tree;
        let store = &self.shared.store;
        // Receipt entries the steps before this one filled go out with this part.
        let filled_entries = open.encoded_receipts.len() / RECEIPTS_PER_ENTRY;
        let first_entry = usize::try_from(open.staged_receipt_entries).unwrap_or(usize::MAX);
        let part = StagePart {
            height: open.ctx.height,
            part: open.parts,
            writes: &step_writes,
            txs: &txs,
            receipts: &receipts,
            first_index: u32::try_from(open.receipts.len()).unwrap_or(u32::MAX),
            hook_events: &[],
            receipt_entries: open
                .encoded_receipts
                .get(
                    first_entry.saturating_mul(RECEIPTS_PER_ENTRY)
                        ..filled_entries.saturating_mul(RECEIPTS_PER_ENTRY),
                )
                .unwrap_or_default(),
            first_entry: open.staged_receipt_entries,
        };
        let (tx_list, receipt_list) = (&mut open.tx_list, &mut open.receipt_list);
        // The step's records are staged on one core while the other updates the tree and
        // the list roots.
        let (staged, (_, encoded)) = rayon::join(
            || store.stage(&part),
            || {
                rayon::join(
                    || commit_buckets_parallel(tree),
                    || {
                        let encoded = crate::store::encode_receipts(&receipts);
                        for bytes in &encoded {
                            receipt_list.push(list_leaf(bytes));
                        }
                        for hash in &hashes {
                            tx_list.push(list_leaf(hash));
                        }
                        encoded
                    },
                )
            },
        );
        // Counted even if it failed: dropping the block deletes whatever was written.
        open.parts = open.parts.saturating_add(1);
        if let Err(error) = staged {
            // The tree and the writes already hold this step; the block cannot go on.
            drop(block);
            drop(view);
            self.abandon_block();
            return Err(error.into());
        }
        open.staged_receipt_entries = u32::try_from(filled_entries).unwrap_or(u32::MAX);
        block.absorb(step_writes);
        open.writes = block.into_parts().0;
        open.encoded_receipts.extend(encoded);
        let first = open.receipts.len();
        open.receipts.extend(receipts);
        open.txs.extend(txs);
        let open = self.open.as_ref().ok_or(AppError::NothingOpen)?;
        Ok(open.receipts.get(first..).unwrap_or_default())
    }

    fn end_block(&mut self) -> Result<FinalizedBlock, AppError> {
        self.stage_open()
    }

    fn commit(&mut self, header: SignedHeader) -> Result<(), AppError> {
        let height = header.header.height;
        let staged = self.staged.take().ok_or(AppError::NothingStaged(height))?;
        let finalized = &staged.finalized;
        let checks = [
            (header.header.height == finalized.height, "height"),
            (header.header.time_ms == finalized.time_ms, "time"),
            (
                header.header.state_root == finalized.state_root,
                "state root",
            ),
            (header.header.tx_root == finalized.tx_root, "tx root"),
            (
                header.header.receipts_root == finalized.receipts_root,
                "receipts root",
            ),
            (
                header.header.prev_hash == self.last_header_hash,
                "previous header hash",
            ),
        ];
        if let Some((_, field)) = checks.iter().find(|(ok, _)| !ok) {
            self.staged = Some(staged);
            return Err(AppError::HeaderMismatch(field));
        }
        let stored = StoredBlock {
            header,
            txs: staged.txs,
            hook_events: staged.finalized.hook_events.clone(),
        };
        // The written account records are decoded on the other core during the write (and
        // outside the cache's lock, which admission takes for every transaction).
        let (written, records) = rayon::join(
            || {
                self.shared
                    .store
                    .finish_block(staged.batch, &stored, &staged.pages)
            },
            || account_records(&staged.writes).collect::<Vec<_>>(),
        );
        if let Err(error) = written {
            // Nothing was written; put the tree back so a retry starts clean.
            self.drop_block(height, staged.rollback, staged.staged_records);
            return Err(error.into());
        }
        self.last_header_hash = stored.header.header.hash();
        self.last_height = Some(height);
        self.last_time_ms = stored.header.header.time_ms;
        // Freeing a large block's transactions, writes and rollback record took ~5 ms;
        // that waits for the next block to open, after the driver has reported this one.
        // Genesis (10^6 accounts: ~1 s to free) is freed at once: init is not a block
        // anyone waits on, and the first block should not pay for it. It is freed before
        // the account cache takes its accounts, whose table would otherwise sit above the
        // freed memory and keep it resident (~470 MiB at 10^6 accounts).
        let retired = Retired {
            _block: stored,
            _writes: staged.writes,
            _rollback: staged.rollback,
        };
        if height > 0 {
            self.retired = Some(retired);
        } else {
            drop(retired);
        }
        self.shared.accounts.block_committed(records);
        Ok(())
    }

    fn query(&self, key: &[u8], height: Option<u64>, prove: bool) -> Result<QueryResult, AppError> {
        self.shared.query(key, height, prove)
    }
}
