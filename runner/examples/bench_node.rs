//! Node benchmark: prints figures, never asserts. One run measures, on this machine:
//!
//! 1. the ed25519 ceiling: `verify_batch` (chunks of 64 and of 256, rayon over every core;
//!    the faster is the ceiling) and single `verify_strict`, in signatures per second;
//! 2. end-to-end committed signed transfers per second over HTTP on loopback
//!    (`POST /v1/txs/batch`), for each funded-account count, against that ceiling;
//! 3. submit-to-commit latency at half the measured throughput (paced small requests; commit
//!    instants from `Node::committed`, each tx mapped to its height by `Store::tx_location`);
//!    2 and 3 again for the escrow mix on the same node: half transfers, half escrow steps
//!    (`CreateEscrow`, `FundEscrow`, `MarkCompleted`, `Approve`), each step sent by the client
//!    once it sees the step before committed (`GET /health`, `GET /v1/blocks/{h}`), as a real
//!    client of another signer's escrow must;
//! 4. the state-root update (`StateTree::commit`) for a block touching 10 000 keys of 10^6;
//! 5. state proof sizes and verification time, and a header signature check;
//! 6. devnet ready time, restart time with the largest state (in a fresh child process, this
//!    program re-run with `--child-restart`), and resident memory.
//!
//! To show where the time goes it also prints CPU seconds per thread group (admission pool,
//! sequencer, HTTP server, load client, RocksDB, other processes on the machine) for each
//! phase, and per account count a pipeline breakdown on a manual-mode node: admission
//! in-process and over HTTP, `Mempool::select` cost, and block production alone; plus the
//! parts of restart and genesis-init time.
//!
//! Run: `cargo run --release -p agora-runner --example bench_node -- [--accounts 10000,1000000]
//! [--txs M] [--quick] [--tiny] [--instant] [--latency-secs S] [--mix transfers,escrow]`
//! (`--quick`: 10^4 and 10^5 accounts, fewer transactions; `--tiny`: a smoke run for debug
//! builds; `--instant`: instant block mode instead of 500 ms intervals; `--mix` picks the
//! end-to-end loads, both by default: `--mix transfers` is the transfer load alone, `--mix
//! escrow` the escrow mix alone). Other processes using the CPU make every figure low; the
//! CPU report flags it.

#[path = "common/mod.rs"]
mod common;

use common::{dir_size, fmt_count, median, now_ms, percentile, splitmix, Summary};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agora_contract::block::TxStatus;
use agora_contract::commit::{StateProof, StateTree};
use agora_contract::header::{Header, HEADER_VERSION};
use agora_contract::ids::{sha256, AccountId, Hash, Uuid};
use agora_contract::sig;
use agora_contract::tx::{account_of, UnsignedTx};
use agora_contract::{Action, Amount, BoundedVec, CreateEscrow, Decision, EscrowKind, Label};
use agora_runner::genesis::{devnet_genesis, devnet_sequencer_key, Allocation, GenesisDoc};
use agora_runner::metrics::Metrics;
use agora_runner::node::{BlockMode, Node, NodeConfig, VERIFY_BATCH_TXS};
use agora_runner::sequencer::Command;
use axum::body::Bytes;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use rayon::prelude::*;
use serde::Deserialize;
use tokio::runtime::Runtime;
use tokio::sync::{oneshot, watch};

const CHAIN_ID: &str = "agora-bench";
const BALANCE: u64 = 1_000_000_000_000;
/// Pool capacity of the default mempool config; the load client keeps below it.
const POOL_HEADROOM: f64 = 0.9;

// ------------------------------------------------------------------------------------------
// Settings

struct Scale {
    name: &'static str,
    accounts: Vec<usize>,
    txs: usize,
    batch: usize,
    clients: usize,
    latency_secs: f64,
    ceiling_sigs: usize,
    ceiling_secs: f64,
    breakdown_txs: usize,
    tree_keys: usize,
    tree_touch: usize,
    tree_runs: usize,
    proofs: usize,
    ready_runs: usize,
    instant: bool,
    /// End-to-end loads to run: transfers alone, the escrow mix.
    transfer_load: bool,
    escrow_mix: bool,
}

impl Scale {
    fn from_args() -> Scale {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let has = |flag: &str| args.iter().any(|arg| arg == flag);
        let value = |flag: &str| {
            args.iter()
                .position(|arg| arg == flag)
                .and_then(|at| args.get(at + 1).cloned())
        };
        let mut scale = if has("--tiny") {
            Scale {
                name: "tiny",
                accounts: vec![1_000, 5_000],
                txs: 4_000,
                batch: 1_000,
                clients: 3,
                latency_secs: 3.0,
                ceiling_sigs: 1_024,
                ceiling_secs: 0.3,
                breakdown_txs: 2_000,
                tree_keys: 20_000,
                tree_touch: 1_000,
                tree_runs: 3,
                proofs: 1_000,
                ready_runs: 2,
                instant: false,
                transfer_load: true,
                escrow_mix: true,
            }
        } else if has("--quick") {
            Scale {
                name: "quick",
                accounts: vec![10_000, 100_000],
                txs: 50_000,
                batch: 5_000,
                clients: 4,
                latency_secs: 5.0,
                ceiling_sigs: 8_192,
                ceiling_secs: 1.0,
                breakdown_txs: 20_000,
                tree_keys: 1_000_000,
                tree_touch: 10_000,
                tree_runs: 5,
                proofs: 10_000,
                ready_runs: 3,
                instant: false,
                transfer_load: true,
                escrow_mix: true,
            }
        } else {
            Scale {
                name: "default",
                accounts: vec![10_000, 1_000_000],
                txs: 200_000,
                batch: 5_000,
                clients: 4,
                latency_secs: 10.0,
                ceiling_sigs: 16_384,
                ceiling_secs: 2.0,
                breakdown_txs: 40_000,
                tree_keys: 1_000_000,
                tree_touch: 10_000,
                tree_runs: 7,
                proofs: 10_000,
                ready_runs: 3,
                instant: false,
                transfer_load: true,
                escrow_mix: true,
            }
        };
        if let Some(list) = value("--accounts") {
            scale.accounts = list
                .split(',')
                .map(|item| {
                    item.trim()
                        .parse()
                        .expect("--accounts takes numbers, a,b,c")
                })
                .collect();
        }
        if let Some(txs) = value("--txs") {
            scale.txs = txs.parse().expect("--txs takes a number");
        }
        if let Some(secs) = value("--latency-secs") {
            scale.latency_secs = secs.parse().expect("--latency-secs takes a number");
        }
        scale.instant = has("--instant");
        if let Some(loads) = value("--mix") {
            let loads: Vec<&str> = loads.split(',').map(str::trim).collect();
            scale.transfer_load = loads.contains(&"transfers");
            scale.escrow_mix = loads.contains(&"escrow");
            assert!(
                scale.transfer_load || scale.escrow_mix,
                "--mix takes transfers, escrow or transfers,escrow"
            );
        }
        scale
    }

    fn mode(&self) -> BlockMode {
        if self.instant {
            BlockMode::Instant
        } else {
            BlockMode::Interval { block_time_ms: 500 }
        }
    }

    fn mode_text(&self) -> String {
        match self.mode() {
            BlockMode::Interval { block_time_ms } => format!("Interval {{ {block_time_ms} ms }}"),
            BlockMode::Instant => "Instant".into(),
            BlockMode::Manual => "Manual".into(),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Small helpers

/// Benchmark account `i`'s key: seed sha256("bench" ‖ i as u64 BE).
fn bench_key(i: u64) -> SigningKey {
    SigningKey::from_bytes(&sha256(&[b"bench", &i.to_be_bytes()]))
}

/// (VmRSS, VmHWM) in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn memory_text() -> String {
    let (rss, hwm) = memory();
    format!("VmRSS {rss:.0} MiB, VmHWM {hwm:.0} MiB")
}

/// A value of the node's Prometheus text (histogram sums and counts).
fn metric(metrics: &Metrics, name: &str) -> f64 {
    let text = metrics.render();
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|value| value.trim().parse::<f64>().ok())
        })
        .unwrap_or(f64::NAN)
}

/// (blocks, apply seconds, total seconds) as the node's histograms count them.
fn block_metrics(metrics: &Metrics) -> (f64, f64, f64) {
    (
        metric(metrics, "agora_block_total_seconds_count"),
        metric(metrics, "agora_block_apply_seconds_sum"),
        metric(metrics, "agora_block_total_seconds_sum"),
    )
}

fn committed(metrics: &Metrics) -> u64 {
    metrics.txs_committed.get()
}

// ------------------------------------------------------------------------------------------
// Accounts, genesis and transactions

struct Accounts {
    /// Signing keys of the senders (accounts 0..senders).
    keys: Vec<SigningKey>,
    /// Every funded account.
    ids: Vec<AccountId>,
}

fn make_accounts(count: usize, senders: usize) -> Accounts {
    let senders = senders.min(count);
    let keys: Vec<SigningKey> = (0..senders)
        .into_par_iter()
        .map(|i| bench_key(i as u64))
        .collect();
    let mut ids: Vec<AccountId> = keys.par_iter().map(account_of).collect();
    ids.par_extend(
        (senders..count)
            .into_par_iter()
            .map(|i| account_of(&bench_key(i as u64))),
    );
    Accounts { keys, ids }
}

fn bench_genesis(ids: &[AccountId]) -> GenesisDoc {
    GenesisDoc {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: now_ms().saturating_sub(1_000),
        sequencer: hex::encode(account_of(&devnet_sequencer_key()).0),
        mint_authority: None,
        allocations: ids
            .iter()
            .map(|id| Allocation {
                account: hex::encode(id.0),
                amount: BALANCE,
            })
            .collect(),
    }
}

/// Transfer `j` of the plan: sender j mod S with nonce j div S (round-robin over the
/// senders, consecutive nonces per sender), 1 unit to a pseudo-random other account.
fn sign_transfers(accounts: &Accounts, range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    let chain_id = Label::new(CHAIN_ID).expect("valid chain id");
    let senders = accounts.keys.len();
    let count = accounts.ids.len();
    range
        .into_par_iter()
        .map(|j| {
            let sender = j % senders;
            let mut to = (splitmix(j as u64) % count as u64) as usize;
            if to == sender {
                to = (to + 1) % count;
            }
            UnsignedTx {
                chain_id: chain_id.clone(),
                signer: accounts.ids[sender],
                nonce: (j / senders) as u64,
                valid_until_height: None,
                action: Action::Transfer {
                    to: accounts.ids[to],
                    amount: Amount(1),
                },
            }
            .sign(&accounts.keys[sender])
            .to_bytes()
        })
        .collect()
}

/// Transactions a sender has after the first `total` of the plan.
fn expected_nonce(sender: usize, senders: usize, total: usize) -> u64 {
    (total / senders + usize::from(sender < total % senders)) as u64
}

/// Media type of [`batch_body`].
const BATCH_CONTENT_TYPE: &str = "application/octet-stream";

/// A `POST /v1/txs/batch` body for the listed transactions: borsh `Vec<Vec<u8>>`.
fn batch_body(txs: &[Vec<u8>], indices: impl IntoIterator<Item = usize>) -> Vec<u8> {
    let listed: Vec<&Vec<u8>> = indices.into_iter().map(|index| &txs[index]).collect();
    borsh::to_vec(&listed).expect("a batch body encodes")
}

#[derive(Deserialize)]
struct BatchAnswer {
    results: Vec<BatchItem>,
}

#[derive(Deserialize)]
struct BatchItem {
    status: String,
    #[serde(default)]
    error: Option<ItemError>,
}

#[derive(Deserialize)]
struct ItemError {
    code: u16,
    name: String,
}

// ------------------------------------------------------------------------------------------
// Runtimes and CPU accounting

/// The node's HTTP server runs on `server` (threads named `server`), the load client on
/// `client` (threads named `client`), so that CPU time can be told apart per thread.
struct Runtimes {
    server: Runtime,
    client: Runtime,
}

impl Runtimes {
    fn new() -> Runtimes {
        let server = tokio::runtime::Builder::new_multi_thread()
            .thread_name("server")
            .enable_all()
            .build()
            .expect("server runtime");
        let client = tokio::runtime::Builder::new_multi_thread()
            .thread_name("client")
            .enable_all()
            .build()
            .expect("client runtime");
        Runtimes { server, client }
    }
}

