//! A flood of transactions against a real `agora-runner devnet` process (docs/reliability.md):
//! 100 000 transactions from 2 000 accounts, half of them with a valid signature and half
//! with a corrupted one, interleaved in batches from several concurrent clients and as
//! single submissions, while the ten dev accounts send honest transfers and wait for their
//! receipts. The test checks that every invalid signature is refused with code 103, that
//! every honest transfer and every valid flood transaction commits, that blocks keep coming
//! (the longest gap between two blocks is bounded), and that the mempool and the process's
//! memory stay bounded. It reports the peak memory (`VmHWM`), the peak mempool, the block
//! gaps, the honest latency, and the node's CPU time per rejected invalid signature
//! (measured on the process from `/proc`, for batches and for single submissions).
//!
//! `AGORA_FLOOD_TXS` changes the flood size (default 100 000).

#[path = "runner_process.rs"]
mod runner_process;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use agora_contract::bounded::Label;
use agora_contract::ids::sha256;
use agora_contract::tx::UnsignedTx;
use agora_contract::{Action, Amount};
use agora_e2e::{dev, CHAIN_ID};
use agora_sdk::{Chain, Keypair};
use runner_process::*;
use serde_json::{json, Value};

/// Transactions per flood account.
const PER_ACCOUNT: u64 = 50;
const BATCH: usize = 2_000;
const BATCH_CLIENTS: usize = 6;
const HONEST_PER_DEV: u64 = 10;
/// Blocks must keep coming: no gap between two heights longer than this.
const MAX_BLOCK_GAP: Duration = Duration::from_secs(10);
/// The node's peak resident memory must stay under this.
const MAX_PEAK_RSS_KIB: u64 = 3 << 20;

fn flood_key(index: u64) -> Keypair {
    Keypair::from_seed(sha256(&[b"flood", &index.to_be_bytes()]))
}

/// A signed transfer; `corrupt` flips a bit of S (still canonical), so verification runs
/// in full and fails.
fn signed(key: &Keypair, nonce: u64, corrupt: bool) -> String {
    let mut tx = UnsignedTx {
        chain_id: Label::new(CHAIN_ID).expect("chain id"),
        signer: key.account(),
        nonce,
        valid_until_height: None,
        action: Action::Transfer {
            to: dev(0).account(),
            amount: Amount(1),
        },
    }
    .sign(key.signing_key());
    if corrupt {
        tx.signature[32] ^= 0x01;
    }
    hex::encode(tx.to_bytes())
}

async fn post_batch(node: &RunnerProcess, txs: &[String]) -> Value {
    node.client
        .post_json("/v1/txs/batch", &json!({ "txs": txs }))
        .await
        .unwrap_or_else(|error| panic!("batch refused: {error}; log:\n{}", node.log_tail()))
}

