//! Crash safety of a real `agora-runner devnet` process (SPEC §8, docs/durability.md).
//!
//! One data dir, one process at a time. Each cycle starts the runner (instant blocks and
//! 50 ms intervals in turn), lets it recover,
//! drives signed transactions into it (batches, plus one sender that waits for each
//! receipt with `?wait=commit`), and SIGKILLs it at a random moment — during start-up,
//! during a block commit, anywhere. Then it starts again on the same data dir. Throughout,
//! the test records every acknowledgement of a commit: a block listed by the node (its
//! header hash and its transactions) and every receipt answered by `?wait=commit`. After
//! each restart it checks that the recent acknowledgements and a random sample of older
//! ones still hold, that every sender's committed nonce equals the transactions of it the
//! blocks show, and how long recovery took. At the end it checks every acknowledgement,
//! the supply invariant at the head and at sampled heights, and runs
//! `agora-runner replay`, which re-executes the chain from genesis and compares the state
//! root (and the other roots) at every height.
//!
//! CI size: 50 kills, 10 000 transactions. Longer: `AGORA_CRASH_KILLS=500
//! AGORA_CRASH_TXS=100000 cargo test --workspace --test crash -- --nocapture`; repeat a
//! run with `AGORA_CRASH_SEED=<seed printed by the failing run>`.

#[path = "runner_process.rs"]
mod runner_process;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use agora_contract::action::CreateEscrow;
use agora_contract::bounded::{BoundedVec, Label};
use agora_contract::escrow::EscrowKind;
use agora_contract::ids::{sha256, AccountId, Hash, Uuid};
use agora_contract::tx::{SignedTx, UnsignedTx};
use agora_contract::{Action, Amount};
use agora_e2e::{dev, CHAIN_ID, DEV_BALANCE};
use agora_sdk::{Chain, Keypair};
use runner_process::*;
use serde_json::Value;

/// Senders whose transactions go in batches (dev accounts 0..=8; 0 is the mint authority).
const BATCH_SENDERS: u64 = 9;
/// The sender whose every transaction waits for its receipt (`?wait=commit`).
const WAITING_SENDER: u64 = 9;
/// Fresh accounts that receive transfers and mints.
const FRESH_ACCOUNTS: u64 = 64;
/// Pending transactions per sender at most (the mempool allows 1 024 ahead).
const WINDOW: usize = 256;
/// Transactions per batch request.
const BATCH: usize = 200;
/// Longest a restart may take before the test fails.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);

fn fresh(index: u64) -> Keypair {
    Keypair::from_seed(sha256(&[b"crash-fresh", &index.to_be_bytes()]))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn uuid_from(rng: &mut Rng) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next().to_be_bytes());
    bytes[8..].copy_from_slice(&rng.next().to_be_bytes());
    // A version-4-shaped id (version 8 is reserved for chain-derived ids).
    bytes[6] = 0x40 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    Uuid::from_bytes(bytes)
}

/// One sender's pre-signed transactions, nonce i at index i.
struct Sender {
    txs: Vec<SignedTx>,
    bytes: Vec<Vec<u8>>,
    /// Transactions acknowledged as committed (they commit in nonce order).
    committed: usize,
    /// Submitted to the current process (reset to `committed` at each restart).
    submitted: usize,
    /// Highest count ever submitted to any process.
    ever_submitted: usize,
}

/// Everything the test was told was committed.
#[derive(Default)]
struct Acks {
    /// Transaction hash → (height, index), from block listings and receipts.
    txs: HashMap<Hash, (u64, u32)>,
    /// Height → (header hash, tx hashes) of every block the node listed.
    blocks: BTreeMap<u64, (String, Vec<String>)>,
    /// Receipts answered by `?wait=commit`: hash → (height, index).
    receipts: BTreeMap<Hash, (u64, u32)>,
    /// Highest height listed so far.
    scanned_to: Option<u64>,
}

struct Run {
    senders: Vec<Sender>,
    owner: HashMap<Hash, (usize, usize)>,
    acks: Acks,
    escrows: Vec<Uuid>,
}