/// The group a thread's CPU time is reported under, by thread name.
fn thread_group(comm: &str) -> &'static str {
    if comm.starts_with("verify-") {
        "admission (verify-* pool)"
    } else if comm.starts_with("sequencer") {
        // the sequencer thread and its pool (sequencer-N, one per core)
        "sequencer"
    } else if comm.starts_with("server") {
        "HTTP server (tokio)"
    } else if comm.starts_with("client") {
        "load client (tokio, reqwest)"
    } else if comm.starts_with("rocksdb") {
        "RocksDB background"
    } else {
        "other (bench main, recorder)"
    }
}

/// Key of the whole machine's busy time in [`thread_cpu`]'s map.
const MACHINE: &str = "(machine)";
/// Key of this whole process's CPU time (live and exited threads).
const PROCESS: &str = "(process)";

/// CPU seconds (user + system) per thread group, from /proc/self/task/*/stat. Threads that
/// exited between two readings are not counted.
fn thread_cpu() -> BTreeMap<&'static str, f64> {
    const TICKS_PER_SECOND: f64 = 100.0;
    let mut groups = BTreeMap::new();
    // Busy time of the whole machine (all processes), to see contention from outside.
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    if let Some(cpu) = stat.lines().next() {
        let fields: Vec<f64> = cpu
            .split_whitespace()
            .skip(1)
            .filter_map(|field| field.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
        let busy: f64 = fields
            .iter()
            .take(8)
            .enumerate()
            .filter(|(at, _)| *at != 3 && *at != 4)
            .map(|(_, ticks)| ticks)
            .sum();
        groups.insert(MACHINE, busy / TICKS_PER_SECOND);
    }
    // The whole process, including threads that have exited.
    let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    if let Some(close) = own.rfind(')') {
        let fields: Vec<f64> = own[close + 1..]
            .split_whitespace()
            .map(|field| field.parse().unwrap_or(0.0))
            .collect();
        let ticks = fields.get(11).copied().unwrap_or(0.0) + fields.get(12).copied().unwrap_or(0.0);
        groups.insert(PROCESS, ticks / TICKS_PER_SECOND);
    }
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return groups;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // After the name: state is field 3, utime field 14, stime field 15.
        let ticks = |at: usize| {
            fields
                .get(at)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        *groups.entry(thread_group(comm)).or_insert(0.0) +=
            (ticks(11) + ticks(12)) / TICKS_PER_SECOND;
    }
    groups
}

/// Prints the CPU used per thread group since `before`, against `wall` seconds on `cores`.
fn print_cpu(before: &BTreeMap<&'static str, f64>, wall: f64) -> String {
    cpu_report(before, &thread_cpu(), wall)
}