fn codes(answer: &Value) -> Vec<u64> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["error"]["code"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_mixed_signatures_keeps_the_node_bounded_and_honest_txs_commit() {
    let total = env_number("AGORA_FLOOD_TXS", 100_000);
    let accounts = total / PER_ACCOUNT;
    let work = tempfile::Builder::new()
        .prefix("agora-flood-")
        .tempdir()
        .expect("temp dir");
    let log = new_log(&work.path().join("runner.log"));
    let mut node = RunnerProcess::spawn(
        &work.path().join("chain"),
        &log,
        &["--block-time-ms", "200"],
    );
    node.wait_healthy(Duration::from_secs(30))
        .await
        .expect("healthy");
    let rss_at_start = node.rss_kib();

    // ---- 1. The cost of a rejected invalid signature, alone on a quiet node ----
    let probe = 20_000u64;
    let probe_key = |i: u64| flood_key(1_000_000 + i);
    let invalid_probe: Vec<String> = (0..probe)
        .map(|i| signed(&probe_key(i % 400), i / 400, true))
        .collect();
    let valid_probe: Vec<String> = (0..probe)
        .map(|i| signed(&probe_key(400 + i % 400), i / 400, false))
        .collect();
    let cpu = node.cpu_time();
    let started = Instant::now();
    for chunk in invalid_probe.chunks(BATCH) {
        let answer = post_batch(&node, chunk).await;
        assert_eq!(answer["accepted"], 0);
        assert!(codes(&answer).iter().all(|c| *c == 103));
    }
    let invalid_batch_cpu = node.cpu_time() - cpu;
    let invalid_batch_wall = started.elapsed();
    let cpu = node.cpu_time();
    for chunk in valid_probe.chunks(BATCH) {
        let answer = post_batch(&node, chunk).await;
        assert_eq!(answer["accepted"], chunk.len(), "{}", answer["results"][0]);
    }
    let valid_batch_cpu = node.cpu_time() - cpu;
    let singles = 2_000usize;
    let cpu = node.cpu_time();
    for tx in invalid_probe.iter().take(singles) {
        let bytes = hex::decode(tx).expect("hex");
        let signed = agora_contract::tx::SignedTx::decode(&bytes).expect("decode");
        match node.client.submit(&signed).await {
            Err(agora_sdk::Error::Node {
                code: 103,
                status: 400,
                ..
            }) => {}
            other => panic!("an invalid signature got {other:?}"),
        }
    }
    let invalid_single_cpu = node.cpu_time() - cpu;
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;

    // ---- 2. The flood, with honest traffic and a monitor ----
    let keys: Vec<Keypair> = (0..accounts).map(flood_key).collect();
    let mut flood: Vec<(String, bool)> = Vec::with_capacity(total as usize);
    for nonce in 0..PER_ACCOUNT {
        for (index, key) in keys.iter().enumerate() {
            // Even accounts sign validly, odd ones corrupt every signature.
            let corrupt = index % 2 == 1;
            flood.push((signed(key, nonce, corrupt), corrupt));
        }
    }
    let valid_flood = flood.iter().filter(|(_, bad)| !bad).count();
    let height_before = node.get("/health").await["height"]
        .as_u64()
        .expect("height");
    let done = RefCell::new(false);
    let monitor = async {
        let mut peak_mempool = 0u64;
        let mut heights: Vec<(Instant, u64)> = Vec::new();
        let mut last = (Instant::now(), height_before);
        let mut max_gap = Duration::ZERO;
        while !*done.borrow() {
            if let Ok(status) = node.client.status().await {
                peak_mempool = peak_mempool.max(status["mempool_txs"].as_u64().unwrap_or(0));
                let height = status["height"].as_u64().unwrap_or(0);
                if height > last.1 {
                    last = (Instant::now(), height);
                    heights.push(last);
                }
                max_gap = max_gap.max(last.0.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (peak_mempool, max_gap, heights.len())
    };
    let flood_started = Instant::now();
    let senders = async {
        let queue = RefCell::new(flood.chunks(BATCH).collect::<Vec<_>>().into_iter());
        let mut rejected = 0usize;
        let mut accepted = 0usize;
        let clients = (0..BATCH_CLIENTS).map(|_| async {
            let mut stats = (0usize, 0usize);
            loop {
                let Some(chunk) = queue.borrow_mut().next() else {
                    return stats;
                };
                let txs: Vec<String> = chunk.iter().map(|(tx, _)| tx.clone()).collect();
                let answer = post_batch(&node, &txs).await;
                for ((_, corrupt), result) in chunk
                    .iter()
                    .zip(answer["results"].as_array().expect("results"))
                {
                    if *corrupt {
                        assert_eq!(result["error"]["code"], 103, "{result}");
                        stats.0 += 1;
                    } else {
                        assert_ne!(result["status"], "rejected", "{result}");
                        stats.1 += 1;
                    }
                }
            }
        });
        for (r, a) in futures_join_all(clients).await {
            rejected += r;
            accepted += a;
        }
        (rejected, accepted)
    };
    let honest = async {
        let mut latencies = Vec::new();
        for round in 0..HONEST_PER_DEV {
            for index in 0..10 {
                let mut builder = node.client.builder(dev(index)).await.expect("builder");
                let tx = builder.transfer(dev((index + 1) % 10).account(), 1 + round);
                let sent = Instant::now();
                let committed = node
                    .client
                    .submit_and_wait(&tx)
                    .await
                    .unwrap_or_else(|e| panic!("honest transfer not committed: {e}"));
                assert!(committed.success(), "{:?}", committed.error());
                latencies.push(sent.elapsed());
            }
        }
        latencies
    };
    let traffic = async {
        let ((rejected, accepted), latencies) = tokio::join!(senders, honest);
        let flood_wall = flood_started.elapsed();
        // Wait until the flood's valid transactions are all committed.
        let drain_started = Instant::now();
        loop {
            let status = node.client.status().await.expect("status");
            if status["mempool_txs"] == 0 {
                break;
            }
            assert!(
                drain_started.elapsed() < Duration::from_secs(120),
                "the mempool does not drain: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        *done.borrow_mut() = true;
        (rejected, accepted, latencies, flood_wall)
    };
    let ((peak_mempool, max_gap, blocks_seen), (rejected, accepted, latencies, flood_wall)) =
        tokio::join!(monitor, traffic);
    let peak_rss = node.peak_rss_kib();
    let height_after = node.get("/health").await["height"]
        .as_u64()
        .expect("height");
    let mut committed = 0usize;
    for height in height_before + 1..=height_after {
        committed += node.get(&format!("/v1/blocks/{height}")).await["tx_hashes"]
            .as_array()
            .expect("tx_hashes")
            .len();
    }
    let honest_count = (HONEST_PER_DEV * 10) as usize;
    assert_eq!(rejected, flood.len() - valid_flood);
    assert_eq!(accepted, valid_flood);
    assert_eq!(
        committed,
        valid_flood + honest_count,
        "every valid transaction committed"
    );
    assert!(max_gap < MAX_BLOCK_GAP, "blocks stopped for {max_gap:?}");
    assert!(peak_mempool <= 100_000);
    assert!(peak_rss < MAX_PEAK_RSS_KIB, "peak RSS {peak_rss} KiB");
    println!(
        "flood result: {} txs from {accounts} accounts ({valid_flood} valid, {rejected} \
         invalid signatures, all refused with 103) in {:.1} s by {BATCH_CLIENTS} clients \
         (batches of {BATCH}); honest transfers {honest_count} all committed, latency p50 \
         {} ms p99 {} ms; every valid tx committed ({committed} in blocks {}..={height_after}); \
         blocks seen during the flood {blocks_seen}, longest gap {} ms; peak mempool \
         {peak_mempool} txs; node RSS {} MiB at start, peak (VmHWM) {} MiB; node CPU per \
         rejected invalid signature: {:.1} us in batches ({:.1} s wall for {probe}), \
         {:.1} us as single submissions; per admitted valid tx in batches {:.1} us",
        flood.len(),
        flood_wall.as_secs_f64(),
        quantile(&latencies, 0.5).as_millis(),
        quantile(&latencies, 0.99).as_millis(),
        height_before + 1,
        max_gap.as_millis(),
        rss_at_start / 1024,
        peak_rss / 1024,
        per(invalid_batch_cpu, probe as usize),
        invalid_batch_wall.as_secs_f64(),
        per(invalid_single_cpu, singles),
        per(valid_batch_cpu, probe as usize),
    );
    node.kill();
}

/// Runs futures concurrently on this task and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("ready")).collect()
}