impl Run {
    fn all_committed(&self) -> bool {
        self.senders.iter().all(|s| s.committed == s.txs.len())
    }

    fn total_committed(&self) -> usize {
        self.senders.iter().map(|s| s.committed).sum()
    }

    /// Records that `hash` is committed at (height, index). Panics if an earlier
    /// acknowledgement put it elsewhere.
    fn ack(&mut self, hash: Hash, height: u64, index: u32) {
        if let Some(previous) = self.acks.txs.get(&hash) {
            assert_eq!(
                *previous,
                (height, index),
                "tx {} acknowledged at {previous:?} now at {:?}",
                hex::encode(hash),
                (height, index)
            );
            return;
        }
        self.acks.txs.insert(hash, (height, index));
        if let Some(&(sender, nonce)) = self.owner.get(&hash) {
            let sender = &mut self.senders[sender];
            assert_eq!(
                nonce, sender.committed,
                "nonce {nonce} committed before nonce {}",
                sender.committed
            );
            sender.committed += 1;
        }
    }
}

/// Signs the whole load: batch senders mix transfers (to dev and fresh accounts), mints
/// (dev 0) and funded escrows; the waiting sender makes transfers.
fn plan(total: u64, rng: &mut Rng) -> Run {
    let chain = Label::new(CHAIN_ID).expect("chain id");
    let deadline_ms = now_ms() + 30 * 24 * 3_600_000;
    let waiting = (total / 20).max(1);
    let per_batch_sender = (total - waiting).div_ceil(BATCH_SENDERS);
    let mut senders = Vec::new();
    let mut owner = HashMap::new();
    let mut escrows = Vec::new();
    for index in 0..=WAITING_SENDER {
        let key = dev(index);
        let count = if index == WAITING_SENDER {
            waiting
        } else {
            per_batch_sender
        };
        let mut txs = Vec::new();
        for nonce in 0..count {
            let other = dev((index + 1 + rng.below(8)) % 10).account();
            let amount = Amount(1 + rng.below(1_000));
            let roll = rng.below(100);
            let action = if index == WAITING_SENDER || roll < 50 {
                Action::Transfer { to: other, amount }
            } else if roll < 70 {
                Action::Transfer {
                    to: fresh(rng.below(FRESH_ACCOUNTS)).account(),
                    amount,
                }
            } else if roll < 85 && index == 0 {
                Action::Mint {
                    to: fresh(rng.below(FRESH_ACCOUNTS)).account(),
                    amount,
                }
            } else {
                let id = uuid_from(rng);
                escrows.push(id);
                Action::CreateEscrow(CreateEscrow {
                    id,
                    provider: other,
                    amount,
                    kind: EscrowKind::Single,
                    arbitrators: BoundedVec::empty(),
                    deadline_ms,
                    dispute_window_ms: None,
                    job_ref: [9; 32],
                    fund: true,
                })
            };
            let tx = UnsignedTx {
                chain_id: chain.clone(),
                signer: key.account(),
                nonce,
                valid_until_height: None,
                action,
            }
            .sign(key.signing_key());
            txs.push(tx);
        }
        let bytes: Vec<Vec<u8>> = txs.iter().map(SignedTx::to_bytes).collect();
        let hashes: Vec<Hash> = bytes.iter().map(|b| sha256(&[b])).collect();
        for (nonce, hash) in hashes.iter().enumerate() {
            owner.insert(*hash, (senders.len(), nonce));
        }
        senders.push(Sender {
            txs,
            bytes,
            committed: 0,
            submitted: 0,
            ever_submitted: 0,
        });
    }
    Run {
        senders,
        owner,
        acks: Acks::default(),
        escrows,
    }
}

fn hash_of(text: &str) -> Hash {
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .expect("32-byte hex hash")
}

