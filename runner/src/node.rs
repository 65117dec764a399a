//! The running node: opens the store, initialises the chain from genesis if the data dir
//! is new, starts the sequencer thread and hands out a [`Node`] handle that the HTTP API
//! uses to submit transactions, read state and send devnet commands.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use agora_contract::bounded::Label;
use agora_contract::ids::{sha256, AccountId, Hash};
use agora_contract::tx::account_of;
use agora_contract::TxError;
use ed25519_dalek::SigningKey;
use tokio::sync::{oneshot, watch};

use crate::app::{AgoraApp, AppError, AppShared, Application, CheckedTx};
use crate::genesis::{GenesisDoc, GenesisDocError};
use crate::mempool::{Mempool, MempoolConfig, MempoolError, PendingTx};
use crate::metrics::Metrics;
use crate::sequencer::{self, Command, Sequencer};
use crate::store::{Store, StoreError};

/// Transactions per signature batch in [`Node::submit_batch`]. The batch equation's
/// multiscalar multiplication gets cheaper per signature up to about 256 (one thread,
/// distinct keys, decoding included: 21.7 µs per signature in batches of 64, 19.5 in 128,
/// 17.9 in 256, 18.0 in 512). A chunk whose batch fails is verified one by one, at the
/// same cost per signature whatever the chunk's size.
pub const VERIFY_BATCH_TXS: usize = 256;

/// How blocks are produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockMode {
    /// A block every interval, with or without transactions.
    Interval { block_time_ms: u64 },
    /// A block as soon as transactions wait.
    Instant,
    /// Only on `POST /v1/dev/mine`.
    Manual,
}

/// Node settings.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub mode: BlockMode,
    pub max_block_txs: usize,
    pub max_block_bytes: usize,
    pub mempool: MempoolConfig,
    /// Enables the `/v1/dev/*` controls.
    pub dev: bool,
}

impl NodeConfig {
    /// Devnet defaults: 500 ms blocks, 20 000 txs or 8 MiB per block, dev controls on.
    pub fn devnet(data_dir: PathBuf) -> NodeConfig {
        NodeConfig {
            data_dir,
            mode: BlockMode::Interval { block_time_ms: 500 },
            max_block_txs: 20_000,
            max_block_bytes: 8 << 20,
            mempool: MempoolConfig::default(),
            dev: true,
        }
    }
}

/// Why a submitted transaction was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Tx(#[from] TxError),
    #[error(transparent)]
    Mempool(#[from] MempoolError),
}

impl SubmitError {
    pub fn code(&self) -> u16 {
        match self {
            SubmitError::Tx(error) => error.code(),
            SubmitError::Mempool(error) => error.code(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SubmitError::Tx(error) => error.name(),
            SubmitError::Mempool(error) => error.name(),
        }
    }
}

/// Where a submitted transaction stands right after submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Newly admitted to the mempool.
    Accepted,
    /// The same bytes were already pending (resubmission is harmless).
    AlreadyPending,
    /// The same bytes are already committed.
    AlreadyCommitted,
}

