//! The single-sequencer driver: one thread that owns the application, decides blocks
//! (mempool selection, block time), executes and commits them through the application
//! boundary, signs headers, and serves the devnet commands (mine, advance time,
//! snapshot, revert).
//!
//! A block is built in steps: it opens when the first transactions wait (block time is
//! then max(wall clock + dev offset, previous time + 1 ms)), each step takes what is ready
//! from the mempool and executes it, and sealing runs a last step, computes the roots,
//! signs the header and commits. In interval mode steps run every [`STEP_PERIOD`] between
//! ticks, so at the tick only the seal remains; instant and manual modes open, execute
//! and seal in one go.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agora_contract::header::{Header, SignedHeader, HEADER_VERSION};
use agora_contract::ids::AccountId;
use agora_contract::tx::account_of;
use ed25519_dalek::SigningKey;
use tokio::sync::{oneshot, watch};

use crate::app::{AgoraApp, AppError, Application, FinalizedBlock, Info};
use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::node::{BlockMode, NodeConfig};

/// Largest total dev time offset: 100 years.
pub const MAX_TIME_OFFSET_MS: u64 = 100 * 365 * 24 * 60 * 60 * 1000;

/// How often, in interval mode, waiting transactions are executed into the open block.
pub const STEP_PERIOD: Duration = Duration::from_millis(5);

/// Most transactions one step between ticks executes, so it never holds back a tick for
/// long. The step at the seal has no such bound: the block's own bounds apply.
const STEP_MAX_TXS: usize = 2_048;

/// The block being built: its height, the nonce each sender's next tx must carry in it
/// (`None`: the sender is done for this block), and its size so far.
struct Building {
    height: u64,
    next_nonce: HashMap<AccountId, Option<u64>>,
    txs: usize,
    bytes: usize,
    execute_time: Duration,
    /// The mempool's `enqueued` count when a step last found nothing ready: until it
    /// moves, nothing new can be (within a block, readiness changes only with new txs).
    idle_at: Option<u64>,
}

/// Requests to the sequencer thread.
pub enum Command {
    /// Transactions are waiting (instant mode produces a block).
    Wake,
    /// Produce `blocks` blocks now; answers their heights.
    Mine {
        blocks: u32,
        reply: oneshot::Sender<Result<Vec<u64>, String>>,
    },
    /// Move block time forward by `ms`; answers the earliest time of the next block.
    AdvanceTime {
        ms: u64,
        reply: oneshot::Sender<Result<u64, String>>,
    },
    /// Remember the current height; answers the snapshot id.
    Snapshot {
        reply: oneshot::Sender<Result<u64, String>>,
    },
    /// Undo every block after snapshot `id`; answers the height reverted to.
    Revert {
        id: u64,
        reply: oneshot::Sender<Result<u64, String>>,
    },
    /// Stop after the current block.
    Shutdown,
}

/// The sequencer's state; lives on its own thread.
pub struct Sequencer {
    pub app: AgoraApp,
    pub key: SigningKey,
    pub mempool: Arc<Mutex<Mempool>>,
    pub config: NodeConfig,
    pub head: Arc<AtomicU64>,
    pub committed: watch::Sender<u64>,
    pub metrics: Arc<Metrics>,
    pub time_offset_ms: u64,
    /// Snapshot id i is the height at `snapshots[i]`.
    pub snapshots: Vec<u64>,
    building: Option<Building>,
}