/// Prints the CPU used per thread group between two readings; returns a one-line digest.
fn cpu_report(
    before: &BTreeMap<&'static str, f64>,
    after: &BTreeMap<&'static str, f64>,
    wall: f64,
) -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let delta = |group: &str| {
        after.get(group).copied().unwrap_or(0.0) - before.get(group).copied().unwrap_or(0.0)
    };
    let mut used: Vec<(&str, f64)> = after
        .keys()
        .filter(|group| **group != MACHINE && **group != PROCESS)
        .map(|group| (*group, delta(group)))
        .filter(|(_, seconds)| *seconds > 0.005)
        .collect();
    let listed: f64 = used.iter().map(|(_, seconds)| seconds).sum();
    let total = delta(PROCESS).max(listed);
    if total - listed > 0.05 {
        used.push(("threads that exited meanwhile", total - listed));
    }
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    let others = (delta(MACHINE) - total).max(0.0);
    println!(
        "  CPU by thread group over {wall:.2} s wall ({:.2} CPU-s of {:.2} available, {:.0}%):",
        total,
        wall * cores,
        total / (wall * cores) * 100.0
    );
    for (group, seconds) in &used {
        println!(
            "    {group:<30} {seconds:>7.2} CPU-s  ({:>3.0}% of one core)",
            seconds / wall * 100.0
        );
    }
    println!(
        "    {:<30} {others:>7.2} CPU-s  ({:>3.0}% of one core){}",
        "other processes on the machine",
        others / wall * 100.0,
        if others / wall > 0.15 {
            "  <- CONTENTION: figures are low"
        } else {
            ""
        }
    );
    used.iter()
        .take(4)
        .map(|(group, seconds)| {
            let short = group.split(' ').next().unwrap_or(group);
            format!("{short} {:.0}%", seconds / wall * 100.0)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// ------------------------------------------------------------------------------------------
// Node, server, commit-time recorder

struct Server {
    address: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve(node: Arc<Node>) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let address = listener.local_addr().expect("local address");
    let app = agora_runner::api::router(node);
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await
    });
    Server {
        address,
        shutdown,
        task,
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("http client")
}

/// Stops the server, then the node, and waits until the last handle on the node is ours
/// so that dropping it closes RocksDB.
fn stop_node(rt: &Runtimes, server: Server, node: Arc<Node>) {
    rt.server.block_on(async {
        let _ = server.shutdown.send(());
        if tokio::time::timeout(Duration::from_secs(15), server.task)
            .await
            .is_err()
        {
            println!("  (warning: the HTTP server did not stop within 15 s)");
        }
    });
    node.shutdown();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Arc::strong_count(&node) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if Arc::strong_count(&node) > 1 {
        println!(
            "  (warning: {} handles on the node remain; RocksDB stays open)",
            Arc::strong_count(&node) - 1
        );
    }
    drop(node);
}

/// Records the instant each committed height is announced on `node.committed`, on its own
/// thread so that a busy runtime does not delay the reading.
struct Recorder {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<BTreeMap<u64, Instant>>,
}

impl Recorder {
    fn start(mut committed: watch::Receiver<u64>) -> Recorder {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("commit-recorder".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("recorder runtime");
                let mut times = BTreeMap::new();
                committed.borrow_and_update();
                while !flag.load(Ordering::Relaxed) {
                    let changed = rt.block_on(async {
                        tokio::time::timeout(Duration::from_millis(20), committed.changed()).await
                    });
                    match changed {
                        Ok(Ok(())) => {
                            let at = Instant::now();
                            let height = *committed.borrow_and_update();
                            times.insert(height, at);
                        }
                        Ok(Err(_)) => break,
                        Err(_) => {}
                    }
                }
                times
            })
            .expect("recorder thread");
        Recorder { stop, handle }
    }

    fn finish(self) -> BTreeMap<u64, Instant> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

/// The instant height `height` was seen committed (or the first recorded height above it,
/// if the watch channel coalesced).
fn commit_instant(times: &BTreeMap<u64, Instant>, height: u64) -> Option<Instant> {
    times.range(height..).next().map(|(_, at)| *at)
}

/// Waits until the node has committed `target` transactions (counter value), or `limit`.
fn wait_committed(metrics: &Metrics, target: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while committed(metrics) < target {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

// ------------------------------------------------------------------------------------------
// 6a. Devnet ready time

fn devnet_ready(rt: &Runtimes, scale: &Scale, summary: &mut Summary) {
    println!("\n## 6a. Devnet ready time (empty data dir, devnet genesis)");
    let mut start_ms = Vec::new();
    let mut bound_ms = Vec::new();
    let mut health_ms = Vec::new();
    for run in 0..scale.ready_runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = NodeConfig::devnet(dir.path().join("data"));
        config.mode = scale.mode();
        let started = Instant::now();
        let node = Node::start(config, devnet_genesis(now_ms()), devnet_sequencer_key())
            .expect("devnet node starts");
        let started_at = started.elapsed();
        let server = rt.server.block_on(serve(node.clone()));
        let bound_at = started.elapsed();
        let client = http_client();
        let url = format!("http://{}/health", server.address);
        let healthy = rt.client.block_on(async {
            for _ in 0..1_000 {
                if let Ok(answer) = client.get(&url).send().await {
                    if answer.status().is_success() {
                        return true;
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            false
        });
        let health_at = started.elapsed();
        println!(
            "  run {run}: Node::start {:.1} ms, + listener bound {:.1} ms, first /health 200 at \
             {:.1} ms{}",
            started_at.as_secs_f64() * 1e3,
            bound_at.as_secs_f64() * 1e3,
            health_at.as_secs_f64() * 1e3,
            if healthy { "" } else { " (never healthy!)" }
        );
        start_ms.push(started_at.as_secs_f64() * 1e3);
        bound_ms.push(bound_at.as_secs_f64() * 1e3);
        health_ms.push(health_at.as_secs_f64() * 1e3);
        drop(client);
        stop_node(rt, server, node);
    }
    let bound = median(&mut bound_ms);
    let health = median(&mut health_ms);
    println!(
        "  median: Node::start {:.1} ms; start + bind {bound:.1} ms; to first /health {health:.1} ms",
        median(&mut start_ms)
    );
    summary.add(
        "devnet ready (empty dir): Node::start + bind, median",
        format!("{bound:.1} ms (first /health 200 at {health:.1} ms)"),
    );
}

// ------------------------------------------------------------------------------------------
// 1. ed25519 ceiling

/// Returns the 2-core batch-verification rate (signatures/s).
fn ceiling(scale: &Scale, summary: &mut Summary) -> f64 {
    let cores = rayon::current_num_threads();
    println!("\n## 1. ed25519 verification ceiling ({cores} rayon threads)");
    let count = scale.ceiling_sigs;
    let accounts = make_accounts(count, count);
    let chain_id = Label::new(CHAIN_ID).expect("valid chain id");
    let messages: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            UnsignedTx {
                chain_id: chain_id.clone(),
                signer: accounts.ids[i],
                nonce: i as u64,
                valid_until_height: None,
                action: Action::Transfer {
                    to: accounts.ids[(i + 1) % count],
                    amount: Amount(1),
                },
            }
            .signing_message()
        })
        .collect();
    let signatures: Vec<Signature> = messages
        .par_iter()
        .zip(accounts.keys.par_iter())
        .map(|(message, key)| ed25519_dalek::Signer::sign(key, message))
        .collect();
    let keys: Vec<VerifyingKey> = accounts
        .keys
        .iter()
        .map(|key| key.verifying_key())
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    const CHUNK: usize = 64;
    const CHUNK_LARGE: usize = 256;

    let signature_bytes: Vec<[u8; 64]> = signatures.iter().map(Signature::to_bytes).collect();
    let key_bytes: Vec<[u8; 32]> = keys.iter().map(VerifyingKey::to_bytes).collect();
    // The node's rule (agora_contract::sig): strict encodings, cofactored equation.
    let agora_chunk = |messages: &[&[u8]], signatures: &[[u8; 64]], keys: &[[u8; 32]]| {
        let prepared: Vec<sig::Prepared> = messages
            .iter()
            .zip(signatures)
            .zip(keys)
            .filter_map(|((m, s), k)| sig::prepare(k, m, s))
            .collect();
        let weights: Vec<u128> = (0..prepared.len() as u128)
            .map(|i| 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834 ^ (i << 64))
            .collect();
        usize::from(prepared.len() != messages.len() || !sig::verify_batch(&prepared, &weights))
    };
    #[derive(Clone, Copy)]
    enum Mode {
        DalekBatch(usize),
        DalekStrict,
        AgoraBatch,
        AgoraSingle,
    }
    let run = |threads: usize, mode: Mode| -> (f64, usize) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("rayon pool");
        let started = Instant::now();
        let mut verified = 0usize;
        let mut failures = 0usize;
        while started.elapsed().as_secs_f64() < scale.ceiling_secs {
            failures += pool.install(|| match mode {
                Mode::DalekBatch(chunk) => refs
                    .par_chunks(chunk)
                    .zip(signatures.par_chunks(chunk))
                    .zip(keys.par_chunks(chunk))
                    .map(|((m, s), k)| usize::from(ed25519_dalek::verify_batch(m, s, k).is_err()))
                    .sum::<usize>(),
                Mode::DalekStrict => refs
                    .par_iter()
                    .zip(signatures.par_iter())
                    .zip(keys.par_iter())
                    .map(|((m, s), k)| usize::from(k.verify_strict(m, s).is_err()))
                    .sum::<usize>(),
                Mode::AgoraBatch => refs
                    .par_chunks(VERIFY_BATCH_TXS)
                    .zip(signature_bytes.par_chunks(VERIFY_BATCH_TXS))
                    .zip(key_bytes.par_chunks(VERIFY_BATCH_TXS))
                    .map(|((m, s), k)| agora_chunk(m, s, k))
                    .sum::<usize>(),
                Mode::AgoraSingle => refs
                    .par_iter()
                    .zip(signature_bytes.par_iter())
                    .zip(key_bytes.par_iter())
                    .map(|((m, s), k)| usize::from(!sig::verify(k, m, s)))
                    .sum::<usize>(),
            });
            verified += count;
        }
        (verified as f64 / started.elapsed().as_secs_f64(), failures)
    };
    let cpu = thread_cpu();
    let started = Instant::now();
    let (batch_one, f1) = run(1, Mode::DalekBatch(CHUNK));
    let (batch_small, f2) = run(cores, Mode::DalekBatch(CHUNK));
    let (batch_large, f7) = run(cores, Mode::DalekBatch(CHUNK_LARGE));
    let (batch_all, ceiling_chunk) = if batch_large > batch_small {
        (batch_large, CHUNK_LARGE)
    } else {
        (batch_small, CHUNK)
    };
    let (strict_one, f3) = run(1, Mode::DalekStrict);
    let (strict_all, f4) = run(cores, Mode::DalekStrict);
    let (agora_batch_all, f5) = run(cores, Mode::AgoraBatch);
    let (agora_single_all, f6) = run(cores, Mode::AgoraSingle);
    let wall = started.elapsed().as_secs_f64();
    println!(
        "  {count} transfer signing messages ({} bytes each), distinct keys",
        messages[0].len()
    );
    println!("  verify_batch (chunks of {CHUNK}), 1 thread : {batch_one:>10.0} sig/s");
    for (chunk, rate) in [(CHUNK, batch_small), (CHUNK_LARGE, batch_large)] {
        let mark = if chunk == ceiling_chunk {
            "  <- ceiling"
        } else {
            ""
        };
        println!("  verify_batch (chunks of {chunk}), {cores} threads: {rate:>10.0} sig/s{mark}");
    }
    println!("  verify_strict single,         1 thread : {strict_one:>10.0} sig/s");
    println!("  verify_strict single,         {cores} threads: {strict_all:>10.0} sig/s");
    println!(
        "  node rule, batch of {VERIFY_BATCH_TXS} incl. decoding, {cores} threads: {agora_batch_all:>10.0} sig/s"
    );
    println!("  node rule, single,            {cores} threads: {agora_single_all:>10.0} sig/s");
    let failures = f1 + f2 + f3 + f4 + f5 + f6 + f7;
    if failures > 0 {
        println!("  (verification failures: {failures})");
    }
    print_cpu(&cpu, wall);
    summary.add(
        format!("ceiling: verify_batch, {cores} cores"),
        format!("{batch_all:.0} sig/s (chunks of {ceiling_chunk}; x{CHUNK} {batch_small:.0}, x{CHUNK_LARGE} {batch_large:.0})"),
    );
    summary.add(
        format!("verify_strict single, {cores} cores"),
        format!(
            "{strict_all:.0} sig/s (batch is {:.2}x this)",
            batch_all / strict_all
        ),
    );
    summary.add(
        format!("node signature rule, {cores} cores"),
        format!(
            "batch x{VERIFY_BATCH_TXS} {agora_batch_all:.0} sig/s; single {agora_single_all:.0} sig/s"
        ),
    );
    batch_all
}

// ------------------------------------------------------------------------------------------
// Pipeline breakdown: manual-mode node, admission and block production apart

/// Admission (in-process, then over HTTP) and block production apart, on a manual-mode
/// node with the same genesis: `txs` are the first transfers of the plan.
#[allow(clippy::too_many_lines)]
fn breakdown(
    rt: &Runtimes,
    scale: &Scale,
    accounts: &Accounts,
    txs: &[Vec<u8>],
    summary: &mut Summary,
) {
    let label = fmt_count(accounts.ids.len());
    let txs_each = (txs.len() / 2).min(scale.breakdown_txs);
    let senders = accounts.keys.len().min(2 * txs_each);
    println!(
        "\n  -- pipeline breakdown: Manual block mode, same genesis, {txs_each} txs in-process + \
         {txs_each} over HTTP ({senders} senders), then mined"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = NodeConfig::devnet(dir.path().join("data"));
    config.mode = BlockMode::Manual;
    let started = Instant::now();
    let node = Node::start(config, bench_genesis(&accounts.ids), devnet_sequencer_key())
        .expect("node starts");
    println!(
        "  Node::start (genesis init) {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let first = &txs[..txs_each];
    let second = &txs[txs_each..2 * txs_each];

    // In-process admission: Node::submit_batch in chunks like the API does.
    let cpu = thread_cpu();
    let started = Instant::now();
    let mut accepted = 0usize;
    for chunk in first.chunks(scale.batch) {
        accepted += node
            .submit_batch(chunk)
            .iter()
            .filter(|(_, result)| result.is_ok())
            .count();
    }
    let in_process = started.elapsed().as_secs_f64();
    let in_process_rate = accepted as f64 / in_process;
    println!(
        "  admission in-process (Node::submit_batch, chunks of {}): {accepted} accepted in {:.2} s \
         = {in_process_rate:.0} tx/s",
        scale.batch, in_process
    );
    print_cpu(&cpu, in_process);

    // HTTP admission: the same path behind POST /v1/txs/batch, no blocks produced.
    let server = rt.server.block_on(serve(node.clone()));
    let client = http_client();
    let url = format!("http://{}/v1/txs/batch", server.address);
    let bodies: Vec<Bytes> = second
        .par_chunks(scale.batch)
        .map(|chunk| Bytes::from(batch_body(chunk, 0..chunk.len())))
        .collect();
    let http_clients = scale.clients.min(2);
    let cpu = thread_cpu();
    let started = Instant::now();
    let http_accepted = rt.client.block_on(async {
        let queue = Arc::new(Mutex::new(VecDeque::from(bodies)));
        let mut tasks = Vec::new();
        for _ in 0..http_clients {
            let queue = queue.clone();
            let client = client.clone();
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut ok = 0usize;
                loop {
                    let body = queue.lock().expect("queue").pop_front();
                    let Some(body) = body else { break ok };
                    if let Ok(answer) = client
                        .post(&url)
                        .header("content-type", BATCH_CONTENT_TYPE)
                        .body(body)
                        .send()
                        .await
                    {
                        if let Ok(parsed) = answer.json::<BatchAnswer>().await {
                            ok += parsed
                                .results
                                .iter()
                                .filter(|item| item.status != "rejected")
                                .count();
                        }
                    }
                }
            }));
        }
        let mut ok = 0;
        for task in tasks {
            ok += task.await.unwrap_or(0);
        }
        ok
    });
    let http = started.elapsed().as_secs_f64();
    let http_rate = http_accepted as f64 / http;
    println!(
        "  admission over HTTP (POST /v1/txs/batch, {http_clients} clients): {http_accepted} \
         accepted in {http:.2} s = {http_rate:.0} tx/s"
    );
    print_cpu(&cpu, http);

    // What the sequencer's selection costs with this pool, with and without the committed
    // nonce reads it makes per sender (every sender is at nonce 0 here, same selection).
    let next_height = node.height() + 1;
    let shared = node.app.clone();
    let (pool_senders, pool_txs) = {
        let pool = node.mempool.lock().expect("mempool");
        (pool.senders(), pool.len())
    };
    let started = Instant::now();
    let picked = node.mempool.lock().expect("mempool").select(
        node.config.max_block_txs,
        node.config.max_block_bytes,
        next_height,
        |account| shared.committed_nonce(account),
    );
    let select_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let picked_pure = node.mempool.lock().expect("mempool").select(
        node.config.max_block_txs,
        node.config.max_block_bytes,
        next_height,
        |_| 0,
    );
    let select_pure_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let reads = (0..pool_senders.min(accounts.keys.len()))
        .map(|sender| shared.committed_nonce(&accounts.ids[sender]))
        .sum::<u64>();
    let reads_ms = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "  Mempool::select of {} from {pool_txs} txs / {pool_senders} senders (mempool lock held): \
         {select_ms:.1} ms; with the nonce reads stubbed out {select_pure_ms:.1} ms ({} txs); \
         {pool_senders} committed_nonce reads alone {reads_ms:.1} ms{}",
        picked.len(),
        picked_pure.len(),
        if reads == 0 { "" } else { " (nonzero nonces?)" }
    );

    // Block production: mine until the pool is empty.
    let (blocks0, apply0, total0) = block_metrics(&node.metrics);
    let committed0 = committed(&node.metrics);
    let cpu = thread_cpu();
    let started = Instant::now();
    let mut block_ms = Vec::new();
    let mut block_txs = Vec::new();
    while !node.mempool.lock().expect("mempool").is_empty() {
        let before = committed(&node.metrics);
        let mined = Instant::now();
        let result = rt
            .client
            .block_on(node.command(|reply| Command::Mine { blocks: 1, reply }));
        if let Err(error) = result {
            println!("  mine failed: {error}");
            break;
        }
        block_ms.push(mined.elapsed().as_secs_f64() * 1e3);
        block_txs.push(committed(&node.metrics) - before);
        if committed(&node.metrics) == before {
            println!("  (a mined block took no transactions; stopping)");
            break;
        }
    }
    let mining = started.elapsed().as_secs_f64();
    let mined_txs = committed(&node.metrics) - committed0;
    let (blocks1, apply1, total1) = block_metrics(&node.metrics);
    let blocks = blocks1 - blocks0;
    let apply_ms = (apply1 - apply0) / blocks * 1e3;
    let total_ms = (total1 - total0) / blocks * 1e3;
    let production_rate = mined_txs as f64 / mining;
    println!(
        "  block production (Mine command, nothing else running): {mined_txs} txs in {} blocks, \
         {mining:.2} s = {production_rate:.0} tx/s",
        block_ms.len()
    );
    for (ms, txs) in block_ms.iter().zip(&block_txs) {
        println!("    block of {txs:>6} txs: {ms:>8.1} ms");
    }
    println!(
        "  per block (node metrics): select + execute + tree {apply_ms:.1} ms; total incl. header \
         signing, synced RocksDB write, mempool cleanup {total_ms:.1} ms"
    );
    print_cpu(&cpu, mining);
    let serial = 1.0 / (1.0 / http_rate + 1.0 / production_rate);
    println!(
        "  admission over HTTP and production sharing the CPU one after the other: ~{serial:.0} tx/s"
    );
    summary.add(
        format!("{label} accounts: admission in-process / HTTP"),
        format!("{in_process_rate:.0} / {http_rate:.0} tx/s (Manual mode, no blocks)"),
    );
    summary.add(
        format!("{label} accounts: block production alone"),
        format!(
            "{production_rate:.0} tx/s ({apply_ms:.0} ms apply + {:.0} ms commit per block); \
             select {select_ms:.0} ms",
            total_ms - apply_ms
        ),
    );
    drop(client);
    stop_node(rt, server, node);
}

// ------------------------------------------------------------------------------------------
// 2 and 3. End to end over HTTP

struct Job {
    indices: Vec<usize>,
    body: Option<Bytes>,
}

struct Flow {
    metrics: Arc<Metrics>,
    base: u64,
    window: i64,
    total: usize,
    /// Txs sent or accepted and not yet committed (client's own view).
    outstanding: AtomicI64,
    accepted: AtomicUsize,
    failed: AtomicUsize,
    retried: AtomicUsize,
    requests: AtomicUsize,
    errors: Mutex<Vec<String>>,
}

impl Flow {
    fn note_error(&self, error: String) {
        let mut errors = self.errors.lock().expect("errors");
        if errors.len() < 5 {
            errors.push(error);
        }
    }
}