/// Lists every block from the last listed height up to the node's head, acknowledging
/// their transactions.
async fn scan_blocks(node: &RunnerProcess, run: &RefCell<Run>) -> Result<(), String> {
    let head = node
        .client
        .get_json("/health")
        .await
        .map_err(|e| e.to_string())?["height"]
        .as_u64()
        .ok_or("no height")?;
    let from = run.borrow().acks.scanned_to.map_or(0, |h| h + 1);
    for height in from..=head {
        let block = node
            .client
            .get_json(&format!("/v1/blocks/{height}"))
            .await
            .map_err(|e| e.to_string())?;
        let hash = block["hash"].as_str().ok_or("block hash")?.to_string();
        let txs: Vec<String> = block["tx_hashes"]
            .as_array()
            .ok_or("tx_hashes")?
            .iter()
            .map(|h| h.as_str().unwrap_or_default().to_string())
            .collect();
        let mut run = run.borrow_mut();
        for (index, tx) in txs.iter().enumerate() {
            run.ack(hash_of(tx), height, index as u32);
        }
        if let Some((known, _)) = run.acks.blocks.get(&height) {
            assert_eq!(known, &hash, "block {height} changed its hash");
        }
        run.acks.blocks.insert(height, (hash, txs));
        run.acks.scanned_to = Some(height);
    }
    Ok(())
}

/// Checks acknowledged blocks at `heights` against the node: same header hash, same
/// transactions. Returns how many transactions those blocks hold.
async fn check_blocks(node: &RunnerProcess, run: &RefCell<Run>, heights: &[u64]) -> usize {
    let mut checked = 0;
    for &height in heights {
        let (hash, txs) = run.borrow().acks.blocks[&height].clone();
        let block = node.get(&format!("/v1/blocks/{height}")).await;
        assert_eq!(
            block["hash"].as_str(),
            Some(hash.as_str()),
            "acknowledged block {height} was lost or replaced; log:\n{}",
            node.log_tail()
        );
        let now: Vec<String> = block["tx_hashes"]
            .as_array()
            .expect("tx_hashes")
            .iter()
            .map(|h| h.as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(now, txs, "block {height} lists other transactions");
        checked += txs.len();
    }
    checked
}

/// After a restart: nothing acknowledged is lost, and the committed nonces match.
async fn check_after_restart(
    node: &RunnerProcess,
    run: &RefCell<Run>,
    recent_from: u64,
    rng: &mut Rng,
) {
    let head = node.get("/v1/blocks/latest").await["height"]
        .as_u64()
        .expect("height");
    let acked_head = run.borrow().acks.scanned_to.unwrap_or(0);
    assert!(
        head >= acked_head,
        "the node resumed at {head}, below the acknowledged height {acked_head}"
    );
    let mut heights: Vec<u64> = run
        .borrow()
        .acks
        .blocks
        .range(recent_from..)
        .map(|(h, _)| *h)
        .collect();
    for _ in 0..16 {
        let height = rng.below(acked_head + 1);
        if run.borrow().acks.blocks.contains_key(&height) {
            heights.push(height);
        }
    }
    check_blocks(node, run, &heights).await;
    let receipts: Vec<(Hash, (u64, u32))> = run
        .borrow()
        .acks
        .receipts
        .iter()
        .rev()
        .take(8)
        .map(|(h, l)| (*h, *l))
        .collect();
    for (hash, (height, index)) in receipts {
        let view = node.get(&format!("/v1/txs/{}", hex::encode(hash))).await;
        assert_eq!(view["status"], "committed", "receipt lost: {view}");
        assert_eq!(view["height"].as_u64(), Some(height));
        assert_eq!(view["index"].as_u64(), Some(u64::from(index)));
    }
    // Blocks committed just before the kill are listed now.
    scan_blocks(node, run).await.expect("list blocks");
    for index in 0..=WAITING_SENDER {
        let account = dev(index).account();
        let nonce = node
            .get(&format!("/v1/accounts/{}", hex::encode(account.0)))
            .await["nonce"]
            .as_u64()
            .expect("nonce");
        let committed = run.borrow().senders[index as usize].committed as u64;
        assert_eq!(
            nonce, committed,
            "dev {index}: committed nonce {nonce}, the blocks show {committed} txs"
        );
    }
    let mut run = run.borrow_mut();
    for sender in &mut run.senders {
        sender.submitted = sender.committed;
    }
}

/// How many transactions never submitted before a cycle may add by now: `budget`,
/// released evenly over `over` (the time left until the kill), so the load is spread over
/// the process's life rather than front-loaded.
struct Pace {
    budget: usize,
    used: usize,
    start: Instant,
    over: Duration,
}

impl Pace {
    fn new(budget: usize, over: Duration) -> Pace {
        Pace {
            budget,
            used: 0,
            start: Instant::now(),
            over,
        }
    }

    fn available(&self) -> usize {
        let share = if self.over.is_zero() {
            1.0
        } else {
            (self.start.elapsed().as_secs_f64() / self.over.as_secs_f64()).min(1.0)
        };
        let released = (self.budget as f64 * share).ceil() as usize;
        released.min(self.budget).saturating_sub(self.used)
    }
}

/// Submits batches until everything is committed (or the future is dropped by the kill).
async fn drive_batches(node: &RunnerProcess, run: &RefCell<Run>, pace: Pace) {
    let mut pace = pace;
    loop {
        let batch: Vec<String> = {
            let mut run = run.borrow_mut();
            let mut batch = Vec::new();
            let mut budget = pace.available();
            'fill: loop {
                let mut added = false;
                for sender in run.senders.iter_mut().take(BATCH_SENDERS as usize) {
                    if batch.len() >= BATCH {
                        break 'fill;
                    }
                    let next = sender.submitted;
                    let fresh = next >= sender.ever_submitted;
                    if next < sender.txs.len()
                        && next < sender.committed + WINDOW
                        && (!fresh || budget > 0)
                    {
                        if fresh {
                            budget -= 1;
                            pace.used += 1;
                            sender.ever_submitted = next + 1;
                        }
                        batch.push(hex::encode(&sender.bytes[next]));
                        sender.submitted += 1;
                        added = true;
                    }
                }
                if !added {
                    break;
                }
            }
            batch
        };
        if !batch.is_empty() {
            match node
                .client
                .post_json("/v1/txs/batch", &serde_json::json!({ "txs": batch }))
                .await
            {
                Ok(answer) => {
                    let rejected: Vec<&Value> = answer["results"]
                        .as_array()
                        .map(|r| r.iter().filter(|r| r["status"] == "rejected").collect())
                        .unwrap_or_default();
                    assert!(rejected.is_empty(), "batch entries rejected: {rejected:?}");
                }
                Err(_) => return,
            }
        }
        if scan_blocks(node, run).await.is_err() {
            return;
        }
        if run.borrow().all_committed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(if batch.is_empty() { 20 } else { 2 })).await;
    }
}

