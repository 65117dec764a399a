//! Prometheus metrics of the node, served as text at `GET /metrics`.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::mempool::Mempool;

/// Every metric the node exports.
pub struct Metrics {
    registry: Registry,
    pub height: Gauge,
    pub blocks: Counter,
    pub txs_committed: Counter,
    pub txs_accepted: Counter,
    pub txs_rejected: Counter,
    pub mempool_txs: Gauge,
    pub mempool_bytes: Gauge,
    pub block_apply_seconds: Histogram,
    pub block_total_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("agora");
        let metrics = Metrics {
            height: Gauge::default(),
            blocks: Counter::default(),
            txs_committed: Counter::default(),
            txs_accepted: Counter::default(),
            txs_rejected: Counter::default(),
            mempool_txs: Gauge::default(),
            mempool_bytes: Gauge::default(),
            block_apply_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            block_total_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            registry: Registry::default(),
        };
        registry.register(
            "height",
            "Last committed block height",
            metrics.height.clone(),
        );
        registry.register(
            "blocks",
            "Blocks committed since start",
            metrics.blocks.clone(),
        );
        registry.register(
            "txs_committed",
            "Transactions committed since start",
            metrics.txs_committed.clone(),
        );
        registry.register(
            "txs_accepted",
            "Transactions admitted to the mempool",
            metrics.txs_accepted.clone(),
        );
        registry.register(
            "txs_rejected",
            "Transactions refused at submission",
            metrics.txs_rejected.clone(),
        );
        registry.register(
            "mempool_txs",
            "Transactions waiting in the mempool",
            metrics.mempool_txs.clone(),
        );
        registry.register(
            "mempool_bytes",
            "Bytes waiting in the mempool",
            metrics.mempool_bytes.clone(),
        );
        registry.register(
            "block_apply_seconds",
            "Time spent selecting and executing a block's transactions, summed over its steps",
            metrics.block_apply_seconds.clone(),
        );
        registry.register(
            "block_total_seconds",
            "Time to seal a block: the last step, roots, header and the synced commit",
            metrics.block_total_seconds.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Updates the metrics after a committed block.
    pub fn record_block(
        &self,
        height: u64,
        txs: usize,
        apply: Duration,
        total: Duration,
        mempool: &Mempool,
    ) {
        self.height.set(i64::try_from(height).unwrap_or(i64::MAX));
        self.blocks.inc();
        self.txs_committed
            .inc_by(u64::try_from(txs).unwrap_or(u64::MAX));
        self.block_apply_seconds.observe(apply.as_secs_f64());
        self.block_total_seconds.observe(total.as_secs_f64());
        self.mempool_txs
            .set(i64::try_from(mempool.len()).unwrap_or(i64::MAX));
        self.mempool_bytes
            .set(i64::try_from(mempool.bytes()).unwrap_or(i64::MAX));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}