async fn batch_client(
    client: reqwest::Client,
    url: String,
    queue: Arc<Mutex<VecDeque<Job>>>,
    txs: Arc<Vec<Vec<u8>>>,
    flow: Arc<Flow>,
) {
    loop {
        let job = queue.lock().expect("queue").pop_front();
        let Some(job) = job else {
            if flow.accepted.load(Ordering::SeqCst) + flow.failed.load(Ordering::SeqCst)
                >= flow.total
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        };
        let len = job.indices.len() as i64;
        // Keep what is pending below the pool's capacity (no PoolFull, no nonce gaps).
        loop {
            let done = committed(&flow.metrics).saturating_sub(flow.base) as i64;
            let reserved =
                flow.outstanding
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |outstanding| {
                        (outstanding + len - done <= flow.window).then_some(outstanding + len)
                    });
            if reserved.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let body = job
            .body
            .unwrap_or_else(|| Bytes::from(batch_body(&txs, job.indices.iter().copied())));
        flow.requests.fetch_add(1, Ordering::Relaxed);
        let answer = client
            .post(&url)
            .header("content-type", BATCH_CONTENT_TYPE)
            .body(body)
            .send()
            .await;
        let parsed = match answer {
            Ok(answer) if answer.status().is_success() => answer
                .json::<BatchAnswer>()
                .await
                .map_err(|error| error.to_string()),
            Ok(answer) => Err(format!("HTTP {}", answer.status())),
            Err(error) => Err(error.to_string()),
        };
        match parsed {
            Ok(parsed) if parsed.results.len() == job.indices.len() => {
                let mut retry = Vec::new();
                let mut failed = 0usize;
                for (item, index) in parsed.results.iter().zip(&job.indices) {
                    if item.status != "rejected" {
                        continue;
                    }
                    match &item.error {
                        Some(error) if error.code == 600 || error.code == 601 => retry.push(*index),
                        other => {
                            failed += 1;
                            flow.note_error(format!(
                                "tx {index} rejected: {}",
                                other.as_ref().map_or("?", |error| error.name.as_str())
                            ));
                        }
                    }
                }
                let ok = job.indices.len() - retry.len() - failed;
                flow.outstanding
                    .fetch_sub((retry.len() + failed) as i64, Ordering::SeqCst);
                flow.failed.fetch_add(failed, Ordering::SeqCst);
                flow.accepted.fetch_add(ok, Ordering::SeqCst);
                if !retry.is_empty() {
                    flow.retried.fetch_add(retry.len(), Ordering::Relaxed);
                    queue.lock().expect("queue").push_back(Job {
                        indices: retry,
                        body: None,
                    });
                }
            }
            other => {
                let error = match other {
                    Ok(parsed) => format!("{} results for {} txs", parsed.results.len(), len),
                    Err(error) => error,
                };
                flow.note_error(format!("batch failed: {error}"));
                flow.outstanding.fetch_sub(len, Ordering::SeqCst);
                flow.failed.fetch_add(job.indices.len(), Ordering::SeqCst);
            }
        }
    }
}

struct Throughput {
    tx_per_s: f64,
    /// CPU share digest of the run.
    cpu: String,
}