impl Sequencer {
    /// A sequencer over an opened application.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        app: AgoraApp,
        key: SigningKey,
        mempool: Arc<Mutex<Mempool>>,
        config: NodeConfig,
        head: Arc<AtomicU64>,
        committed: watch::Sender<u64>,
        metrics: Arc<Metrics>,
        time_offset_ms: u64,
    ) -> Sequencer {
        Sequencer {
            app,
            key,
            mempool,
            config,
            head,
            committed,
            metrics,
            time_offset_ms,
            snapshots: Vec::new(),
            building: None,
        }
    }

    /// The driver loop.
    pub fn run(mut self, commands: Receiver<Command>) {
        let interval = match self.config.mode {
            BlockMode::Interval { block_time_ms } => {
                Some(Duration::from_millis(block_time_ms.max(1)))
            }
            _ => None,
        };
        let mut next_tick = Instant::now() + interval.unwrap_or_default();
        let mut carried: Option<Command> = None;
        loop {
            let command = if carried.is_some() {
                carried.take()
            } else {
                match interval {
                    Some(period) => {
                        let now = Instant::now();
                        let wait = next_tick.saturating_duration_since(now).min(STEP_PERIOD);
                        match commands.recv_timeout(wait) {
                            Ok(command) => Some(command),
                            Err(RecvTimeoutError::Timeout) => {
                                let now = Instant::now();
                                let result = if now >= next_tick {
                                    next_tick += period;
                                    if next_tick < now {
                                        next_tick = now + period;
                                    }
                                    self.produce_block().map(drop)
                                } else {
                                    self.step(STEP_MAX_TXS).map(drop)
                                };
                                if let Err(error) = result {
                                    tracing::error!(%error, "block production failed; stopping");
                                    return;
                                }
                                continue;
                            }
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    None => match commands.recv() {
                        Ok(command) => Some(command),
                        Err(_) => return,
                    },
                }
            };
            match command {
                None => {}
                Some(Command::Wake) if self.config.mode == BlockMode::Instant => {
                    // Drain queued wakes: one block takes everything waiting.
                    // A different command ends the drain and is handled next.
                    loop {
                        match commands.try_recv() {
                            Ok(Command::Wake) => {}
                            Ok(other) => {
                                carried = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    while self.has_pending() {
                        if let Err(error) = self.produce_block() {
                            tracing::error!(%error, "block production failed; stopping");
                            return;
                        }
                    }
                }
                Some(Command::Wake) => {}
                Some(Command::Mine { blocks, reply }) => {
                    let mut heights = Vec::new();
                    let mut failure = None;
                    for _ in 0..blocks.max(1) {
                        match self.produce_block() {
                            Ok(height) => heights.push(height),
                            Err(error) => {
                                failure = Some(error.to_string());
                                break;
                            }
                        }
                    }
                    let _ = reply.send(match failure {
                        None => Ok(heights),
                        Some(error) => Err(error),
                    });
                }
                Some(Command::AdvanceTime { ms, reply }) => {
                    let _ = reply.send(self.advance_time(ms));
                }
                Some(Command::Snapshot { reply }) => {
                    let height = self.app.info().height.unwrap_or(0);
                    self.snapshots.push(height);
                    let id = u64::try_from(self.snapshots.len() - 1).unwrap_or(u64::MAX);
                    let _ = reply.send(Ok(id));
                }
                Some(Command::Revert { id, reply }) => {
                    let _ = reply.send(self.revert(id));
                }
                Some(Command::Shutdown) => {
                    self.abandon_block();
                    return;
                }
            }
        }
    }

    fn has_pending(&self) -> bool {
        !self
            .mempool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
            && self.ready_count() > 0
    }

    fn ready_count(&self) -> usize {
        let next_height = self.app.info().height.unwrap_or(0).saturating_add(1);
        let shared = self.app.shared();
        self.mempool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .select(1, usize::MAX, next_height, |account| {
                shared.committed_nonce(account)
            })
            .len()
    }

    /// Adds `ms` to the dev time offset unless block time would leave the range a chain
    /// can keep producing in (at most [`MAX_TIME_OFFSET_MS`] in total).
    fn advance_time(&mut self, ms: u64) -> Result<u64, String> {
        let offset = self
            .time_offset_ms
            .checked_add(ms)
            .filter(|offset| *offset <= MAX_TIME_OFFSET_MS)
            .ok_or_else(|| {
                format!("time may move forward by at most {MAX_TIME_OFFSET_MS} ms in total")
            })?;
        self.time_offset_ms = offset;
        // A block already open has its time; start it again at the new one.
        self.abandon_block();
        Ok(self.next_time_ms())
    }

    fn next_time_ms(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        now.saturating_add(self.time_offset_ms)
            .max(self.app.info().last_time_ms.saturating_add(1))
    }

    /// Opens the next block at the current block time unless one is open.
    fn open_block(&mut self) -> Result<(), AppError> {
        if self.building.is_some() {
            return Ok(());
        }
        let height = self.app.info().height.unwrap_or(0).saturating_add(1);
        let time_ms = self.next_time_ms();
        self.app
            .begin_block(height, time_ms, account_of(&self.key))?;
        self.building = Some(Building {
            height,
            next_nonce: HashMap::new(),
            txs: 0,
            bytes: 0,
            execute_time: Duration::ZERO,
            idle_at: None,
        });
        Ok(())
    }

    /// Drops the open block; its transactions go back to the mempool.
    fn abandon_block(&mut self) {
        if self.building.take().is_some() {
            self.app.abandon_block();
            self.mempool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .release_included();
        }
    }

    /// One step of the block being built: opens it if transactions wait, then takes up
    /// to `max_txs` ready transactions and executes them. Returns how many. On an error
    /// the open block is dropped and its transactions go back to the mempool.
    fn step(&mut self, max_txs: usize) -> Result<usize, AppError> {
        let result = self.try_step(max_txs);
        if result.is_err() {
            self.abandon_block();
        }
        result
    }

    fn try_step(&mut self, max_txs: usize) -> Result<usize, AppError> {
        if self.building.is_none() {
            let waiting = {
                let mempool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
                mempool.len() > mempool.included_len()
            };
            if !waiting {
                return Ok(0);
            }
            self.open_block()?;
        }
        let Some(building) = self.building.as_mut() else {
            return Ok(0);
        };
        let started = Instant::now();
        let shared = self.app.shared();
        let max_txs = self
            .config
            .max_block_txs
            .saturating_sub(building.txs)
            .min(max_txs);
        let max_bytes = self.config.max_block_bytes.saturating_sub(building.bytes);
        if max_txs == 0 || max_bytes == 0 {
            return Ok(0);
        }
        let taken = {
            let mut mempool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
            let enqueued = mempool.enqueued();
            if building.idle_at == Some(enqueued) {
                return Ok(0);
            }
            let taken = mempool.take(
                max_txs,
                max_bytes,
                building.height,
                |account| match building.next_nonce.get(account) {
                    Some(next) => *next,
                    None => Some(shared.committed_nonce(account)),
                },
            );
            building.idle_at = taken.is_empty().then_some(enqueued);
            taken
        };
        if taken.is_empty() {
            return Ok(0);
        }
        let txs: Vec<Arc<[u8]>> = taken.iter().map(|tx| tx.bytes.clone()).collect();
        let receipts = self.app.deliver_txs(&txs)?;
        for (tx, receipt) in taken.iter().zip(receipts) {
            // A tx that did not consume its nonce leaves its sender's later txs unable
            // to execute in this block.
            let next = receipt
                .nonce_consumed
                .then(|| tx.nonce.checked_add(1))
                .flatten();
            building.next_nonce.insert(tx.signer, next);
            building.txs = building.txs.saturating_add(1);
            building.bytes = building.bytes.saturating_add(tx.bytes.len());
        }
        building.execute_time += started.elapsed();
        Ok(taken.len())
    }

    /// Seals one block: opens it if needed, executes what is ready, then signs and
    /// commits it. Returns its height. If that fails, the block is dropped and its
    /// transactions go back to the mempool.
    pub fn produce_block(&mut self) -> Result<u64, AppError> {
        let result = self.seal();
        if result.is_err() {
            self.abandon_block();
        }
        result
    }

    fn seal(&mut self) -> Result<u64, AppError> {
        let started = Instant::now();
        let info = self.app.info();
        self.open_block()?;
        // One last step: what waits at the seal. What arrives while it runs goes to the
        // next block; chasing it here made the seal as long again at half load (its own
        // arrivals, then theirs) and delayed every transaction of the block with it.
        let last_txs = self.step(usize::MAX)?;
        let execute_time = self
            .building
            .as_ref()
            .map_or(Duration::ZERO, |b| b.execute_time);
        let last_step = started.elapsed();
        let finalized = self.app.end_block()?;
        let roots = started.elapsed();
        let height = finalized.height;
        let header = header_for(&info, &finalized, finalized.receipts.len(), &self.key);
        self.app.commit(header)?;
        self.building = None;
        let stored = started.elapsed();
        self.head.store(height, Ordering::Release);
        let _ = self.committed.send(height);
        self.metrics
            .height
            .set(i64::try_from(height).unwrap_or(i64::MAX));
        let hashes: Vec<_> = finalized
            .receipts
            .iter()
            .map(|receipt| receipt.tx_hash)
            .collect();
        let shared = self.app.shared();
        self.mempool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove_committed(&hashes, height.saturating_add(1), |account| {
                shared.committed_nonce(account)
            });
        self.metrics.record_block(
            height,
            finalized.receipts.len(),
            execute_time,
            started.elapsed(),
            &self.mempool.lock().unwrap_or_else(|e| e.into_inner()),
        );
        tracing::debug!(
            height,
            txs = finalized.receipts.len(),
            execute_ms = execute_time.as_secs_f64() * 1e3,
            last_step_ms = last_step.as_secs_f64() * 1e3,
            last_txs,
            roots_ms = (roots - last_step).as_secs_f64() * 1e3,
            store_ms = (stored - roots).as_secs_f64() * 1e3,
            seal_ms = started.elapsed().as_secs_f64() * 1e3,
            "block committed"
        );
        Ok(height)
    }

    fn revert(&mut self, id: u64) -> Result<u64, String> {
        let index = usize::try_from(id).map_err(|_| format!("no snapshot {id}"))?;
        self.abandon_block();
        let height = *self
            .snapshots
            .get(index)
            .ok_or_else(|| format!("no snapshot {id}"))?;
        self.app
            .revert_to(height)
            .map_err(|error| error.to_string())?;
        self.snapshots.truncate(index);
        self.mempool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.head.store(height, Ordering::Release);
        let _ = self.committed.send(height);
        self.metrics
            .height
            .set(i64::try_from(height).unwrap_or(i64::MAX));
        Ok(height)
    }
}

/// Builds and signs the header for a finalized block on top of `info`.
pub fn header_for(
    info: &Info,
    finalized: &FinalizedBlock,
    tx_count: usize,
    key: &SigningKey,
) -> SignedHeader {
    Header {
        version: HEADER_VERSION,
        chain_id: info.chain_id.clone(),
        height: finalized.height,
        prev_hash: if finalized.height == 0 {
            [0; 32]
        } else {
            info.last_header_hash
        },
        time_ms: finalized.time_ms,
        tx_count: u32::try_from(tx_count).unwrap_or(u32::MAX),
        tx_root: finalized.tx_root,
        receipts_root: finalized.receipts_root,
        hook_events_hash: finalized.hook_events_hash,
        state_root: finalized.state_root,
        proposer: account_of(key),
    }
    .sign(key)
}
