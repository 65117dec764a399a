//! The single-sequencer driver: one thread that owns the application, decides blocks
//! (mempool selection, block time), executes and commits them through the application
//! boundary, signs headers, and serves the devnet commands (mine, advance time,
//! snapshot, revert). Block time is max(wall clock + dev offset, previous time + 1 ms).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agora_contract::header::{Header, SignedHeader, HEADER_VERSION};
use agora_contract::tx::account_of;
use ed25519_dalek::SigningKey;
use tokio::sync::{oneshot, watch};

use crate::app::{AgoraApp, AppError, Application, FinalizedBlock, Info, ProposedBlock};
use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::node::{BlockMode, NodeConfig};

/// Largest total dev time offset: 100 years.
pub const MAX_TIME_OFFSET_MS: u64 = 100 * 365 * 24 * 60 * 60 * 1000;

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
}

impl Sequencer {
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
                        let wait = next_tick.saturating_duration_since(Instant::now());
                        match commands.recv_timeout(wait) {
                            Ok(command) => Some(command),
                            Err(RecvTimeoutError::Timeout) => {
                                next_tick += period;
                                let now = Instant::now();
                                if next_tick < now {
                                    next_tick = now + period;
                                }
                                None
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
                None => {
                    if let Err(error) = self.produce_block() {
                        tracing::error!(%error, "block production failed; stopping");
                        return;
                    }
                }
                Some(Command::Wake) => {
                    if self.config.mode == BlockMode::Instant {
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
                }
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
                Some(Command::Shutdown) => return,
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

    /// Decides, executes, signs and commits one block. Returns its height.
    pub fn produce_block(&mut self) -> Result<u64, AppError> {
        let started = Instant::now();
        let info = self.app.info();
        let height = info.height.unwrap_or(0).saturating_add(1);
        let shared = self.app.shared();
        let candidates = self
            .mempool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .select(
                self.config.max_block_txs,
                self.config.max_block_bytes,
                height,
                |account| shared.committed_nonce(account),
            );
        let txs: Vec<Arc<[u8]>> = candidates.iter().map(|tx| tx.bytes.clone()).collect();
        let block = ProposedBlock {
            height,
            time_ms: self.next_time_ms(),
            proposer: account_of(&self.key),
            txs,
        };
        let finalized = self.app.finalize_block(&block)?;
        let applied = started.elapsed();
        let header = header_for(&info, &finalized, block.txs.len(), &self.key);
        self.app.commit(header)?;
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
        self.mempool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove_committed(&hashes, height.saturating_add(1), |account| {
                shared.committed_nonce(account)
            });
        self.metrics.record_block(
            height,
            finalized.receipts.len(),
            applied,
            started.elapsed(),
            &self.mempool.lock().unwrap_or_else(|e| e.into_inner()),
        );
        tracing::debug!(
            height,
            txs = finalized.receipts.len(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "block committed"
        );
        Ok(height)
    }

    fn revert(&mut self, id: u64) -> Result<u64, String> {
        let index = usize::try_from(id).map_err(|_| format!("no snapshot {id}"))?;
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