#[allow(clippy::too_many_lines)]
fn throughput_phase(
    rt: &Runtimes,
    scale: &Scale,
    node: &Arc<Node>,
    address: SocketAddr,
    txs: Arc<Vec<Vec<u8>>>,
) -> Throughput {
    let total = txs.len();
    let jobs: VecDeque<Job> = (0..total)
        .collect::<Vec<_>>()
        .par_chunks(scale.batch)
        .map(|indices| Job {
            body: Some(Bytes::from(batch_body(&txs, indices.iter().copied()))),
            indices: indices.to_vec(),
        })
        .collect::<Vec<_>>()
        .into();
    let batches = jobs.len();
    let body_mib = jobs
        .iter()
        .map(|job| job.body.as_ref().map_or(0, Bytes::len))
        .sum::<usize>() as f64
        / (1 << 20) as f64;
    let window = (node.config.mempool.max_txs as f64 * POOL_HEADROOM) as i64;
    let flow = Arc::new(Flow {
        metrics: node.metrics.clone(),
        base: committed(&node.metrics),
        window,
        total,
        outstanding: AtomicI64::new(0),
        accepted: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        retried: AtomicUsize::new(0),
        requests: AtomicUsize::new(0),
        errors: Mutex::new(Vec::new()),
    });
    println!(
        "  load: {total} pre-signed transfers in {batches} batches of {} ({body_mib:.1} MiB of borsh), \
         {} concurrent clients, POST /v1/txs/batch; client keeps <= {window} txs pending",
        scale.batch, scale.clients
    );
    let height0 = node.height();
    let (blocks0, apply0, total0) = block_metrics(&node.metrics);
    let recorder = Recorder::start(node.committed.clone());
    let queue = Arc::new(Mutex::new(jobs));
    let client = http_client();
    let url = format!("http://{address}/v1/txs/batch");
    let cpu = thread_cpu();
    let started = Instant::now();
    rt.client.block_on(async {
        let tasks: Vec<_> = (0..scale.clients)
            .map(|_| {
                tokio::spawn(batch_client(
                    client.clone(),
                    url.clone(),
                    queue.clone(),
                    txs.clone(),
                    flow.clone(),
                ))
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    });
    let submitted_at = started.elapsed();
    let accepted = flow.accepted.load(Ordering::SeqCst);
    let all_in = wait_committed(
        &node.metrics,
        flow.base + accepted as u64,
        Duration::from_secs(120),
    );
    let waited = started.elapsed();
    let cpu_after = thread_cpu();
    // Let the recorder see the last block, then read the exact commit instants.
    std::thread::sleep(Duration::from_millis(30));
    let times = recorder.finish();
    let height1 = node.height();
    let (blocks1, apply1, total1) = block_metrics(&node.metrics);

    let mut cumulative = 0u64;
    let mut last_height = height1;
    let mut sizes = Vec::new();
    let mut failed_receipts = 0usize;
    for height in height0 + 1..=height1 {
        let Ok(Some(block)) = node.store.block(height) else {
            continue;
        };
        let count = u64::from(block.header.header.tx_count);
        if count > 0 {
            sizes.push(count);
        }
        if let Ok(receipts) = node.store.receipts(height) {
            failed_receipts += receipts
                .iter()
                .filter(|receipt| receipt.status != TxStatus::Success)
                .count();
        }
        if cumulative < accepted as u64 {
            cumulative += count;
            if cumulative >= accepted as u64 {
                last_height = height;
            }
        }
    }
    let end = commit_instant(&times, last_height);
    let elapsed = end.map_or(waited, |end| end.duration_since(started));
    let tx_per_s = accepted as f64 / elapsed.as_secs_f64();
    let blocks = blocks1 - blocks0;
    let busy = (total1 - total0) / elapsed.as_secs_f64();
    println!(
        "  all {} batches answered after {:.2} s (accepted {accepted}, rejected {}, re-sent after \
         PoolFull {}, requests {})",
        batches,
        submitted_at.as_secs_f64(),
        flow.failed.load(Ordering::SeqCst),
        flow.retried.load(Ordering::Relaxed),
        flow.requests.load(Ordering::Relaxed)
    );
    for error in flow.errors.lock().expect("errors").iter() {
        println!("    error: {error}");
    }
    if !all_in {
        println!("  WARNING: not every accepted tx was committed within 120 s");
    }
    println!(
        "  last tx committed at height {last_height}, {:.2} s after the first submit",
        elapsed.as_secs_f64()
    );
    println!("  => {tx_per_s:.0} committed tx/s end to end");
    let max_block = sizes.iter().copied().max().unwrap_or(0);
    let mean_block = sizes.iter().sum::<u64>() as f64 / sizes.len().max(1) as f64;
    println!(
        "  blocks with txs: {} (mean {mean_block:.0} txs, max {max_block}); failed receipts: \
         {failed_receipts}",
        sizes.len()
    );
    println!(
        "  sequencer per block (node metrics over {blocks:.0} blocks): select+execute+tree {:.1} ms, \
         total {:.1} ms; sequencer busy {:.0}% of the wall time",
        (apply1 - apply0) / blocks * 1e3,
        (total1 - total0) / blocks * 1e3,
        busy * 100.0
    );
    let cpu = cpu_report(&cpu, &cpu_after, waited.as_secs_f64());
    Throughput { tx_per_s, cpu }
}

struct Latency {
    p50: f64,
    p99: f64,
    rate: f64,
    /// Mean time to produce a block during the phase.
    block_ms: f64,
}

#[allow(clippy::too_many_lines)]
fn latency_phase(
    rt: &Runtimes,
    scale: &Scale,
    node: &Arc<Node>,
    address: SocketAddr,
    txs: Vec<Vec<u8>>,
    rate: f64,
) -> Latency {
    let total = txs.len();
    let tick = Duration::from_millis(10);
    let per_tick = rate * tick.as_secs_f64();
    println!(
        "  paced load: {total} transfers at {rate:.0} tx/s for {:.0} s, every {} ms {}",
        scale.latency_secs,
        tick.as_millis(),
        if per_tick <= 4.0 {
            format!("~{per_tick:.1} single POST /v1/txs (octet-stream)")
        } else {
            format!("one POST /v1/txs/batch of ~{per_tick:.0} txs")
        }
    );
    let hashes: Vec<Hash> = txs.par_iter().map(|tx| sha256(&[tx])).collect();
    let txs = Arc::new(txs);
    let base = committed(&node.metrics);
    let recorder = Recorder::start(node.committed.clone());
    let client = http_client();
    let single_url = format!("http://{address}/v1/txs");
    let batch_url = format!("http://{address}/v1/txs/batch");
    let singles = Arc::new(AtomicUsize::new(0));
    let batches = Arc::new(AtomicUsize::new(0));
    let (blocks0, apply0, total0) = block_metrics(&node.metrics);
    let cpu = thread_cpu();
    let phase = Instant::now();
    // (first index, submit instant, accepted flags)
    let sent: Vec<(usize, Instant, Vec<bool>)> = rt.client.block_on(async {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let started = Instant::now();
        let mut next = 0usize;
        let mut tasks = Vec::new();
        while next < total {
            ticker.tick().await;
            let due = ((started.elapsed().as_secs_f64() * rate).ceil() as usize).min(total);
            if due <= next {
                continue;
            }
            let range = next..due;
            next = due;
            if range.len() <= 4 {
                for index in range {
                    let client = client.clone();
                    let url = single_url.clone();
                    let txs = txs.clone();
                    let singles = singles.clone();
                    tasks.push(tokio::spawn(async move {
                        singles.fetch_add(1, Ordering::Relaxed);
                        let at = Instant::now();
                        let ok = client
                            .post(&url)
                            .header("content-type", "application/octet-stream")
                            .body(txs[index].clone())
                            .send()
                            .await
                            .is_ok_and(|answer| answer.status().is_success());
                        (index, at, vec![ok])
                    }));
                }
            } else {
                let client = client.clone();
                let url = batch_url.clone();
                let txs = txs.clone();
                let batches = batches.clone();
                tasks.push(tokio::spawn(async move {
                    batches.fetch_add(1, Ordering::Relaxed);
                    let body = batch_body(&txs, range.clone());
                    let at = Instant::now();
                    let oks = match client
                        .post(&url)
                        .header("content-type", BATCH_CONTENT_TYPE)
                        .body(body)
                        .send()
                        .await
                    {
                        Ok(answer) => match answer.json::<BatchAnswer>().await {
                            Ok(parsed) => parsed
                                .results
                                .iter()
                                .map(|item| item.status != "rejected")
                                .collect(),
                            Err(_) => vec![false; range.len()],
                        },
                        Err(_) => vec![false; range.len()],
                    };
                    (range.start, at, oks)
                }));
            }
        }
        let mut sent = Vec::new();
        for task in tasks {
            if let Ok(item) = task.await {
                sent.push(item);
            }
        }
        sent
    });
    let accepted: usize = sent
        .iter()
        .map(|(_, _, oks)| oks.iter().filter(|ok| **ok).count())
        .sum();
    let all_in = wait_committed(
        &node.metrics,
        base + accepted as u64,
        Duration::from_secs(60),
    );
    let phase = phase.elapsed().as_secs_f64();
    let cpu_after = thread_cpu();
    let (blocks1, apply1, total1) = block_metrics(&node.metrics);
    std::thread::sleep(Duration::from_millis(30));
    let times = recorder.finish();
    let mut latencies = Vec::with_capacity(accepted);
    let mut missing = 0usize;
    for (first, at, oks) in &sent {
        for (offset, ok) in oks.iter().enumerate() {
            if !ok {
                continue;
            }
            let location = node
                .store
                .tx_location(&hashes[first + offset])
                .ok()
                .flatten();
            match location.and_then(|location| commit_instant(&times, location.height)) {
                Some(done) => latencies.push(done.duration_since(*at).as_secs_f64() * 1e3),
                None => missing += 1,
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let p50 = percentile(&latencies, 50.0);
    let p99 = percentile(&latencies, 99.0);
    let max = latencies.last().copied().unwrap_or(f64::NAN);
    let mean = latencies.iter().sum::<f64>() / latencies.len().max(1) as f64;
    println!(
        "  requests: {} single, {} batch; accepted {accepted} of {total}; latency measured for {}{}{}",
        singles.load(Ordering::Relaxed),
        batches.load(Ordering::Relaxed),
        latencies.len(),
        if missing > 0 {
            format!(" ({missing} without a recorded commit)")
        } else {
            String::new()
        },
        if all_in {
            ""
        } else {
            " (WARNING: not all committed within 60 s)"
        }
    );
    println!(
        "  submit-to-commit latency: p50 {p50:.1} ms, p99 {p99:.1} ms, mean {mean:.1} ms, max \
         {max:.1} ms"
    );
    let blocks = blocks1 - blocks0;
    let block_ms = (total1 - total0) / blocks * 1e3;
    println!(
        "  blocks during the phase: {blocks:.0}, mean production {block_ms:.1} ms each (apply \
         {:.1} ms); a tx waits for the next tick, then for its block to be produced and synced",
        (apply1 - apply0) / blocks * 1e3
    );
    cpu_report(&cpu, &cpu_after, phase);
    Latency {
        p50,
        p99,
        rate,
        block_ms,
    }
}

/// 2 and 3 with transfers alone: throughput, then latency at half of it, then the nonce check.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
fn transfer_load(
    rt: &Runtimes,
    scale: &Scale,
    node: &Arc<Node>,
    address: SocketAddr,
    accounts: &Accounts,
    txs: &Arc<Vec<Vec<u8>>>,
    ceiling: f64,
    summary: &mut Summary,
) {
    let count = accounts.ids.len();
    let label = fmt_count(count);
    let senders = accounts.keys.len();
    // 2. Throughput.
    let throughput = throughput_phase(rt, scale, node, address, txs.clone());
    let ratio = throughput.tx_per_s / ceiling;
    println!(
        "  ratio to the batch-verify ceiling ({ceiling:.0} sig/s): {:.1}%",
        ratio * 100.0
    );
    summary.add(
        format!("{label} accounts: END-TO-END committed tx/s"),
        format!(
            "{:.0} tx/s = {:.1}% of ceiling (CPU: {})",
            throughput.tx_per_s,
            ratio * 100.0,
            throughput.cpu
        ),
    );

    // 3. Latency at half the throughput.
    let rate = (throughput.tx_per_s / 2.0).max(1.0);
    let latency_count = ((rate * scale.latency_secs) as usize).max(1);
    let started = Instant::now();
    let latency_txs = sign_transfers(accounts, scale.txs..scale.txs + latency_count);
    println!(
        "\n  latency at half throughput: pre-signed {latency_count} more in {:.1} s (not timed)",
        started.elapsed().as_secs_f64()
    );
    let latency = latency_phase(rt, scale, node, address, latency_txs, rate);
    let bound = match scale.mode() {
        BlockMode::Interval { block_time_ms } => block_time_ms as f64 + 50.0,
        _ => 50.0,
    };
    println!(
        "  block interval {}; p99 {:.1} ms vs block interval + 50 ms = {bound:.0} ms: {}",
        scale.mode_text(),
        latency.p99,
        if latency.p99 <= bound {
            "within"
        } else {
            "ABOVE"
        }
    );
    summary.add(
        format!(
            "{label} accounts: latency p50 / p99 at {:.0} tx/s",
            latency.rate
        ),
        format!(
            "{:.0} / {:.0} ms (interval + 50 ms = {bound:.0} ms; blocks took {:.0} ms)",
            latency.p50, latency.p99, latency.block_ms
        ),
    );

    // Every sender's nonce moved by exactly its planned transactions (sampled).
    let total = scale.txs + latency_count;
    let step = (senders / 2_000).max(1);
    let mut checked = 0usize;
    let mut wrong = 0usize;
    for sender in (0..senders).step_by(step) {
        checked += 1;
        if node.app.committed_nonce(&accounts.ids[sender]) != expected_nonce(sender, senders, total)
        {
            wrong += 1;
        }
    }
    println!("  nonce check: {wrong} of {checked} sampled senders differ from the plan");
}

// ------------------------------------------------------------------------------------------
// 2 and 3 with escrow actions: the escrow mix

/// What a transaction of the escrow mix does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Transfer,
    CreateEscrow,
    FundEscrow,
    MarkCompleted,
    Approve,
}

impl Step {
    const ALL: [Step; 5] = [
        Step::Transfer,
        Step::CreateEscrow,
        Step::FundEscrow,
        Step::MarkCompleted,
        Step::Approve,
    ];

    fn name(self) -> &'static str {
        match self {
            Step::Transfer => "Transfer",
            Step::CreateEscrow => "CreateEscrow",
            Step::FundEscrow => "FundEscrow",
            Step::MarkCompleted => "MarkCompleted",
            Step::Approve => "Approve",
        }
    }
}

/// A signed load in which some transactions wait for another signer's transaction to commit.
struct MixPlan {
    txs: Vec<Vec<u8>>,
    steps: Vec<Step>,
    /// `then[i]`: the transactions sent once `i` is seen committed.
    then: Vec<Vec<usize>>,
    /// Whether `i` waits for another transaction (the inverse of `then`).
    waits: Vec<bool>,
    /// (CreateEscrow, Approve) of each escrow.
    escrows: Vec<(usize, usize)>,
}

/// One planned transaction before signing.
struct MixItem {
    signer: usize,
    nonce: u64,
    action: Action,
    step: Step,
    after: Option<usize>,
}

/// Signs escrow-mix plans over the benchmark's senders. Half of each plan is transfers by the
/// transfer senders (1 unit to a pseudo-random account); the other half is escrows of four
/// steps between a requester and its own provider: `CreateEscrow` (Single kind, not funded)
/// and `FundEscrow` by the requester, `MarkCompleted` by the provider once the funding is
/// committed, `Approve Release` by the requester once the completion is committed. Sender
/// keys 0..R are requesters, R..2R their providers, 2R.. transfer senders; nonces continue
/// from the committed ones, consecutive per signer.
///
/// A requester with several escrows in one plan either opens them all at once (`chained`
/// false: every creation and funding is sent at the start and the approvals take the nonces
/// after them, for the throughput run) or one after another (`chained`: the next escrow's
/// creation and funding are sent with the previous approval and take the nonces after it,
/// for the paced run, so that no transaction waits in the pool behind a later one's nonce).
struct MixPlanner<'a> {
    accounts: &'a Accounts,
    chain_id: Label,
    requesters: usize,
    transfer_senders: usize,
    nonces: Vec<u64>,
    escrows_planned: u64,
    transfers_planned: u64,
    deadline_ms: u64,
}

impl<'a> MixPlanner<'a> {
    /// Roles sized for a plan of `plan_txs`; `nonces` are the senders' committed nonces.
    fn new(accounts: &'a Accounts, plan_txs: usize, nonces: Vec<u64>) -> MixPlanner<'a> {
        let senders = accounts.keys.len();
        let escrows = plan_txs / 8;
        let requesters = escrows.min(senders / 4).max(1);
        let transfer_senders = (plan_txs - 4 * escrows)
            .min(senders.saturating_sub(2 * requesters))
            .max(1);
        MixPlanner {
            accounts,
            chain_id: Label::new(CHAIN_ID).expect("valid chain id"),
            requesters,
            transfer_senders,
            nonces,
            escrows_planned: 0,
            transfers_planned: 0,
            deadline_ms: now_ms() + 24 * 3_600_000,
        }
    }

    fn item(&mut self, signer: usize, action: Action, step: Step, after: Option<usize>) -> MixItem {
        let nonce = self.nonces[signer];
        self.nonces[signer] += 1;
        MixItem {
            signer,
            nonce,
            action,
            step,
            after,
        }
    }

    fn escrow_id(&mut self) -> Uuid {
        self.escrows_planned += 1;
        let digest = sha256(&[b"bench-escrow", &self.escrows_planned.to_be_bytes()]);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        // An RFC 4122 version-4 id: outside the space reserved for chain-derived ids.
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid::from_bytes(bytes)
    }

    /// The next `total` transactions: transfers (senders in turn) and escrows (requesters in
    /// turn) interleaved in proportion.
    #[allow(clippy::too_many_lines)]
    fn plan(&mut self, total: usize, chained: bool) -> MixPlan {
        let escrows = total / 8;
        let transfers = total - 4 * escrows;
        let (requesters, senders) = (self.requesters, self.transfer_senders);
        let count = self.accounts.ids.len();
        let mut items: Vec<MixItem> = Vec::with_capacity(total);
        let mut pending: Vec<(usize, usize, usize, Uuid)> = Vec::with_capacity(escrows);
        let mut escrow_pairs = Vec::with_capacity(escrows);
        // Chained: each requester's last MarkCompleted, which releases its next escrow.
        let mut last_completion: Vec<Option<usize>> = vec![None; requesters];
        let (mut planned_transfers, mut planned_escrows) = (0, 0);
        while planned_transfers < transfers || planned_escrows < escrows {
            // Interleaved in proportion (four transfers per escrow when half are transfers),
            // so that every stretch of the load has the mix of the whole.
            let transfer_next = planned_escrows == escrows
                || (planned_transfers < transfers
                    && planned_transfers * escrows <= planned_escrows * transfers);
            if transfer_next {
                let sender = 2 * requesters + planned_transfers % senders;
                self.transfers_planned += 1;
                let mut to = (splitmix(self.transfers_planned ^ 0x7AB5) % count as u64) as usize;
                if to == sender {
                    to = (to + 1) % count;
                }
                let action = Action::Transfer {
                    to: self.accounts.ids[to],
                    amount: Amount(1),
                };
                let item = self.item(sender, action, Step::Transfer, None);
                items.push(item);
                planned_transfers += 1;
                continue;
            }
            let requester = planned_escrows % requesters;
            let provider = requesters + requester;
            let id = self.escrow_id();
            let create = Action::CreateEscrow(CreateEscrow {
                id,
                provider: self.accounts.ids[provider],
                amount: Amount(10),
                kind: EscrowKind::Single,
                arbitrators: BoundedVec::empty(),
                deadline_ms: self.deadline_ms,
                dispute_window_ms: None,
                job_ref: sha256(&[id.as_bytes()]),
                fund: false,
            });
            let created = items.len();
            let opened_after = if chained {
                last_completion[requester]
            } else {
                None
            };
            let item = self.item(requester, create, Step::CreateEscrow, opened_after);
            items.push(item);
            let item = self.item(
                requester,
                Action::FundEscrow { id },
                Step::FundEscrow,
                opened_after,
            );
            items.push(item);
            let complete = Action::MarkCompleted {
                id,
                result_hash: sha256(&[b"result", id.as_bytes()]),
            };
            let completed = items.len();
            let item = self.item(provider, complete, Step::MarkCompleted, Some(created + 1));
            items.push(item);
            if chained {
                let approve = Action::Approve {
                    id,
                    decision: Decision::Release,
                };
                escrow_pairs.push((created, items.len()));
                let item = self.item(requester, approve, Step::Approve, Some(completed));
                items.push(item);
                last_completion[requester] = Some(completed);
            } else {
                pending.push((requester, created, completed, id));
            }
            planned_escrows += 1;
        }
        // Not chained: the approvals take each requester's nonces after all its creations
        // and fundings.
        for (requester, created, completed, id) in pending {
            let approve = Action::Approve {
                id,
                decision: Decision::Release,
            };
            escrow_pairs.push((created, items.len()));
            let item = self.item(requester, approve, Step::Approve, Some(completed));
            items.push(item);
        }
        let mut then = vec![Vec::new(); items.len()];
        for (index, item) in items.iter().enumerate() {
            if let Some(before) = item.after {
                then[before].push(index);
            }
        }
        let steps = items.iter().map(|item| item.step).collect();
        let waits = items.iter().map(|item| item.after.is_some()).collect();
        let keys = &self.accounts.keys;
        let ids = &self.accounts.ids;
        let chain_id = &self.chain_id;
        let txs = items
            .into_par_iter()
            .map(|item| {
                UnsignedTx {
                    chain_id: chain_id.clone(),
                    signer: ids[item.signer],
                    nonce: item.nonce,
                    valid_until_height: None,
                    action: item.action,
                }
                .sign(&keys[item.signer])
                .to_bytes()
            })
            .collect();
        MixPlan {
            txs,
            steps,
            then,
            waits,
            escrows: escrow_pairs,
        }
    }
}

/// The mix client's shared state.
struct MixFlow {
    metrics: Arc<Metrics>,
    base: u64,
    window: i64,
    /// Paced runs send at most `rate × elapsed` txs; unpaced runs keep at most `window`
    /// pending instead.
    pace: Option<(Instant, f64)>,
    total: usize,
    give_up_at: Instant,
    queue: Mutex<MixQueue>,
    accepted: AtomicUsize,
    /// Rejected at admission, or waiting for a rejected transaction.
    failed: AtomicUsize,
    retried: AtomicUsize,
    requests: AtomicUsize,
    /// When the request that admitted each transaction was sent.
    submitted: Mutex<Vec<Option<Instant>>>,
    errors: Mutex<Vec<String>>,
    stop: AtomicBool,
}

struct MixQueue {
    /// Released by a commit, or to re-send after PoolFull: sent first.
    released: VecDeque<usize>,
    /// Ready from the start, in plan order.
    initial: VecDeque<usize>,
    /// Sent and not rejected (paced budget).
    sent: usize,
    /// Sent and not rejected, before subtracting commits (unpaced window).
    outstanding: i64,
}

impl MixFlow {
    fn decided(&self) -> usize {
        self.accepted.load(Ordering::SeqCst) + self.failed.load(Ordering::SeqCst)
    }

    fn note_error(&self, error: String) {
        let mut errors = self.errors.lock().expect("errors");
        if errors.len() < 5 {
            errors.push(error);
        }
    }

    /// Takes up to `batch` transactions the budget allows.
    fn take(&self, batch: usize) -> Vec<usize> {
        let mut queue = self.queue.lock().expect("queue");
        let free = match self.pace {
            Some((start, rate)) => {
                ((start.elapsed().as_secs_f64() * rate) as usize).saturating_sub(queue.sent)
            }
            None => {
                let done = committed(&self.metrics).saturating_sub(self.base) as i64;
                (self.window - (queue.outstanding - done)).max(0) as usize
            }
        };
        let mut job = Vec::with_capacity(free.min(batch));
        while job.len() < free.min(batch) {
            let Some(index) = queue
                .released
                .pop_front()
                .or_else(|| queue.initial.pop_front())
            else {
                break;
            };
            job.push(index);
        }
        queue.sent += job.len();
        queue.outstanding += job.len() as i64;
        job
    }

    /// Gives back the budget of transactions that were not admitted; `retry` are sent again.
    fn give_back(&self, retry: Vec<usize>, rejected: usize) {
        let mut queue = self.queue.lock().expect("queue");
        queue.sent -= retry.len() + rejected;
        queue.outstanding -= (retry.len() + rejected) as i64;
        queue.released.extend(retry);
    }

    /// Counts `index` and every transaction waiting on it, directly or not, as failed.
    fn fail_chain(&self, plan: &MixPlan, index: usize) {
        let mut count = 0;
        let mut stack = vec![index];
        while let Some(at) = stack.pop() {
            count += 1;
            stack.extend(&plan.then[at]);
        }
        self.failed.fetch_add(count, Ordering::SeqCst);
    }
}

async fn mix_client(
    client: reqwest::Client,
    url: String,
    batch: usize,
    plan: Arc<MixPlan>,
    flow: Arc<MixFlow>,
) {
    let idle = Duration::from_millis(if flow.pace.is_some() { 10 } else { 2 });
    while flow.decided() < flow.total && Instant::now() < flow.give_up_at {
        let job = flow.take(batch);
        if job.is_empty() {
            tokio::time::sleep(idle).await;
            continue;
        }
        let body = batch_body(&plan.txs, job.iter().copied());
        flow.requests.fetch_add(1, Ordering::Relaxed);
        let at = Instant::now();
        let answer = client
            .post(&url)
            .header("content-type", BATCH_CONTENT_TYPE)
            .body(body)
            .send()
            .await;
        let parsed = match answer {
            Ok(answer) if answer.status().is_success() => answer
                .json::<BatchAnswer>()
                .await
                .map_err(|error| error.to_string()),
            Ok(answer) => Err(format!("HTTP {}", answer.status())),
            Err(error) => Err(error.to_string()),
        };
        match parsed {
            Ok(parsed) if parsed.results.len() == job.len() => {
                let mut retry = Vec::new();
                let mut rejected = Vec::new();
                let mut admitted = Vec::new();
                for (item, index) in parsed.results.iter().zip(&job) {
                    if item.status != "rejected" {
                        admitted.push(*index);
                        continue;
                    }
                    match &item.error {
                        Some(error) if error.code == 600 || error.code == 601 => retry.push(*index),
                        other => {
                            rejected.push(*index);
                            flow.note_error(format!(
                                "{} {index} rejected: {}",
                                plan.steps[*index].name(),
                                other.as_ref().map_or("?", |error| error.name.as_str())
                            ));
                        }
                    }
                }
                {
                    let mut submitted = flow.submitted.lock().expect("submitted");
                    for index in &admitted {
                        submitted[*index] = Some(at);
                    }
                }
                flow.accepted.fetch_add(admitted.len(), Ordering::SeqCst);
                flow.retried.fetch_add(retry.len(), Ordering::Relaxed);
                flow.give_back(retry, rejected.len());
                for index in rejected {
                    flow.fail_chain(&plan, index);
                }
            }
            other => {
                let error = match other {
                    Ok(parsed) => format!("{} results for {} txs", parsed.results.len(), job.len()),
                    Err(error) => error,
                };
                flow.note_error(format!("batch failed: {error}"));
                flow.give_back(Vec::new(), job.len());
                for index in job {
                    flow.fail_chain(&plan, index);
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct HealthAnswer {
    height: u64,
}

#[derive(Deserialize)]
struct BlockAnswer {
    tx_hashes: Vec<String>,
}

/// The client's view of commits: polls `GET /health` for the height and reads each new block
/// with `GET /v1/blocks/{height}`; a committed transaction releases the one waiting for it.
async fn follow_commits(
    client: reqwest::Client,
    base_url: String,
    plan: Arc<MixPlan>,
    index: Arc<HashMap<Hash, usize>>,
    flow: Arc<MixFlow>,
    mut seen: u64,
) {
    while !flow.stop.load(Ordering::SeqCst) {
        let height = match client.get(format!("{base_url}/health")).send().await {
            Ok(answer) => answer
                .json::<HealthAnswer>()
                .await
                .map_or(seen, |health| health.height),
            Err(_) => seen,
        };
        while seen < height {
            let url = format!("{base_url}/v1/blocks/{}", seen + 1);
            let Ok(answer) = client.get(&url).send().await else {
                break;
            };
            let Ok(block) = answer.json::<BlockAnswer>().await else {
                break;
            };
            let released: Vec<usize> = block
                .tx_hashes
                .iter()
                .filter_map(|text| {
                    let hash: Hash = hex::decode(text).ok()?.try_into().ok()?;
                    index.get(&hash)
                })
                .flat_map(|at| plan.then[*at].iter().copied())
                .collect();
            if !released.is_empty() {
                flow.queue.lock().expect("queue").released.extend(released);
            }
            seen += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

struct MixOutcome {
    tx_per_s: f64,
    p50: f64,
    p99: f64,
    escrow_p50: f64,
    escrow_p99: f64,
    failed_receipts: usize,
    /// Mean time to produce a block during the phase.
    block_ms: f64,
    cpu: String,
}

/// Sends `plan` over `POST /v1/txs/batch` from `scale.clients` concurrent clients, each
/// waiting transaction once the one it waits for is seen committed; unpaced (throughput,
/// at most the pool's headroom pending) or paced at `rate` tx/s (latency).
#[allow(clippy::too_many_lines)]
fn mix_phase(
    rt: &Runtimes,
    scale: &Scale,
    node: &Arc<Node>,
    address: SocketAddr,
    plan: MixPlan,
    rate: Option<f64>,
) -> MixOutcome {
    let total = plan.txs.len();
    let hashes: Vec<Hash> = plan.txs.par_iter().map(|tx| sha256(&[tx])).collect();
    let index: Arc<HashMap<Hash, usize>> = Arc::new(
        hashes
            .iter()
            .enumerate()
            .map(|(at, hash)| (*hash, at))
            .collect(),
    );
    let initial: VecDeque<usize> = (0..total).filter(|at| !plan.waits[*at]).collect();
    let window = (node.config.mempool.max_txs as f64 * POOL_HEADROOM) as i64;
    let batch = match rate {
        Some(rate) => ((rate / 100.0).ceil() as usize).clamp(1, scale.batch),
        None => scale.batch,
    };
    match rate {
        Some(rate) => println!(
            "  paced load: {total} txs at {rate:.0} tx/s, POST /v1/txs/batch of up to {batch} \
             txs as the pace allows (clients wake every 10 ms, {} clients); {} ready from the \
             start, the rest once the step before is seen committed",
            scale.clients,
            initial.len()
        ),
        None => println!(
            "  load: {total} pre-signed txs, POST /v1/txs/batch of up to {batch} from {} \
             concurrent clients, <= {window} txs pending; {} sent at once, {} when the step \
             before is seen committed (GET /health + GET /v1/blocks/{{h}} every 5 ms)",
            scale.clients,
            initial.len(),
            total - initial.len()
        ),
    }
    let flow = Arc::new(MixFlow {
        metrics: node.metrics.clone(),
        base: committed(&node.metrics),
        window,
        pace: rate.map(|rate| (Instant::now(), rate)),
        total,
        give_up_at: Instant::now() + Duration::from_secs(600),
        queue: Mutex::new(MixQueue {
            released: VecDeque::new(),
            initial,
            sent: 0,
            outstanding: 0,
        }),
        accepted: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        retried: AtomicUsize::new(0),
        requests: AtomicUsize::new(0),
        submitted: Mutex::new(vec![None; total]),
        errors: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    });
    let plan = Arc::new(plan);
    let height0 = node.height();
    let (blocks0, apply0, total0) = block_metrics(&node.metrics);
    let recorder = Recorder::start(node.committed.clone());
    let client = http_client();
    let base_url = format!("http://{address}");
    let url = format!("{base_url}/v1/txs/batch");
    let cpu = thread_cpu();
    let started = Instant::now();
    rt.client.block_on(async {
        let follower = tokio::spawn(follow_commits(
            client.clone(),
            base_url.clone(),
            plan.clone(),
            index.clone(),
            flow.clone(),
            height0,
        ));
        let tasks: Vec<_> = (0..scale.clients)
            .map(|_| {
                tokio::spawn(mix_client(
                    client.clone(),
                    url.clone(),
                    batch,
                    plan.clone(),
                    flow.clone(),
                ))
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
        flow.stop.store(true, Ordering::SeqCst);
        let _ = follower.await;
    });
    let submitted_at = started.elapsed();
    let accepted = flow.accepted.load(Ordering::SeqCst);
    let all_in = wait_committed(
        &node.metrics,
        flow.base + accepted as u64,
        Duration::from_secs(120),
    );
    let waited = started.elapsed();
    let cpu_after = thread_cpu();
    std::thread::sleep(Duration::from_millis(30));
    let times = recorder.finish();
    let height1 = node.height();
    let (blocks1, apply1, total1) = block_metrics(&node.metrics);

    // Blocks of the phase: where the last accepted tx landed, and every receipt by step.
    let mut cumulative = 0u64;
    let mut last_height = height1;
    let mut by_step: BTreeMap<Step, (usize, usize)> = BTreeMap::new();
    let mut failure_names: BTreeMap<String, usize> = BTreeMap::new();
    for height in height0 + 1..=height1 {
        let Ok(Some(block)) = node.store.block(height) else {
            continue;
        };
        let receipts = node.store.receipts(height).unwrap_or_default();
        for receipt in &receipts {
            let step = index.get(&receipt.tx_hash).map(|at| plan.steps[*at]);
            let entry = by_step.entry(step.unwrap_or(Step::Transfer)).or_default();
            match &receipt.status {
                TxStatus::Success => entry.0 += 1,
                TxStatus::Failed(error) => {
                    entry.1 += 1;
                    *failure_names.entry(error.name().to_string()).or_default() += 1;
                }
            }
        }
        if cumulative < accepted as u64 {
            cumulative += u64::from(block.header.header.tx_count);
            if cumulative >= accepted as u64 {
                last_height = height;
            }
        }
    }
    let end = commit_instant(&times, last_height);
    let elapsed = end.map_or(waited, |end| end.duration_since(started));
    let tx_per_s = accepted as f64 / elapsed.as_secs_f64();

    // Submit-to-commit latency of every admitted tx, and create-to-release per escrow.
    let submitted = flow.submitted.lock().expect("submitted").clone();
    let commit_at = |at: usize| {
        let location = node.store.tx_location(&hashes[at]).ok().flatten()?;
        commit_instant(&times, location.height)
    };
    let mut latencies = Vec::with_capacity(accepted);
    let mut latencies_by_step: BTreeMap<Step, Vec<f64>> = BTreeMap::new();
    for (at, sent) in submitted.iter().enumerate() {
        let (Some(sent), Some(done)) = (sent, commit_at(at)) else {
            continue;
        };
        let ms = done.duration_since(*sent).as_secs_f64() * 1e3;
        latencies.push(ms);
        latencies_by_step
            .entry(plan.steps[at])
            .or_default()
            .push(ms);
    }
    let mut escrow_ms: Vec<f64> = plan
        .escrows
        .iter()
        .filter_map(|(created, approved)| {
            let sent = submitted[*created]?;
            Some(commit_at(*approved)?.duration_since(sent).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    escrow_ms.sort_by(f64::total_cmp);
    let p50 = percentile(&latencies, 50.0);
    let p99 = percentile(&latencies, 99.0);
    let escrow_p50 = percentile(&escrow_ms, 50.0);
    let escrow_p99 = percentile(&escrow_ms, 99.0);
    let failed_receipts: usize = by_step.values().map(|(_, failed)| failed).sum();

    println!(
        "  all sent after {:.2} s (accepted {accepted}, rejected or left waiting {}, re-sent after \
         PoolFull {}, requests {})",
        submitted_at.as_secs_f64(),
        flow.failed.load(Ordering::SeqCst),
        flow.retried.load(Ordering::Relaxed),
        flow.requests.load(Ordering::Relaxed)
    );
    for error in flow.errors.lock().expect("errors").iter() {
        println!("    error: {error}");
    }
    if !all_in || flow.decided() < total {
        println!(
            "  WARNING: {} of {total} txs decided, all accepted committed: {all_in}",
            flow.decided()
        );
    }
    println!(
        "  receipts by step (ok/failed): {}{}",
        Step::ALL
            .iter()
            .filter_map(|step| {
                let (ok, failed) = by_step.get(step)?;
                Some(format!("{} {ok}/{failed}", step.name()))
            })
            .collect::<Vec<_>>()
            .join(", "),
        if failure_names.is_empty() {
            String::new()
        } else {
            format!(" (failures: {failure_names:?})")
        }
    );
    let blocks = blocks1 - blocks0;
    let block_ms = (total1 - total0) / blocks * 1e3;
    if rate.is_none() {
        println!(
            "  last tx committed at height {last_height}, {:.2} s after the first submit",
            elapsed.as_secs_f64()
        );
        println!("  => {tx_per_s:.0} committed tx/s end to end (escrow mix)");
    }
    println!(
        "  submit-to-commit latency (each tx from its own request{}): p50 {p50:.1} ms, p99 \
         {p99:.1} ms; by step p50: {}",
        if rate.is_none() {
            "; under full load: includes the wait behind the backlog and, for approvals, behind \
             the requester's later escrows"
        } else {
            ""
        },
        latencies_by_step
            .iter_mut()
            .map(|(step, values)| format!("{} {:.0} ms", step.name(), median(values)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  escrow create-to-release (CreateEscrow sent to Approve committed, {} escrows): p50 \
         {escrow_p50:.0} ms, p99 {escrow_p99:.0} ms",
        escrow_ms.len()
    );
    println!(
        "  sequencer per block (node metrics over {blocks:.0} blocks): select+execute+tree {:.1} ms, \
         total {block_ms:.1} ms",
        (apply1 - apply0) / blocks * 1e3,
    );
    let cpu = cpu_report(&cpu, &cpu_after, waited.as_secs_f64());
    MixOutcome {
        tx_per_s,
        p50,
        p99,
        escrow_p50,
        escrow_p99,
        failed_receipts,
        block_ms,
        cpu,
    }
}

/// The escrow mix on a node already loaded by the transfer phases: a throughput run, then a
/// paced run at half the measured rate.
#[allow(clippy::too_many_arguments)]
fn escrow_mix(
    rt: &Runtimes,
    scale: &Scale,
    node: &Arc<Node>,
    address: SocketAddr,
    accounts: &Accounts,
    ceiling: f64,
    label: &str,
    summary: &mut Summary,
) {
    println!(
        "\n  -- escrow mix: half transfers, half escrow steps (CreateEscrow + FundEscrow by the \
         requester, MarkCompleted by the provider once the funding is seen committed, Approve \
         Release by the requester once the completion is seen committed), block mode {}",
        scale.mode_text()
    );
    let started = Instant::now();
    let nonces: Vec<u64> = accounts
        .ids
        .iter()
        .take(accounts.keys.len())
        .map(|id| node.app.committed_nonce(id))
        .collect();
    let mut planner = MixPlanner::new(accounts, scale.txs, nonces);
    let plan = planner.plan(scale.txs, false);
    println!(
        "  pre-signed {} txs in {:.1} s (not timed): {} transfers from {} senders, {} escrows \
         between {} requester/provider pairs",
        plan.txs.len(),
        started.elapsed().as_secs_f64(),
        plan.steps
            .iter()
            .filter(|step| **step == Step::Transfer)
            .count(),
        planner.transfer_senders,
        plan.escrows.len(),
        planner.requesters
    );
    let throughput = mix_phase(rt, scale, node, address, plan, None);
    let ratio = throughput.tx_per_s / ceiling;
    println!(
        "  ratio to the batch-verify ceiling ({ceiling:.0} sig/s): {:.1}%",
        ratio * 100.0
    );
    summary.add(
        format!("{label} accounts: END-TO-END escrow mix tx/s"),
        format!(
            "{:.0} tx/s = {:.1}% of ceiling (50% transfers, 50% escrow steps; {} failed \
             receipts; CPU: {})",
            throughput.tx_per_s,
            ratio * 100.0,
            throughput.failed_receipts,
            throughput.cpu
        ),
    );

    let rate = (throughput.tx_per_s / 2.0).max(1.0);
    let count = ((rate * scale.latency_secs) as usize).max(8);
    let started = Instant::now();
    let plan = planner.plan(count, true);
    println!(
        "\n  escrow mix latency at half throughput: pre-signed {} more in {:.1} s (not timed)",
        plan.txs.len(),
        started.elapsed().as_secs_f64()
    );
    let latency = mix_phase(rt, scale, node, address, plan, Some(rate));
    summary.add(
        format!("{label} accounts: escrow mix latency p50 / p99 at {rate:.0} tx/s"),
        format!(
            "{:.0} / {:.0} ms per tx (blocks took {:.0} ms); escrow create-to-release p50 / p99 \
             {:.0} / {:.0} ms; {} failed receipts",
            latency.p50,
            latency.p99,
            latency.block_ms,
            latency.escrow_p50,
            latency.escrow_p99,
            latency.failed_receipts
        ),
    );
}

#[allow(clippy::too_many_lines)]
fn end_to_end(
    rt: &Runtimes,
    scale: &Scale,
    count: usize,
    largest: bool,
    ceiling: f64,
    summary: &mut Summary,
) {
    let label = fmt_count(count);
    println!(
        "\n## 2/3. End to end over HTTP, {label} funded accounts, block mode {}",
        scale.mode_text()
    );
    let senders = count.min(scale.txs);
    let started = Instant::now();
    let accounts = make_accounts(count, senders);
    println!(
        "  derived {count} keys ({senders} senders) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let txs = Arc::new(sign_transfers(&accounts, 0..scale.txs));
    println!(
        "  pre-signed {} transfers in {:.1} s (not timed): sender j mod {senders}, nonce j div \
         {senders}, 1 unit to a pseudo-random account",
        txs.len(),
        started.elapsed().as_secs_f64()
    );

    println!("\n  -- end to end, block mode {}", scale.mode_text());
    let genesis = bench_genesis(&accounts.ids);
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir: PathBuf = dir.path().join("data");
    let mut config = NodeConfig::devnet(data_dir.clone());
    config.mode = scale.mode();
    println!("  before Node::start (client data only): {}", memory_text());
    let started = Instant::now();
    let node = Node::start(config.clone(), genesis, devnet_sequencer_key()).expect("node starts");
    let genesis_s = started.elapsed().as_secs_f64();
    let server = rt.server.block_on(serve(node.clone()));
    let up_memory = memory();
    println!(
        "  Node::start with a new {count}-account genesis: {genesis_s:.2} s; node up: {}",
        memory_text(),
    );
    summary.add(
        format!("{label} accounts: genesis init (Node::start)"),
        format!("{genesis_s:.2} s"),
    );

    if scale.transfer_load {
        transfer_load(
            rt,
            scale,
            &node,
            server.address,
            &accounts,
            &txs,
            ceiling,
            summary,
        );
    }
    if scale.escrow_mix {
        escrow_mix(
            rt,
            scale,
            &node,
            server.address,
            &accounts,
            ceiling,
            &label,
            summary,
        );
    }
    let after_memory = memory();
    println!("  after the load: {}", memory_text());
    let client_mib =
        (accounts.ids.len() * 32 + accounts.keys.len() * 256) as f64 / (1 << 20) as f64;
    if largest {
        summary.add(
            format!("{label} accounts: RSS node up / after load"),
            format!(
                "{:.0} / {:.0} MiB (HWM {:.0} MiB; incl. ~{client_mib:.0} MiB client keys)",
                up_memory.0, after_memory.0, after_memory.1
            ),
        );
    }

    // 6b. Restart with this state, in a fresh process (clean heap, as a real restart).
    let height = node.height();
    stop_node(rt, server, node);
    let disk_mib = dir_size(&data_dir) as f64 / (1 << 20) as f64;
    println!("  data dir after the load: {disk_mib:.0} MiB on disk");
    if largest {
        println!("\n## 6b. Restart with {label} accounts in state (height {height}, {disk_mib:.0} MiB on disk)");
        // A copy taken after shutdown: opening it shows whether a log is left to replay.
        let copy = dir.path().join("copy");
        let copied = copy_dir(&agora_runner::node::db_path(&data_dir), &copy).is_ok();
        let child = std::process::Command::new(std::env::current_exe().expect("own path"))
            .arg("--child-restart")
            .arg(&data_dir)
            .arg(if scale.instant { "instant" } else { "interval" })
            .output();
        let report = child
            .as_ref()
            .ok()
            .map(|output| String::from_utf8_lossy(&output.stdout).to_string())
            .unwrap_or_default();
        let value = |name: &str| {
            report
                .split_whitespace()
                .find_map(|item| item.strip_prefix(name)?.strip_prefix('='))
                .and_then(|text| text.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        let (start_s, bound_s, restarted_height) =
            (value("start_s"), value("bound_s"), value("height"));
        let (base_rss, up_rss, up_hwm) = (value("base_rss"), value("up_rss"), value("up_hwm"));
        if start_s.is_nan() {
            println!("  restart child failed: {child:?}");
        }
        println!(
            "  fresh process: Node::start on the existing dir {start_s:.2} s, + listener bound \
             {bound_s:.2} s; height {restarted_height} ({})",
            if restarted_height >= height as f64 {
                "chain intact"
            } else {
                "HEIGHT LOST"
            }
        );
        println!(
            "  node process memory: VmRSS {base_rss:.0} MiB before Node::start, {up_rss:.0} MiB \
             with the node up (VmHWM {up_hwm:.0} MiB)"
        );
        summary.add(
            format!("{label} accounts: restart (Node::start + bind)"),
            format!("{bound_s:.2} s (fresh process)"),
        );
        summary.add(
            format!("{label} accounts: node RSS after restart"),
            format!("{up_rss:.0} MiB (HWM {up_hwm:.0} MiB), node alone in its process"),
        );
        let sample: Vec<Vec<u8>> = (0..40_000u64)
            .map(|k| {
                let id = accounts.ids[(splitmix(k ^ 0x5EED) % accounts.ids.len() as u64) as usize];
                agora_contract::state::keys::account(&id)
            })
            .collect();
        restart_parts(&data_dir, copied.then_some(copy.as_path()), &sample);
    }

    breakdown(rt, scale, &accounts, &txs, summary);
    drop(txs);
    if largest {
        genesis_parts(&accounts.ids);
    }
    drop(accounts);
    drop(dir);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// `--child-restart <data dir> <mode>`: starts the node on an existing dir in this fresh
/// process, binds the API, prints `key=value` figures and stops.
fn child_restart(data_dir: &str, mode: &str) {
    let base = memory();
    let mut config = NodeConfig::devnet(PathBuf::from(data_dir));
    config.mode = if mode == "instant" {
        BlockMode::Instant
    } else {
        BlockMode::Interval { block_time_ms: 500 }
    };
    let rt = Runtimes::new();
    let started = Instant::now();
    let node = match Node::start(config, devnet_genesis(0), devnet_sequencer_key()) {
        Ok(node) => node,
        Err(error) => {
            println!("error={error}");
            return;
        }
    };
    let start_s = started.elapsed().as_secs_f64();
    let server = rt.server.block_on(serve(node.clone()));
    let bound_s = started.elapsed().as_secs_f64();
    let height = node.height();
    let (up_rss, up_hwm) = memory();
    println!(
        "start_s={start_s} bound_s={bound_s} height={height} base_rss={} up_rss={up_rss} \
         up_hwm={up_hwm}",
        base.0
    );
    stop_node(&rt, server, node);
}

/// Where restart time goes: the steps of `Node::start` on an existing dir, redone apart.
/// `wal_copy` is a copy of the store taken after shutdown, before the restart;
/// `sample` are existing state keys for a random-read probe.
fn restart_parts(
    data_dir: &std::path::Path,
    wal_copy: Option<&std::path::Path>,
    sample: &[Vec<u8>],
) {
    if let Some(copy) = wal_copy {
        let started = Instant::now();
        let opened = agora_runner::store::Store::open(copy).is_ok();
        println!(
            "  restart breakdown: Store::open of the copy taken after shutdown (the node flushes \
             at shutdown: no log to replay) {:.2} s{}",
            started.elapsed().as_secs_f64(),
            if opened { "" } else { " (failed)" }
        );
    }
    let started = Instant::now();
    let store = match agora_runner::store::Store::open(&agora_runner::node::db_path(data_dir)) {
        Ok(store) => std::sync::Arc::new(store),
        Err(error) => {
            println!("  (restart breakdown skipped: {error})");
            return;
        }
    };
    let open_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let integrity = agora_runner::integrity::check_store(&store);
    let integrity_s = started.elapsed().as_secs_f64();
    let chain_id = store
        .head()
        .ok()
        .flatten()
        .and_then(|head| store.block(head).ok().flatten())
        .map(|block| block.header.header.chain_id);
    let Some(chain_id) = chain_id else {
        println!("  (restart breakdown skipped: no head block)");
        return;
    };
    let started = Instant::now();
    let app = agora_runner::app::AgoraApp::open(store.clone(), chain_id);
    let rebuild_s = started.elapsed().as_secs_f64();
    println!(
        "  restart breakdown (redone apart): Store::open {open_s:.2} s; integrity check of the \
         recent blocks {integrity_s:.2} s{}; AgoraApp::open (read every state entry, hash on \
         every core, rebuild the tree, check the root) {rebuild_s:.2} s{}",
        if integrity.is_ok() { "" } else { " (failed)" },
        if app.is_ok() { "" } else { " (failed)" },
    );
    drop(app);
    let started = Instant::now();
    let found = sample
        .iter()
        .filter(|key| matches!(store.state_get(key), Ok(Some(_))))
        .count();
    let read_us = started.elapsed().as_secs_f64() * 1e6 / sample.len().max(1) as f64;
    println!(
        "  random state reads (Store::state_get of {} account keys, {found} found): {read_us:.2} us \
         each: the cost of each committed_nonce call in select / remove_stale_nonces, and of \
         each undo read in Store::commit_block",
        sample.len()
    );
}

/// Where genesis-init time goes, for the largest genesis: the in-memory steps of
/// `Node::start` on a new dir, redone apart (the rest is the store's write).
fn genesis_parts(ids: &[AccountId]) {
    let doc = bench_genesis(ids);
    let started = Instant::now();
    let json = doc.to_json();
    let json_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let genesis = doc.to_contract();
    let contract_s = started.elapsed().as_secs_f64();
    let Ok(genesis) = genesis else {
        println!("  (genesis breakdown skipped: the document does not convert)");
        return;
    };
    let started = Instant::now();
    let writes = agora_contract::init_chain(&genesis);
    let init_s = started.elapsed().as_secs_f64();
    let Ok(writes) = writes else {
        println!("  (genesis breakdown skipped: init_chain failed)");
        return;
    };
    let started = Instant::now();
    let mut tree = StateTree::new();
    for (key, value) in &writes {
        tree.set(key, value.as_deref());
    }
    tree.commit();
    let tree_s = started.elapsed().as_secs_f64();
    println!(
        "\n  genesis init breakdown ({} allocations, in-memory steps redone apart): to_json {:.0} MiB \
         {json_s:.2} s; to_contract {contract_s:.2} s; init_chain {init_s:.2} s ({} writes); \
         StateTree set + commit {tree_s:.2} s; the rest of Node::start is the store write \
         (one read per key for the undo log, then one synced batch)",
        ids.len(),
        json.len() as f64 / (1 << 20) as f64,
        writes.len()
    );
}

// ------------------------------------------------------------------------------------------
// 4 and 5. State tree and proofs

fn tree_key(i: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(0x01);
    key.extend_from_slice(&sha256(&[b"tree-key", &i.to_be_bytes()]));
    key
}

fn tree_value(i: u64, version: u64) -> Vec<u8> {
    let mut value = sha256(&[b"tree-value", &i.to_be_bytes(), &version.to_be_bytes()]).to_vec();
    value.extend_from_slice(&version.to_be_bytes());
    value
}

#[allow(clippy::too_many_lines)]
fn tree_and_proofs(scale: &Scale, summary: &mut Summary) {
    let keys = scale.tree_keys;
    let touch = scale.tree_touch;
    let label = fmt_count(keys);
    println!("\n## 4. State-root update: {touch} keys of {label} (StateTree, 33-byte keys, 40-byte values)");
    let mut tree = StateTree::new();
    let started = Instant::now();
    for i in 0..keys as u64 {
        tree.set(&tree_key(i), Some(&tree_value(i, 0)));
    }
    let fill = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (_, nodes) = tree.commit();
    let build = started.elapsed().as_secs_f64();
    println!(
        "  fill {keys} keys {fill:.2} s; first commit (all buckets) {build:.2} s, {} top nodes; {}",
        nodes.len(),
        memory_text()
    );
    let mut versions: BTreeMap<u64, u64> = BTreeMap::new();
    let mut commit_ms = Vec::new();
    let mut update_ms = Vec::new();
    for run in 0..scale.tree_runs as u64 {
        let chosen: Vec<u64> = (0..touch as u64)
            .map(|k| splitmix(run * 1_000_003 + k) % keys as u64)
            .collect();
        let prepared: Vec<(Vec<u8>, Vec<u8>)> = chosen
            .iter()
            .map(|i| (tree_key(*i), tree_value(*i, run + 1)))
            .collect();
        let started = Instant::now();
        for (key, value) in &prepared {
            tree.set(key, Some(value));
        }
        let set = started.elapsed();
        let started = Instant::now();
        let (_, changed) = tree.commit();
        let commit = started.elapsed();
        for i in chosen {
            versions.insert(i, run + 1);
        }
        println!(
            "  run {run}: set {:.1} ms, commit {:.1} ms ({} top-tree nodes changed)",
            set.as_secs_f64() * 1e3,
            commit.as_secs_f64() * 1e3,
            changed.len()
        );
        commit_ms.push(commit.as_secs_f64() * 1e3);
        update_ms.push((set + commit).as_secs_f64() * 1e3);
    }
    let commit = median(&mut commit_ms);
    let update = median(&mut update_ms);
    println!("  median: commit {commit:.1} ms; set + commit {update:.1} ms");
    summary.add(
        format!("state root update, {touch} of {label} keys"),
        format!("commit {commit:.1} ms (set + commit {update:.1} ms), median"),
    );

    println!("\n## 5. State proofs at {label} keys, header check");
    let root = tree.root();
    let proofs = scale.proofs;
    let present: Vec<u64> = (0..proofs as u64)
        .map(|k| splitmix(0xABCD_0000 + k) % keys as u64)
        .collect();
    let started = Instant::now();
    let member: Vec<(Vec<u8>, Vec<u8>, StateProof)> = present
        .iter()
        .map(|i| {
            let key = tree_key(*i);
            let value = tree_value(*i, versions.get(i).copied().unwrap_or(0));
            let proof = tree.prove(&key);
            (key, value, proof)
        })
        .collect();
    let prove_us = started.elapsed().as_secs_f64() * 1e6 / proofs as f64;
    let absent: Vec<(Vec<u8>, StateProof)> = (0..proofs as u64)
        .map(|k| {
            let mut key = vec![0x01];
            key.extend_from_slice(&sha256(&[b"absent", &k.to_be_bytes()]));
            let proof = tree.prove(&key);
            (key, proof)
        })
        .collect();
    let sizes = |lengths: Vec<usize>| {
        let min = lengths.iter().copied().min().unwrap_or(0);
        let max = lengths.iter().copied().max().unwrap_or(0);
        let mean = lengths.iter().sum::<usize>() as f64 / lengths.len().max(1) as f64;
        (min, mean, max)
    };
    let (member_min, member_mean, member_max) = sizes(
        member
            .iter()
            .map(|(_, _, proof)| proof.to_bytes().len())
            .collect(),
    );
    let (absent_min, absent_mean, absent_max) = sizes(
        absent
            .iter()
            .map(|(_, proof)| proof.to_bytes().len())
            .collect(),
    );
    let started = Instant::now();
    let member_bad = member
        .iter()
        .filter(|(key, value, proof)| proof.verify_value(&root, key, Some(value)).is_err())
        .count();
    let member_us = started.elapsed().as_secs_f64() * 1e6 / proofs as f64;
    let started = Instant::now();
    let absent_bad = absent
        .iter()
        .filter(|(key, proof)| proof.verify_value(&root, key, None).is_err())
        .count();
    let absent_us = started.elapsed().as_secs_f64() * 1e6 / proofs as f64;
    println!(
        "  membership proof: {member_mean:.0} bytes mean (min {member_min}, max {member_max}); \
         prove {prove_us:.1} us"
    );
    println!(
        "  non-membership proof: {absent_mean:.0} bytes mean (min {absent_min}, max {absent_max})"
    );
    println!(
        "  verify_value: membership {member_us:.2} us, non-membership {absent_us:.2} us (mean over \
         {proofs}); failures {member_bad} / {absent_bad}"
    );

    let key = devnet_sequencer_key();
    let sequencer = account_of(&key);
    let chain_id = Label::new(CHAIN_ID).expect("valid chain id");
    let header = Header {
        version: HEADER_VERSION,
        chain_id: chain_id.clone(),
        height: 123_456,
        prev_hash: sha256(&[b"prev"]),
        time_ms: now_ms(),
        tx_count: 20_000,
        tx_root: sha256(&[b"txs"]),
        receipts_root: sha256(&[b"receipts"]),
        hook_events_hash: sha256(&[b"hook"]),
        state_root: root,
        proposer: sequencer,
    }
    .sign(&key);
    let checks = 2_000;
    let started = Instant::now();
    let header_bad = (0..checks)
        .filter(|_| header.verify(&chain_id, &sequencer).is_err())
        .count();
    let header_us = started.elapsed().as_secs_f64() * 1e6 / checks as f64;
    println!(
        "  SignedHeader::verify (strict ed25519): {header_us:.1} us (mean over {checks}; failures \
         {header_bad})"
    );
    summary.add(
        format!("proof size at {label} keys: member / non-member"),
        format!("{member_mean:.0} / {absent_mean:.0} bytes (max {member_max} / {absent_max})"),
    );
    summary.add(
        "proof verify_value: member / non-member",
        format!("{member_us:.1} / {absent_us:.1} us"),
    );
    summary.add("header signature check", format!("{header_us:.1} us"));
}

// ------------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child-restart") {
        child_restart(
            args.get(2).map_or("", String::as_str),
            args.get(3).map_or("interval", String::as_str),
        );
        return;
    }
    // The node's own logs, off unless asked for: `RUST_LOG=agora_runner::sequencer=debug`
    // prints each block's seal phases (execute, last step, roots, store) on stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let scale = Scale::from_args();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "bench_node ({} run): {cores} cores, accounts {:?}, {} txs per throughput run, block mode {}",
        scale.name,
        scale.accounts,
        scale.txs,
        scale.mode_text()
    );
    if cfg!(debug_assertions) {
        println!("NOTE: debug build; figures are not representative");
    }
    let rt = Runtimes::new();
    let mut summary = Summary::default();
    let begun = Instant::now();
    devnet_ready(&rt, &scale, &mut summary);
    let ceiling = ceiling(&scale, &mut summary);
    let largest = scale.accounts.iter().copied().max().unwrap_or(0);
    for count in scale.accounts.clone() {
        end_to_end(&rt, &scale, count, count == largest, ceiling, &mut summary);
    }
    tree_and_proofs(&scale, &mut summary);
    summary.add(
        "block mode / submission",
        format!(
            "{}; load via POST /v1/txs/batch ({} txs per batch, {} clients)",
            scale.mode_text(),
            scale.batch,
            scale.clients
        ),
    );
    if scale.escrow_mix {
        summary.add(
            "escrow mix submission",
            format!(
                "POST /v1/txs/batch (up to {} txs per request, {} clients); MarkCompleted and \
                 Approve sent once the client sees the step before committed (GET /health, GET \
                 /v1/blocks/{{h}})",
                scale.batch, scale.clients
            ),
        );
    }
    summary.print();
    println!("total bench time {:.0} s", begun.elapsed().as_secs_f64());
}