/// The handle the API holds.
pub struct Node {
    pub app: Arc<AppShared>,
    pub store: Arc<Store>,
    pub mempool: Arc<Mutex<Mempool>>,
    pub chain_id: Label,
    pub sequencer_id: AccountId,
    pub config: NodeConfig,
    pub metrics: Arc<Metrics>,
    /// Last committed height; changes wake receipt waiters and event streams.
    pub committed: watch::Receiver<u64>,
    commands: std::sync::mpsc::Sender<Command>,
    head: Arc<AtomicU64>,
    verifier: rayon::ThreadPool,
    sequencer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Node {
    /// Opens or creates the chain in `config.data_dir` and starts producing blocks.
    /// `genesis` is used when the data dir is new; an existing chain keeps its own.
    pub fn start(
        config: NodeConfig,
        genesis: GenesisDoc,
        sequencer_key: SigningKey,
    ) -> Result<Arc<Node>, NodeError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let store = Arc::new(Store::open(&db_path(&config.data_dir))?);
        // Refuse a torn or corrupted store before anything is served (docs/durability.md).
        crate::integrity::check_store(&store)?;
        // An existing chain keeps its own identity: the last header names the chain and
        // its sequencer (the genesis document is not re-read).
        let (chain_id, sequencer_id) = match store.head()? {
            Some(head) => {
                let header = store.header(head)?.ok_or(StoreError::MissingHeight(head))?;
                (header.header.chain_id, header.header.proposer)
            }
            None => {
                let invalid = |error: GenesisDocError| NodeError::Genesis(error.to_string());
                (
                    genesis.chain_label().map_err(invalid)?,
                    genesis.sequencer_id().map_err(invalid)?,
                )
            }
        };
        if account_of(&sequencer_key) != sequencer_id {
            return Err(NodeError::Genesis(
                "the sequencer key does not match the genesis sequencer".into(),
            ));
        }
        let mut app = AgoraApp::open(store.clone(), chain_id.clone())?;
        if app.info().height.is_none() {
            store.put_genesis_json(&genesis.to_json())?;
            let contract_genesis = genesis
                .to_contract()
                .map_err(|error| NodeError::Genesis(error.to_string()))?;
            let finalized = app.init_chain(&contract_genesis)?;
            let header = sequencer::header_for(&app.info(), &finalized, 0, &sequencer_key);
            app.commit(header)?;
            // A large genesis would otherwise be replayed from the log at every start.
            store.flush()?;
        }
        let height = app.info().height.unwrap_or(0);
        let head = Arc::new(AtomicU64::new(height));
        let (committed_tx, committed) = watch::channel(height);
        let (commands_tx, commands_rx) = std::sync::mpsc::channel();
        let mempool = Arc::new(Mutex::new(Mempool::new(config.mempool.clone())));
        let metrics = Arc::new(Metrics::new());
        metrics
            .height
            .set(i64::try_from(height).unwrap_or(i64::MAX));
        let verifier = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("verify-{i}"))
            .build()
            .map_err(|error| NodeError::Io(std::io::Error::other(error)))?;
        let shared = app.shared();
        let sequencer = Sequencer::new(
            app,
            sequencer_key,
            mempool.clone(),
            config.clone(),
            head.clone(),
            committed_tx,
            metrics.clone(),
            0,
        );
        // The sequencer's parallel work (tree hashing, reads ahead, list roots) runs on a
        // pool of its own: on rayon's global pool, anything else there delayed a block. The
        // pool is scoped: its threads have exited when the sequencer thread ends, so joining
        // that thread (shutdown) leaves no thread behind whose RocksDB thread-locals could
        // be torn down after the process began to exit (that aborted a test binary).
        let handle = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || {
                let scoped = rayon::ThreadPoolBuilder::new()
                    .thread_name(|i| format!("sequencer-{i}"))
                    .build_scoped(
                        |thread| thread.run(),
                        |pool| pool.install(|| sequencer.run(commands_rx)),
                    );
                if let Err(error) = scoped {
                    tracing::error!(%error, "the sequencer's thread pool did not start");
                }
            })?;
        Ok(Arc::new(Node {
            app: shared,
            store,
            mempool,
            chain_id,
            sequencer_id,
            config,
            metrics,
            committed,
            commands: commands_tx,
            head,
            verifier,
            sequencer: Mutex::new(Some(handle)),
        }))
    }

    /// Whether the sequencer thread is still producing blocks (it stops on a failed
    /// block rather than commit a wrong state).
    pub fn sequencer_alive(&self) -> bool {
        self.sequencer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|handle| !handle.is_finished())
    }

    /// Last committed height.
    pub fn height(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Checks and admits one transaction. Blocking (signature verification): call from a
    /// blocking context. Returns its hash and where it stands.
    pub fn submit(&self, bytes: &[u8]) -> (Hash, Result<Admission, SubmitError>) {
        let hash = sha256(&[bytes]);
        let result = match self.seen(&hash) {
            Some(admission) => Ok(admission),
            None => {
                let next_height = self.height().saturating_add(1);
                let checked = self.app.check_tx(bytes, next_height);
                self.admit(&hash, checked, next_height)
            }
        };
        self.count(&result);
        (hash, result)
    }

    /// Checks and admits many transactions: chunks of up to [`VERIFY_BATCH_TXS`] (fewer
    /// when that leaves a core idle) are checked in parallel on every core, each chunk's
    /// signatures as one batch equation. Accepts and rejects exactly what [`Node::submit`]
    /// would; results are in input order.
    pub fn submit_batch(&self, txs: &[Vec<u8>]) -> Vec<(Hash, Result<Admission, SubmitError>)> {
        use rayon::prelude::*;
        let per_thread = txs
            .len()
            .div_ceil(self.verifier.current_num_threads().max(1));
        let chunk = VERIFY_BATCH_TXS.min(per_thread).max(1);
        self.verifier.install(|| {
            txs.par_chunks(chunk)
                .flat_map_iter(|chunk| self.submit_chunk(chunk))
                .collect()
        })
    }

    fn submit_chunk(&self, chunk: &[Vec<u8>]) -> Vec<(Hash, Result<Admission, SubmitError>)> {
        let hashes: Vec<Hash> = chunk.iter().map(|bytes| sha256(&[bytes])).collect();
        let seen: Vec<Option<Admission>> = hashes.iter().map(|hash| self.seen(hash)).collect();
        let unseen: Vec<&[u8]> = chunk
            .iter()
            .zip(&seen)
            .filter(|(_, seen)| seen.is_none())
            .map(|(bytes, _)| bytes.as_slice())
            .collect();
        let next_height = self.height().saturating_add(1);
        let mut checked = self.app.check_txs(&unseen, next_height).into_iter();
        hashes
            .into_iter()
            .zip(seen)
            .map(|(hash, seen)| {
                let result = match seen {
                    Some(admission) => Ok(admission),
                    None => match checked.next() {
                        Some(checked) => self.admit(&hash, checked, next_height),
                        None => Err(SubmitError::Tx(TxError::Malformed)),
                    },
                };
                self.count(&result);
                (hash, result)
            })
            .collect()
    }

    fn count(&self, result: &Result<Admission, SubmitError>) {
        match result {
            Ok(Admission::Accepted) => {
                self.metrics.txs_accepted.inc();
                if self.config.mode == BlockMode::Instant {
                    let _ = self.commands.send(Command::Wake);
                }
            }
            Ok(_) => {}
            Err(_) => {
                self.metrics.txs_rejected.inc();
            }
        }
    }

    /// Whether these bytes are already pending. Committed ones are told apart in
    /// [`Node::admit`] after they fail the checks, not by a tx-index read per submission:
    /// a block is in the index and the committed nonces before the mempool forgets its
    /// transactions, so resubmitted bytes are either still pending or fail the nonce check.
    fn seen(&self, hash: &Hash) -> Option<Admission> {
        self.mempool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(hash)
            .then_some(Admission::AlreadyPending)
    }

    /// Whether these bytes are in a committed block. A tx-index read error answers
    /// `StateCorrupt` (500), not the check's own error, which could be a wrong 4xx.
    fn committed(&self, hash: &Hash) -> Result<bool, SubmitError> {
        match self.store.tx_location(hash) {
            Ok(location) => Ok(location.is_some()),
            Err(error) => {
                tracing::error!(%error, "tx index read failed");
                Err(SubmitError::Tx(TxError::StateCorrupt))
            }
        }
    }

    /// Admission of a checked transaction into the mempool.
    fn admit(
        &self,
        hash: &Hash,
        checked: Result<CheckedTx, TxError>,
        next_height: u64,
    ) -> Result<Admission, SubmitError> {
        let checked = match checked {
            Ok(checked) => checked,
            // A committed transaction fails the checks (its nonce is used; it may have
            // expired since): the tx index, read only then, tells it apart.
            Err(error) => {
                return match self.committed(hash)? {
                    true => Ok(Admission::AlreadyCommitted),
                    false => Err(error.into()),
                }
            }
        };
        let pending = PendingTx {
            hash: checked.hash,
            signer: checked.signer,
            nonce: checked.nonce,
            valid_until_height: checked.valid_until_height,
            bytes: checked.bytes,
        };
        let mut mempool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
        // The nonce read by the check may predate a block that committed (and left the
        // pool) since: read it again under the pool's lock, after which no block can
        // remove anything before this insert. Without this, the same bytes could re-enter
        // the pool behind their own committed copy and stay there, pending for ever.
        let committed_nonce = checked
            .committed_nonce
            .max(self.app.committed_nonce(&checked.signer));
        match mempool.insert(pending, committed_nonce, next_height) {
            Ok(()) => Ok(Admission::Accepted),
            Err(MempoolError::AlreadyPending) => Ok(Admission::AlreadyPending),
            Err(error @ MempoolError::NonceTooLow { .. }) => match self.committed(hash)? {
                true => Ok(Admission::AlreadyCommitted),
                false => Err(error.into()),
            },
            Err(error) => Err(error.into()),
        }
    }

    /// Sends a command to the sequencer and waits for its answer.
    pub async fn command<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Command,
    ) -> Result<T, String> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .map_err(|_| "the sequencer has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the sequencer has stopped".to_string())?
    }

    /// Stops the sequencer after the block in progress, waits for it, and flushes the
    /// store so the next start has no log to replay.
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(handle) = self
            .sequencer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = handle.join();
        }
        if let Err(error) = self.store.flush() {
            tracing::warn!(%error, "flushing the store at shutdown failed");
        }
    }
}

impl Drop for Node {
    /// A node dropped without [`Node::shutdown`] (a test's runtime ending, say) stops its
    /// sequencer too, so the store closes with the node rather than at process exit, when
    /// a RocksDB background job still running aborted the process ("pthread lock:
    /// Invalid argument").
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The RocksDB directory inside a data dir.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("db")
}

/// Failures starting the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("genesis: {0}")]
    Genesis(String),
}