/// Submits the waiting sender's transactions one by one with `?wait=commit`.
async fn drive_waiting(node: &RunnerProcess, run: &RefCell<Run>, pace: Pace) {
    let mut pace = pace;
    let index = WAITING_SENDER as usize;
    loop {
        let next = {
            let mut run = run.borrow_mut();
            let sender = &mut run.senders[index];
            if sender.committed == sender.txs.len() {
                return;
            }
            let nonce = sender.committed;
            if nonce >= sender.ever_submitted {
                if pace.available() == 0 {
                    None
                } else {
                    pace.used += 1;
                    sender.ever_submitted = nonce + 1;
                    Some(sender.txs[nonce].clone())
                }
            } else {
                Some(sender.txs[nonce].clone())
            }
        };
        let Some(next) = next else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        match node.client.submit_and_wait(&next).await {
            Ok(committed) => {
                let mut run = run.borrow_mut();
                run.ack(committed.hash, committed.height, committed.index);
                run.acks
                    .receipts
                    .insert(committed.hash, (committed.height, committed.index));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn decode_u64_le(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

async fn total_minted(node: &RunnerProcess, height: Option<u64>) -> u64 {
    let key = hex::encode(agora_contract::state::keys::supply());
    let path = match height {
        Some(h) => format!("/v1/proofs/{key}?height={h}"),
        None => format!("/v1/proofs/{key}"),
    };
    let value = node.get(&path).await["value"]
        .as_str()
        .map(|v| hex::decode(v).expect("hex"))
        .expect("supply record");
    decode_u64_le(&value)
}

fn known_accounts() -> Vec<AccountId> {
    (0..10)
        .map(|i| dev(i).account())
        .chain((0..FRESH_ACCOUNTS).map(|i| fresh(i).account()))
        .collect()
}

/// Σ (available + locked) over every account the load touched = total minted, at the
/// head; Σ available + Σ escrow holdings = total minted at `heights`.
async fn check_supply(node: &RunnerProcess, run: &RefCell<Run>, heights: &[u64]) {
    let accounts = known_accounts();
    let mut sum: u128 = 0;
    for account in &accounts {
        let view = node
            .get(&format!("/v1/accounts/{}", hex::encode(account.0)))
            .await;
        sum += u128::from(view["available"].as_u64().expect("available"));
        sum += u128::from(view["locked"].as_u64().expect("locked"));
    }
    let minted = total_minted(node, None).await;
    assert_eq!(sum, u128::from(minted), "supply invariant at the head");
    assert!(minted >= 10 * DEV_BALANCE);
    let escrows = run.borrow().escrows.clone();
    for &height in heights {
        let mut sum: u128 = 0;
        for account in &accounts {
            let view = node
                .get(&format!(
                    "/v1/accounts/{}?height={height}",
                    hex::encode(account.0)
                ))
                .await;
            sum += u128::from(view["available"].as_u64().expect("available"));
        }
        for id in &escrows {
            if let Ok(escrow) = node
                .client
                .get_json(&format!("/v1/escrows/{id}?height={height}"))
                .await
            {
                sum += u128::from(escrow["held"].as_u64().expect("held"));
            }
        }
        assert_eq!(
            sum,
            u128::from(total_minted(node, Some(height)).await),
            "supply invariant at height {height}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn kill_nine_under_load_loses_no_committed_transaction() {
    let kills = env_number("AGORA_CRASH_KILLS", 50);
    let total = env_number("AGORA_CRASH_TXS", 10_000);
    let max_up_ms = env_number("AGORA_CRASH_MAX_UP_MS", 1_500);
    let seed = seed_from_env("AGORA_CRASH_SEED");
    eprintln!("crash: seed {seed} (AGORA_CRASH_SEED), {kills} kills, {total} txs");
    let mut rng = Rng::new(seed);
    let run = RefCell::new(plan(total, &mut rng));
    let signed: usize = run.borrow().senders.iter().map(|s| s.txs.len()).sum();
    assert!(signed as u64 >= total);

    let dir = tempfile::Builder::new()
        .prefix("agora-crash-")
        .tempdir()
        .expect("temp dir");
    let data_dir = dir.path().join("chain");
    let log = new_log(&dir.path().join("runner.log"));
    let started = Instant::now();
    let mut recoveries: Vec<Duration> = Vec::new();
    let mut kills_done = 0u64;
    let mut kills_before_serving = 0u64;
    let mut replays = 0u64;
    let mut recent_from = 0u64;
    loop {
        let final_phase = kills_done >= kills;
        // Every other start uses 50 ms intervals, so kills also land while a block is
        // being built in steps between ticks, not only while one is sealed.
        let mode: &[&str] = if kills_done.is_multiple_of(2) {
            &["--instant"]
        } else {
            &["--block-time-ms", "50"]
        };
        let mut node = RunnerProcess::spawn(&data_dir, &log, mode);
        let up_for = Duration::from_millis(rng.below(max_up_ms.max(1)));
        let spawned_at = node.spawned_at;
        let remaining = |range: std::ops::Range<usize>| {
            let run = run.borrow();
            run.senders[range]
                .iter()
                .map(|s| s.txs.len() - s.ever_submitted.min(s.txs.len()))
                .sum::<usize>()
        };
        let budget = |remaining: usize| {
            if final_phase {
                usize::MAX
            } else {
                (remaining * 3 / 2).div_ceil((kills - kills_done) as usize)
            }
        };
        let batch_budget = budget(remaining(0..BATCH_SENDERS as usize));
        let waiting_budget = budget(remaining(
            WAITING_SENDER as usize..WAITING_SENDER as usize + 1,
        ));
        let healthy = RefCell::new(false);
        let cycle = async {
            let recovery = node
                .wait_healthy(RECOVERY_BOUND)
                .await
                .unwrap_or_else(|error| panic!("no recovery after kill {kills_done}: {error}"));
            *healthy.borrow_mut() = true;
            recoveries.push(recovery);
            check_after_restart(&node, &run, recent_from, &mut rng).await;
            let over = if final_phase {
                Duration::ZERO
            } else {
                up_for.saturating_sub(spawned_at.elapsed())
            };
            tokio::join!(
                drive_batches(&node, &run, Pace::new(batch_budget, over)),
                drive_waiting(&node, &run, Pace::new(waiting_budget, over))
            );
        };
        if final_phase {
            cycle.await;
        } else {
            tokio::select! {
                _ = cycle => {
                    // Everything committed already: the kill still comes at its time.
                    tokio::time::sleep(up_for.saturating_sub(spawned_at.elapsed())).await;
                }
                _ = tokio::time::sleep(up_for) => {}
            }
        }
        if final_phase && run.borrow().all_committed() {
            // Final checks on the live node, then kill it one last time. List the blocks
            // up to the head first: the last receipts may be ahead of the listing.
            scan_blocks(&node, &run).await.expect("list blocks");
            let heights: Vec<u64> = run.borrow().acks.blocks.keys().copied().collect();
            let in_blocks = check_blocks(&node, &run, &heights).await;
            let receipts = run.borrow().acks.receipts.clone();
            for (hash, (height, index)) in &receipts {
                let run = run.borrow();
                assert_eq!(
                    run.acks.blocks[height].1[*index as usize],
                    hex::encode(hash),
                    "receipt of {} does not match block {height}",
                    hex::encode(hash)
                );
            }
            let head = *heights.last().expect("blocks");
            let samples = [head / 3, 2 * head / 3, head];
            check_supply(&node, &run, &samples).await;
            node.kill();
            let (ok, text) = replay(&data_dir);
            assert!(ok, "replay failed:\n{text}");
            assert!(
                text.contains("every stored root matches the replay"),
                "{text}"
            );
            replays += 1;
            let recovery_p50 = quantile(&recoveries, 0.50);
            let recovery_p99 = quantile(&recoveries, 0.99);
            let recovery_max = quantile(&recoveries, 1.0);
            let acked = run.borrow().acks.txs.len();
            println!(
                "crash result: seed {seed}; kills {kills_done} ({kills_before_serving} before \
                 the node served); signed txs {signed}; acknowledged committed {acked} \
                 (receipts via wait=commit {}); lost 0; blocks {} (checked txs {in_blocks}); \
                 recovery spawn->healthy p50 {} ms, p99 {} ms, max {} ms over {} restarts; \
                 replays {replays}: {}; wall {:.1} s",
                receipts.len(),
                head + 1,
                recovery_p50.as_millis(),
                recovery_p99.as_millis(),
                recovery_max.as_millis(),
                recoveries.len(),
                text.lines().next().unwrap_or(""),
                started.elapsed().as_secs_f64()
            );
            assert_eq!(acked, signed, "every signed transaction was committed");
            assert!(recovery_max < RECOVERY_BOUND);
            return;
        }
        if !*healthy.borrow() {
            kills_before_serving += 1;
        }
        node.kill();
        kills_done += 1;
        recent_from = run.borrow().acks.scanned_to.unwrap_or(0).saturating_sub(2);
        if kills_done.is_multiple_of(25) {
            let (ok, text) = replay(&data_dir);
            // A kill before genesis was ever committed leaves nothing to replay.
            if run.borrow().acks.scanned_to.is_some() {
                assert!(ok, "replay after kill {kills_done} failed:\n{text}");
                replays += 1;
            }
        }
        if kills_done.is_multiple_of(10) {
            eprintln!(
                "crash: {kills_done} kills, {} txs committed, {:.1} s",
                run.borrow().total_committed(),
                started.elapsed().as_secs_f64()
            );
        }
    }
}
