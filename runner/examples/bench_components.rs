//! Component benchmark: prints figures, never asserts. Where `bench_node` measures the node
//! end to end, this measures its parts apart, each on one thread unless said otherwise:
//!
//! 1. signature verification per transaction under the node's rule (`agora_contract::sig`):
//!    single, and in batches of `VERIFY_BATCH_TXS` as admission does (with and without the
//!    parsed-key cache);
//! 2. apply cost per action kind: `apply_tx_with` with `signature_verified = true` (the
//!    signature is excluded, as in blocks whose transactions admission verified) over a
//!    `MemState` prepared with the objects each action needs; median µs per transaction for
//!    every action that can succeed in sequence, plus one transfer line with the signature
//!    checked inside `apply_tx_with`;
//! 3. the state-root update per block against keys touched and state size: `StateTree::set`
//!    of the touched keys, then `StateTree::commit` (one thread) or `commit_with` spreading
//!    the dirty buckets over every core as the runner's `commit_parallel` does;
//! 4. RocksDB commit per block with the WAL synced (`Store::commit_block`, the node's store
//!    settings) for blocks of transfers executed over the store's own `StoreView`, with the
//!    apply and tree costs of the same blocks beside it, in a temp dir on the local disk;
//! 5. proofs from that store: `Store::prove_at` at the latest and an older height, and
//!    `StateProof::verify_value` against the header's root;
//!
//! and, after 5, the blocks of 4 again through the node's own path on a new store
//! (`AgoraApp::finalize_block`, which reads the block's accounts ahead, and `commit`).
//!
//! Run: `cargo run --release -p agora-runner --example bench_components -- [--quick] [--tiny]
//! [--accounts N] [--parts 1,2,3,4]` (`--accounts` sets the store's state size for 4 and 5,
//! default 10^6; `--quick` uses 10^5 and fewer repetitions; `--tiny` is a smoke run for debug
//! builds; `--parts` runs only the listed parts, 4 including 5).
//! Other processes using the CPU or the disk make every figure high; the run prints the load
//! average before and after.

#[path = "common/mod.rs"]
mod common;

use agora_runner::app::commit_parallel;
use common::{dir_size, fmt_count, median, now_ms, percentile, splitmix, Summary};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_contract::block::{apply_block_with, apply_tx_with, init_chain, Genesis, TxStatus};
use agora_contract::commit::{list_root, StateTree};
use agora_contract::header::{hook_events_hash, Header, SignedHeader, HEADER_VERSION};
use agora_contract::ids::{sha256, AccountId, Hash, Uuid};
use agora_contract::market::privacy::Privacy;
use agora_contract::market::{assignment_id, QualityMin, QualityScore, Sla, TaskSpec};
use agora_contract::sig;
use agora_contract::state::{keys, Changes, MemState, WriteSet};
use agora_contract::tx::{account_of, UnsignedTx};
use agora_contract::{
    Action, Amount, BlockCtx, BoundedVec, Cid, CreateEscrow, Decision, EscrowKind, Label, Outcome,
    PostRequest,
};
use agora_runner::app::{AgoraApp, Application, ProposedBlock};
use agora_runner::node::VERIFY_BATCH_TXS;
use agora_runner::sequencer::header_for;
use agora_runner::store::{BlockWrite, Store, StoredBlock};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;

const CHAIN_ID: &str = "agora-bench";

// ------------------------------------------------------------------------------------------
// Settings and output

struct Scale {
    name: &'static str,
    sig_count: usize,
    sig_secs: f64,
    /// Transactions per action kind in part 2.
    actions: usize,
    tree_sizes: Vec<usize>,
    tree_touched: Vec<usize>,
    tree_runs: usize,
    store_accounts: usize,
    block_sizes: Vec<usize>,
    block_runs: usize,
    proofs: usize,
    /// Parts to run (1 to 4; 4 includes the proofs of 5).
    parts: Vec<u32>,
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
                sig_count: 256,
                sig_secs: 0.2,
                actions: 200,
                tree_sizes: vec![10_000],
                tree_touched: vec![100, 1_000],
                tree_runs: 3,
                store_accounts: 10_000,
                block_sizes: vec![100, 1_000],
                block_runs: 2,
                proofs: 200,
                parts: Vec::new(),
            }
        } else if has("--quick") {
            Scale {
                name: "quick",
                sig_count: 2_048,
                sig_secs: 1.0,
                actions: 2_000,
                tree_sizes: vec![10_000, 100_000],
                tree_touched: vec![100, 1_000, 10_000, 50_000],
                tree_runs: 5,
                store_accounts: 100_000,
                block_sizes: vec![1_000, 5_000, 20_000],
                block_runs: 3,
                proofs: 1_000,
                parts: Vec::new(),
            }
        } else {
            Scale {
                name: "default",
                sig_count: 4_096,
                sig_secs: 2.0,
                actions: 5_000,
                tree_sizes: vec![10_000, 100_000, 1_000_000],
                tree_touched: vec![100, 1_000, 10_000, 50_000],
                tree_runs: 7,
                store_accounts: 1_000_000,
                block_sizes: vec![1_000, 5_000, 20_000],
                block_runs: 5,
                proofs: 2_000,
                parts: Vec::new(),
            }
        };
        if let Some(count) = value("--accounts") {
            scale.store_accounts = count.parse().expect("--accounts takes a number");
        }
        scale.parts = match value("--parts") {
            Some(list) => list
                .split(',')
                .map(|part| part.trim().parse().expect("--parts takes numbers, a,b,c"))
                .collect(),
            None => vec![1, 2, 3, 4],
        };
        scale
    }
}

/// Signing key `i`: seed sha256("components" ‖ i as u64 BE).
fn bench_key(i: usize) -> SigningKey {
    SigningKey::from_bytes(&sha256(&[b"components", &(i as u64).to_be_bytes()]))
}

/// An account that only receives (no key is derived for it: far cheaper at 10^6).
fn passive_account(i: usize) -> AccountId {
    AccountId(sha256(&[b"components-passive", &(i as u64).to_be_bytes()]))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".into())
}

/// CPU seconds used so far by the whole machine (busy time) and by this process.
fn cpu_seconds() -> (f64, f64) {
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    let machine: f64 = stat
        .lines()
        .next()
        .map(|cpu| {
            cpu.split_whitespace()
                .skip(1)
                .take(8)
                .enumerate()
                .filter(|(at, _)| *at != 3 && *at != 4)
                .filter_map(|(_, ticks)| ticks.parse::<f64>().ok())
                .sum()
        })
        .unwrap_or(0.0);
    let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let process: f64 = own
        .rfind(')')
        .map(|close| {
            own[close + 1..]
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|ticks| ticks.parse::<f64>().ok())
                .sum()
        })
        .unwrap_or(0.0);
    (machine / TICKS_PER_SECOND, process / TICKS_PER_SECOND)
}

/// What other processes used of the CPU while a section ran, as a share of one core.
struct Contention {
    started: Instant,
    cpu: (f64, f64),
}

impl Contention {
    fn start() -> Contention {
        Contention {
            started: Instant::now(),
            cpu: cpu_seconds(),
        }
    }

    /// Prints and returns the digest: "others N% of one core" (flagged above 15 %).
    fn report(&self, section: &str) -> String {
        let wall = self.started.elapsed().as_secs_f64();
        let (machine, process) = cpu_seconds();
        let others = ((machine - self.cpu.0) - (process - self.cpu.1)).max(0.0) / wall;
        let digest = format!(
            "{:.0}% of one core{}",
            others * 100.0,
            if others > 0.15 {
                " <- CONTENTION: figures are high"
            } else {
                ""
            }
        );
        println!(
            "  [{section}: {wall:.0} s wall, this process {:.0}% of one core, other processes \
             {digest}]",
            (process - self.cpu.1) / wall * 100.0
        );
        digest
    }
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

fn ms(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e3
}

fn us(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e6
}

// ------------------------------------------------------------------------------------------
// 1. Signature verification per transaction

fn signatures(scale: &Scale, summary: &mut Summary) {
    const CHUNK: usize = VERIFY_BATCH_TXS;
    println!("\n## 1. Signature verification per transaction (node rule, one thread)");
    let count = scale.sig_count;
    let chain_id = Label::new(CHAIN_ID).expect("valid chain id");
    let keys: Vec<SigningKey> = (0..count).into_par_iter().map(bench_key).collect();
    let signed: Vec<(Vec<u8>, [u8; 64], [u8; 32])> = keys
        .par_iter()
        .enumerate()
        .map(|(i, key)| {
            let tx = UnsignedTx {
                chain_id: chain_id.clone(),
                signer: account_of(key),
                nonce: i as u64,
                valid_until_height: None,
                action: Action::Transfer {
                    to: account_of(&keys[(i + 1) % count]),
                    amount: Amount(1),
                },
            }
            .sign(key);
            (tx.tx.signing_message(), tx.signature, tx.tx.signer.0)
        })
        .collect();
    let parsed: Vec<sig::PublicKey> = signed
        .iter()
        .filter_map(|(_, _, key)| sig::PublicKey::parse(key))
        .collect();
    let weights: Vec<u128> = (0..CHUNK as u128)
        .map(|i| 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834 ^ (i << 64))
        .collect();
    // Repeats the pass until `sig_secs` have gone by; returns µs per signature.
    let time = |pass: &dyn Fn() -> usize| -> (f64, usize) {
        let started = Instant::now();
        let mut done = 0usize;
        let mut failures = 0usize;
        while started.elapsed().as_secs_f64() < scale.sig_secs {
            failures += pass();
            done += count;
        }
        (us(started.elapsed()) / done as f64, failures)
    };
    let (single, f1) = time(&|| {
        signed
            .iter()
            .filter(|(message, signature, key)| !sig::verify(key, message, signature))
            .count()
    });
    let (single_cached, f2) = time(&|| {
        signed
            .iter()
            .zip(&parsed)
            .filter(|((message, signature, _), key)| {
                !sig::prepare_with_key(key, message, signature).is_some_and(|p| p.verify())
            })
            .count()
    });
    let (batch_cached, f3) = time(&|| {
        signed
            .chunks(CHUNK)
            .zip(parsed.chunks(CHUNK))
            .filter(|(chunk, keys)| {
                let prepared: Vec<sig::Prepared> = chunk
                    .iter()
                    .zip(keys.iter())
                    .filter_map(|((message, signature, _), key)| {
                        sig::prepare_with_key(key, message, signature)
                    })
                    .collect();
                !sig::verify_batch(&prepared, &weights[..prepared.len()])
            })
            .count()
    });
    let (batch_parse, f4) = time(&|| {
        signed
            .chunks(CHUNK)
            .filter(|chunk| {
                let prepared: Vec<sig::Prepared> = chunk
                    .iter()
                    .filter_map(|(message, signature, key)| sig::prepare(key, message, signature))
                    .collect();
                !sig::verify_batch(&prepared, &weights[..prepared.len()])
            })
            .count()
    });
    println!(
        "  {count} transfer signatures by distinct keys ({}-byte signing messages)",
        signed[0].0.len()
    );
    println!("  single, key decoded each time (sig::verify)   {single:>6.1} us/sig");
    println!("  single, key decoded once (prepare_with_key)   {single_cached:>6.1} us/sig");
    println!("  batch of {CHUNK}, keys decoded each time         {batch_parse:>6.1} us/sig");
    println!(
        "  batch of {CHUNK}, keys decoded once (admission)  {batch_cached:>6.1} us/sig  \
         (batch is {:.2}x faster than single)",
        single / batch_cached
    );
    if f1 + f2 + f3 + f4 > 0 {
        println!("  (verification failures: {})", f1 + f2 + f3 + f4);
    }
    summary.add(
        format!("signature verify per tx, 1 thread: single / batch x{CHUNK}"),
        format!("{single:.1} / {batch_cached:.1} us (batch with key decoding {batch_parse:.1} us)"),
    );
}

// ------------------------------------------------------------------------------------------
// 2. Apply per action kind

struct Lab {
    state: MemState,
    chain_id: Label,
    height: u64,
    time_ms: u64,
    keys: Vec<SigningKey>,
    ids: Vec<AccountId>,
    nonces: Vec<u64>,
    rows: Vec<ActionRow>,
}

struct ActionRow {
    name: String,
    count: usize,
    median_us: f64,
    p99_us: f64,
    failures: usize,
}

/// Transactions per block buffer in part 2 (the buffer grows as the block's writes do).
const LAB_BLOCK_TXS: usize = 1_000;

impl Lab {
    fn new(accounts: usize) -> Lab {
        let keys: Vec<SigningKey> = (0..accounts).into_par_iter().map(bench_key).collect();
        let ids: Vec<AccountId> = keys.par_iter().map(account_of).collect();
        let chain_id = Label::new(CHAIN_ID).expect("valid chain id");
        let genesis = Genesis {
            chain_id: chain_id.clone(),
            genesis_time_ms: 1_000_000,
            mint_authority: Some(ids[0]),
            allocations: ids
                .iter()
                .map(|id| (*id, Amount(1_000_000_000_000)))
                .collect(),
        };
        let mut state = MemState::new();
        state.apply(&init_chain(&genesis).expect("genesis"));
        Lab {
            state,
            chain_id,
            height: 0,
            time_ms: 1_000_000,
            keys,
            ids,
            nonces: vec![0; accounts],
            rows: Vec::new(),
        }
    }

    fn sign(&mut self, who: usize, action: Action) -> Vec<u8> {
        let unsigned = UnsignedTx {
            chain_id: self.chain_id.clone(),
            signer: self.ids[who],
            nonce: self.nonces[who],
            valid_until_height: None,
            action,
        };
        self.nonces[who] += 1;
        unsigned.sign(&self.keys[who]).to_bytes()
    }

    /// Signs one action per `(signer, action)`, in parallel (not timed).
    fn sign_all(&mut self, plan: Vec<(usize, Action)>) -> Vec<Vec<u8>> {
        let unsigned: Vec<(usize, UnsignedTx)> = plan
            .into_iter()
            .map(|(who, action)| {
                let tx = UnsignedTx {
                    chain_id: self.chain_id.clone(),
                    signer: self.ids[who],
                    nonce: self.nonces[who],
                    valid_until_height: None,
                    action,
                };
                self.nonces[who] += 1;
                (who, tx)
            })
            .collect();
        let keys = &self.keys;
        unsigned
            .into_par_iter()
            .map(|(who, tx)| tx.sign(&keys[who]).to_bytes())
            .collect()
    }

    /// Applies `txs` in block buffers of [`LAB_BLOCK_TXS`], timing each `apply_tx_with`
    /// call, then commits the writes to the state. Prints and keeps one row.
    fn apply(&mut self, name: &str, txs: Vec<Vec<u8>>, verified: bool) {
        let mut times = Vec::with_capacity(txs.len());
        let mut failures = 0usize;
        let mut first_error = None;
        for chunk in txs.chunks(LAB_BLOCK_TXS) {
            self.height += 1;
            self.time_ms += 100;
            let ctx = BlockCtx {
                chain_id: self.chain_id.clone(),
                height: self.height,
                time_ms: self.time_ms,
                proposer: self.ids[0],
            };
            let writes = {
                let mut block = Changes::new(&self.state);
                for bytes in chunk {
                    let started = Instant::now();
                    let receipt = apply_tx_with(&mut block, &ctx, bytes, verified);
                    times.push(us(started.elapsed()));
                    if let TxStatus::Failed(error) = receipt.status {
                        failures += 1;
                        first_error.get_or_insert(error);
                    }
                }
                block.into_parts().0
            };
            self.state.apply(&writes);
        }
        let count = times.len();
        times.sort_by(f64::total_cmp);
        let median_us = percentile(&times, 50.0);
        let p99_us = percentile(&times, 99.0);
        println!(
            "  {name:<58} {count:>6}  {median_us:>7.1} us  {p99_us:>7.1} us{}",
            match &first_error {
                Some(error) => format!("  FAILED {failures} (first: {})", error.name()),
                None => String::new(),
            }
        );
        self.rows.push(ActionRow {
            name: name.into(),
            count,
            median_us,
            p99_us,
            failures,
        });
    }
}

fn uuid(kind: u8, n: usize) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes[0] = kind;
    bytes[6] = 0x40; // version 4: outside the chain-derived (version 8) space
    bytes[8] = 0x80;
    bytes[9..].copy_from_slice(&(n as u64).to_be_bytes()[1..]);
    Uuid::from_bytes(bytes)
}

fn label(text: &str) -> Label {
    Label::new(text).expect("valid label")
}

/// A request of `units` units for the `render` task type.
fn request(id: Uuid, units: u64, privacy: Privacy, min_reputation: Option<u16>) -> Action {
    Action::PostRequest(PostRequest {
        id,
        spec: TaskSpec {
            task_type: label("render"),
            capabilities: BoundedVec::empty(),
            min_reputation,
            max_duration_ms: 600_000,
        },
        bid_per_unit: Amount(100),
        units,
        window_ms: None,
        arbitrators: BoundedVec::empty(),
        sla: Sla {
            max_response_ms: 60_000,
            max_duration_ms: 500_000,
            quality_min: BoundedVec::new(vec![QualityMin {
                metric: label("accuracy"),
                min_bps: 8_000,
            }])
            .expect("one metric"),
            penalty: Amount(10),
            review_window_ms: 3_600_000,
        },
        privacy,
    })
}

fn public_payload() -> Privacy {
    Privacy::Public {
        payload: BoundedVec::new(vec![0x42; 256]).expect("256 bytes"),
    }
}

/// Escrow creation by requester `who` for provider `provider`.
fn create_escrow(
    id: Uuid,
    provider: AccountId,
    kind: EscrowKind,
    arbitrators: Vec<AccountId>,
    fund: bool,
    deadline_ms: u64,
) -> Action {
    Action::CreateEscrow(CreateEscrow {
        id,
        provider,
        amount: Amount(1_000),
        kind,
        arbitrators: BoundedVec::new(arbitrators).expect("few arbitrators"),
        deadline_ms,
        dispute_window_ms: None,
        job_ref: sha256(&[id.as_bytes()]),
        fund,
    })
}

#[allow(clippy::too_many_lines)]
fn apply_per_action(scale: &Scale, summary: &mut Summary) {
    let n = scale.actions;
    // Requesters 0..n, providers n..2n, arbitrators 2n..3n, plus spare accounts.
    let accounts = (3 * n).max(10_000);
    println!(
        "\n## 2. Apply per action kind: apply_tx_with over a MemState of {accounts} funded \
         accounts, {n} txs per kind in block buffers of {LAB_BLOCK_TXS}, signature excluded \
         (verified = true) unless said"
    );
    let started = Instant::now();
    let mut lab = Lab::new(accounts);
    println!(
        "  {accounts} keys and genesis in {:.1} s (not timed)",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  {:<58} {:>6}  {:>10}  {:>10}",
        "action", "txs", "median", "p99"
    );
    let requester = |i: usize| i;
    let provider = |i: usize| n + i;
    let arbitrator = |i: usize| 2 * n + i;
    let ids = lab.ids.clone();
    let recipient = |i: usize| ids[(splitmix(i as u64) % accounts as u64) as usize];
    let deadline_ms = lab.time_ms + 1_000_000_000;

    // Wallet.
    let plan = (0..n)
        .map(|i| {
            let mut to = recipient(i);
            if to == ids[requester(i)] {
                to = ids[provider(i)];
            }
            (
                requester(i),
                Action::Transfer {
                    to,
                    amount: Amount(1),
                },
            )
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("Transfer", txs, true);
    let plan = (0..n)
        .map(|i| {
            let to = ids[provider(i)];
            (
                requester(i),
                Action::Transfer {
                    to,
                    amount: Amount(1),
                },
            )
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply(
        "Transfer, signature verified inside apply_tx_with",
        txs,
        false,
    );
    // One authority signs every mint: consecutive nonces of one account.
    let txs = (0..n)
        .map(|i| {
            let to = recipient(i);
            lab.sign(
                0,
                Action::Mint {
                    to,
                    amount: Amount(5),
                },
            )
        })
        .collect();
    lab.apply("Mint (by the mint authority)", txs, true);

    // Escrow, Single kind: create, fund, complete, approve (settles).
    let plan = (0..n)
        .map(|i| {
            let create = create_escrow(
                uuid(1, i),
                ids[provider(i)],
                EscrowKind::Single,
                Vec::new(),
                false,
                deadline_ms,
            );
            (requester(i), create)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("CreateEscrow (Single, not funded)", txs, true);
    let plan = (0..n)
        .map(|i| (requester(i), Action::FundEscrow { id: uuid(1, i) }))
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("FundEscrow", txs, true);
    let plan = (0..n)
        .map(|i| {
            let complete = Action::MarkCompleted {
                id: uuid(1, i),
                result_hash: [7; 32],
            };
            (provider(i), complete)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("MarkCompleted", txs, true);
    let plan = (0..n)
        .map(|i| {
            let approve = Action::Approve {
                id: uuid(1, i),
                decision: Decision::Release,
            };
            (requester(i), approve)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply(
        "Approve Release (Single: settles, pays the provider)",
        txs,
        true,
    );

    // Escrow, BothParties: the first approval records, the second settles.
    let plan = (0..n)
        .map(|i| {
            let create = create_escrow(
                uuid(2, i),
                ids[provider(i)],
                EscrowKind::BothParties,
                Vec::new(),
                true,
                deadline_ms,
            );
            (requester(i), create)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply(
        "CreateEscrow (BothParties, funded in the same tx)",
        txs,
        true,
    );
    let plan = (0..n)
        .map(|i| {
            let approve = Action::Approve {
                id: uuid(2, i),
                decision: Decision::Release,
            };
            (requester(i), approve)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("Approve (BothParties, first of two: recorded)", txs, true);
    let plan = (0..n)
        .map(|i| {
            let approve = Action::Approve {
                id: uuid(2, i),
                decision: Decision::Release,
            };
            (provider(i), approve)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("Approve (BothParties, second of two: settles)", txs, true);

    // Escrow with an arbitrator: dispute, evidence, resolution.
    let plan = (0..n)
        .map(|i| {
            let create = create_escrow(
                uuid(3, i),
                ids[provider(i)],
                EscrowKind::Arbitrators {
                    required: 1,
                    total: 1,
                },
                vec![ids[arbitrator(i)]],
                true,
                deadline_ms,
            );
            (requester(i), create)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("CreateEscrow (Arbitrators 1 of 1, funded)", txs, true);
    let plan = (0..n)
        .map(|i| {
            let dispute = Action::RaiseDispute {
                id: uuid(3, i),
                reason_hash: [9; 32],
                evidence: BoundedVec::new(vec![Cid::new("bafy-evidence-1").expect("cid")])
                    .expect("one cid"),
            };
            (requester(i), dispute)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("RaiseDispute (one evidence CID)", txs, true);
    let plan = (0..n)
        .map(|i| {
            let evidence = Action::AddEvidence {
                id: uuid(3, i),
                cid: Cid::new("bafy-evidence-2").expect("cid"),
            };
            (provider(i), evidence)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("AddEvidence", txs, true);
    let plan = (0..n)
        .map(|i| {
            let resolve = Action::Resolve {
                id: uuid(3, i),
                outcome: Outcome::Split {
                    provider_bps: 5_000,
                },
            };
            (arbitrator(i), resolve)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("Resolve (Split 50/50: settles)", txs, true);

    // Market: providers register and post offers; requests match, are accepted, run, settle.
    let plan = (0..n)
        .map(|i| {
            let register = Action::RegisterProvider {
                capabilities: BoundedVec::empty(),
            };
            (provider(i), register)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("RegisterProvider", txs, true);
    let task_types = BoundedVec::new(vec![label("render")]).expect("one task type");
    let plan = (0..n)
        .map(|i| {
            let offer = Action::PostOffer {
                id: uuid(4, i),
                task_types: task_types.clone(),
                ask_per_unit: Amount(50 + (i % 40) as u64),
                capacity_units: 1_000_000_000,
                expires_at_ms: deadline_ms,
            };
            (provider(i), offer)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("PostOffer", txs, true);
    let plan = (0..n)
        .map(|i| {
            (
                requester(i),
                request(uuid(5, i), 1_000, public_payload(), None),
            )
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("PostRequest, matched at once to 10 offers", txs, true);
    let plan = (0..n)
        .map(|i| {
            (
                requester(i),
                request(uuid(6, i), 100, public_payload(), None),
            )
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("PostRequest, matched at once to 1 offer", txs, true);
    let plan = (0..n)
        .map(|i| (provider(i), Action::CancelOffer { id: uuid(4, i) }))
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("CancelOffer", txs, true);
    let plan = (0..n)
        .map(|i| {
            (
                requester(i),
                request(uuid(7, i), 100, public_payload(), None),
            )
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("PostRequest, empty book (public payload 256 B)", txs, true);
    let plan = (0..n)
        .map(|i| {
            let accept = Action::AcceptRequest {
                request_id: uuid(7, i),
                ask_per_unit: Amount(80),
            };
            (provider(i), accept)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply(
        "AcceptRequest (fills the request, opens its escrow)",
        txs,
        true,
    );
    let assignment = |i: usize| assignment_id(&uuid(7, i), &ids[provider(i)]);
    let plan = (0..n)
        .map(|i| {
            let start = Action::StartTask {
                assignment_id: assignment(i),
            };
            (provider(i), start)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("StartTask", txs, true);
    let plan = (0..n)
        .map(|i| {
            let submit = Action::SubmitResult {
                assignment_id: assignment(i),
                result_hash: [1; 32],
            };
            (provider(i), submit)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("SubmitResult", txs, true);
    let plan = (0..n)
        .map(|i| {
            let scores = vec![QualityScore {
                metric: label("accuracy"),
                score_bps: 9_000,
            }];
            let rate = Action::RateResult {
                assignment_id: assignment(i),
                scores: BoundedVec::new(scores).expect("one score"),
            };
            (requester(i), rate)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("RateResult (settles: payout, reputation, price)", txs, true);
    let confidential = Privacy::Confidential {
        commitment: [3; 32],
    };
    let plan = (0..n)
        .map(|i| {
            let post = request(uuid(8, i), 100, confidential.clone(), Some(0));
            (requester(i), post)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("PostRequest, empty book (confidential)", txs, true);
    let plan = (0..n)
        .map(|i| {
            let accept = Action::AcceptRequest {
                request_id: uuid(8, i),
                ask_per_unit: Amount(80),
            };
            (provider(i), accept)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("AcceptRequest (confidential request)", txs, true);
    let plan = (0..n)
        .map(|i| {
            let deliver = Action::DeliverPayload {
                assignment_id: assignment_id(&uuid(8, i), &ids[provider(i)]),
                ciphertext: BoundedVec::new(vec![0x5a; 384]).expect("384 bytes"),
            };
            (requester(i), deliver)
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("DeliverPayload (384-byte ciphertext)", txs, true);
    let plan = (0..n)
        .map(|i| {
            (
                requester(i),
                request(uuid(9, i), 100, public_payload(), None),
            )
        })
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("PostRequest, empty book (again)", txs, true);
    let plan = (0..n)
        .map(|i| (requester(i), Action::CancelRequest { id: uuid(9, i) }))
        .collect();
    let txs = lab.sign_all(plan);
    lab.apply("CancelRequest", txs, true);

    let failures: usize = lab.rows.iter().map(|row| row.failures).sum();
    println!(
        "  state after the phases: {} keys; failed transactions: {failures}",
        lab.state.entries().len()
    );
    for row in &lab.rows {
        summary.add(
            format!("apply {}", row.name),
            format!(
                "{:.1} us median (p99 {:.1} us, {} txs{})",
                row.median_us,
                row.p99_us,
                row.count,
                if row.failures > 0 {
                    format!(", {} FAILED", row.failures)
                } else {
                    String::new()
                }
            ),
        );
    }
}

// ------------------------------------------------------------------------------------------
// 3. State-root update against keys touched and state size

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

/// `touched` distinct indices below `size`: a stride permutation from a per-run offset.
fn touched_indices(size: usize, touched: usize, run: u64) -> Vec<u64> {
    // 7919 is prime and does not divide any power of ten, so the stride visits every index.
    const STRIDE: u64 = 7_919;
    let offset = splitmix(run) % size as u64;
    (0..touched as u64)
        .map(|k| (offset + k * STRIDE) % size as u64)
        .collect()
}

struct TreeRow {
    size: usize,
    touched: usize,
    set_ms: f64,
    serial_ms: f64,
    parallel_ms: f64,
    nodes: usize,
}

fn state_root_grid(scale: &Scale, summary: &mut Summary) {
    let threads = rayon::current_num_threads();
    println!(
        "\n## 3. State-root update per block: keys touched x state size (StateTree, 33-byte \
         keys, 40-byte values; median of {} runs, each touching other keys)",
        scale.tree_runs
    );
    println!(
        "  set = StateTree::set of the touched keys (value and leaf hashing, bucket insert); \
         commit = rebuild the dirty buckets and their top-tree paths, on 1 thread \
         (StateTree::commit) or {threads} (commit_with + rayon, as the runner does); nodes = \
         top-tree nodes changed (the store versions the pages holding them)"
    );
    println!(
        "  {:>10} {:>8} {:>9} {:>13} {:>13} {:>15} {:>10}",
        "state", "touched", "set ms", "commit 1 thr", "commit rayon", "set+commit (node)", "nodes"
    );
    let mut rows = Vec::new();
    for &size in &scale.tree_sizes {
        let started = Instant::now();
        let mut tree = StateTree::new();
        let leaves: Vec<(Vec<u8>, Vec<u8>)> = (0..size as u64)
            .into_par_iter()
            .map(|i| (tree_key(i), tree_value(i, 0)))
            .collect();
        for (key, value) in &leaves {
            tree.set(key, Some(value));
        }
        drop(leaves);
        commit_parallel(&mut tree);
        println!(
            "  (state of {} keys built in {:.1} s; VmRSS {:.0} MiB)",
            fmt_count(size),
            started.elapsed().as_secs_f64(),
            memory().0
        );
        let mut version = 1u64;
        for &touched in &scale.tree_touched {
            if touched > size {
                println!(
                    "  {:>10} {touched:>8}   (skipped: a block cannot update more keys than \
                     the state holds)",
                    fmt_count(size)
                );
                continue;
            }
            let mut set_ms = Vec::new();
            let mut serial_ms = Vec::new();
            let mut parallel_ms = Vec::new();
            let mut nodes = Vec::new();
            for run in 0..scale.tree_runs as u64 {
                for parallel in [false, true] {
                    let seed = ((size as u64) << 32)
                        ^ ((touched as u64) << 8)
                        ^ (run << 1)
                        ^ u64::from(parallel);
                    let writes: Vec<(Vec<u8>, Vec<u8>)> = touched_indices(size, touched, seed)
                        .into_iter()
                        .map(|i| (tree_key(i), tree_value(i, version)))
                        .collect();
                    version += 1;
                    let started = Instant::now();
                    for (key, value) in &writes {
                        tree.set(key, Some(value));
                    }
                    let set = started.elapsed();
                    let started = Instant::now();
                    let (_, changed) = if parallel {
                        commit_parallel(&mut tree)
                    } else {
                        tree.commit()
                    };
                    let commit = started.elapsed();
                    set_ms.push(ms(set));
                    if parallel {
                        parallel_ms.push(ms(commit));
                    } else {
                        serial_ms.push(ms(commit));
                    }
                    nodes.push(changed.len() as f64);
                }
            }
            let row = TreeRow {
                size,
                touched,
                set_ms: median(&mut set_ms),
                serial_ms: median(&mut serial_ms),
                parallel_ms: median(&mut parallel_ms),
                nodes: median(&mut nodes) as usize,
            };
            println!(
                "  {:>10} {touched:>8} {:>9.2} {:>13.2} {:>13.2} {:>15.2} {:>10}",
                fmt_count(size),
                row.set_ms,
                row.serial_ms,
                row.parallel_ms,
                row.set_ms + row.parallel_ms,
                row.nodes
            );
            rows.push(row);
        }
    }
    for row in rows {
        summary.add(
            format!(
                "state root: {} keys touched of {}",
                row.touched,
                fmt_count(row.size)
            ),
            format!(
                "set {:.1} + commit {:.1} ms ({threads} threads; 1 thread {:.1} ms)",
                row.set_ms, row.parallel_ms, row.serial_ms
            ),
        );
    }
}

// ------------------------------------------------------------------------------------------
// 4 and 5. RocksDB commit per block, proofs from the store

/// A chain in a RocksDB store, driven block by block by hand: the steps of the runner's
/// `AgoraApp::finalize_block` and `commit` (execute over the store, update the tree, sign
/// the header, one synced batch), each timed apart.
struct Chain {
    store: Store,
    tree: StateTree,
    chain_id: Label,
    sequencer: SigningKey,
    height: u64,
    time_ms: u64,
    last_header_hash: Hash,
    /// State root at each height.
    roots: Vec<Hash>,
}

/// Times of one block's steps.
struct BlockTimes {
    apply: Duration,
    tree: Duration,
    header: Duration,
    commit: Duration,
    writes: usize,
    /// Bytes of keys and values in the block's batch, estimated from its parts.
    batch_bytes: usize,
    failed: usize,
}

impl Chain {
    /// Commits `writes` with their receipts as the next block and returns its times.
    fn commit(
        &mut self,
        txs: Vec<Vec<u8>>,
        outcome: agora_contract::BlockOutcome,
        apply: Duration,
    ) -> BlockTimes {
        let started = Instant::now();
        for (key, value) in &outcome.writes {
            self.tree.set(key, value.as_deref());
        }
        let (state_root, nodes) = commit_parallel(&mut self.tree);
        let pages = agora_runner::store::changed_pages(&nodes, |index| self.tree.node(index));
        let tree = started.elapsed();
        let started = Instant::now();
        let hashes: Vec<Hash> = txs.iter().map(|tx| sha256(&[tx])).collect();
        let encoded: Vec<Vec<u8>> = outcome
            .receipts
            .iter()
            .map(|receipt| borsh::to_vec(receipt).expect("receipt encodes"))
            .collect();
        let header = self.header(
            txs.len(),
            list_root(&hashes),
            list_root(&encoded),
            hook_events_hash(&outcome.hook_events),
            state_root,
        );
        let header_time = started.elapsed();
        let failed = outcome
            .receipts
            .iter()
            .filter(|receipt| receipt.status != TxStatus::Success)
            .count();
        let block = StoredBlock {
            header,
            txs,
            hook_events: outcome.hook_events,
        };
        let write = BlockWrite {
            block: &block,
            receipts: &outcome.receipts,
            encoded_receipts: &encoded,
            writes: &outcome.writes,
            pages: &pages,
        };
        let batch_bytes = batch_bytes(&write);
        let started = Instant::now();
        self.store.commit_block(&write).expect("commit_block");
        let commit = started.elapsed();
        self.last_header_hash = block.header.header.hash();
        self.roots.push(state_root);
        BlockTimes {
            apply,
            tree,
            header: header_time,
            commit,
            writes: outcome.writes.len(),
            batch_bytes,
            failed,
        }
    }

    fn header(
        &self,
        tx_count: usize,
        tx_root: Hash,
        receipts_root: Hash,
        hook_events_hash: Hash,
        state_root: Hash,
    ) -> SignedHeader {
        Header {
            version: HEADER_VERSION,
            chain_id: self.chain_id.clone(),
            height: self.height,
            prev_hash: if self.height == 0 {
                [0; 32]
            } else {
                self.last_header_hash
            },
            time_ms: self.time_ms,
            tx_count: u32::try_from(tx_count).unwrap_or(u32::MAX),
            tx_root,
            receipts_root,
            hook_events_hash,
            state_root,
            proposer: account_of(&self.sequencer),
        }
        .sign(&self.sequencer)
    }

    /// Executes `txs` (signatures counted as verified, as after admission) as the next block
    /// over the store's view, then commits it.
    fn block(&mut self, txs: Vec<Vec<u8>>) -> BlockTimes {
        self.height += 1;
        self.time_ms += 500;
        let ctx = BlockCtx {
            chain_id: self.chain_id.clone(),
            height: self.height,
            time_ms: self.time_ms,
            proposer: account_of(&self.sequencer),
        };
        let verified = vec![true; txs.len()];
        let started = Instant::now();
        let outcome =
            apply_block_with(&self.store.view(), &ctx, &txs, &verified).expect("block applies");
        let apply = started.elapsed();
        self.commit(txs, outcome, apply)
    }
}

/// The keys and values `Store::commit_block` puts in its batch, by the layout in `store.rs`:
/// state and history per write, node versions, the undo record, receipts and the tx index
/// per transaction, the block and the head (escrow events are not in transfer blocks).
fn batch_bytes(write: &BlockWrite<'_>) -> usize {
    let state: usize = write
        .writes
        .iter()
        .map(|(key, value)| {
            let value = value.as_ref().map_or(0, Vec::len);
            // state entry, then history entry (bucket, length, key, height; tag, value)
            key.len() + value + (key.len() + 12) + (value + 1) + key.len() + 4
        })
        .sum();
    let nodes: usize = write
        .pages
        .iter()
        .map(|(tier, _, hashes)| 11 + agora_runner::store::encode_page(*tier, hashes).len())
        .sum();
    // One receipt list per block (count, end offsets, receipts), a tx index entry per tx.
    let receipts: usize = 12
        + write
            .encoded_receipts
            .iter()
            .map(|receipt| 4 + receipt.len() + 32 + 12)
            .sum::<usize>();
    let block = borsh::to_vec(write.block).map_or(0, |bytes| bytes.len()) + 8;
    state + nodes + receipts + block + 12
}

/// Builds the store with `accounts` funded accounts (the first `senders` with keys) and
/// commits genesis; prints the genesis costs.
fn genesis_chain(
    dir: &std::path::Path,
    accounts: usize,
    senders: &[SigningKey],
) -> (Chain, Vec<AccountId>) {
    let started = Instant::now();
    let mut ids: Vec<AccountId> = senders.par_iter().map(account_of).collect();
    ids.par_extend(
        (senders.len()..accounts)
            .into_par_iter()
            .map(passive_account),
    );
    let chain_id = Label::new(CHAIN_ID).expect("valid chain id");
    let genesis_time_ms = now_ms();
    let genesis = Genesis {
        chain_id: chain_id.clone(),
        genesis_time_ms,
        mint_authority: None,
        allocations: ids
            .iter()
            .map(|id| (*id, Amount(1_000_000_000_000)))
            .collect(),
    };
    let writes: WriteSet = init_chain(&genesis).expect("genesis");
    let prepared = started.elapsed();
    let store = Store::open(dir).expect("store opens");
    let mut chain = Chain {
        store,
        tree: StateTree::new(),
        chain_id,
        sequencer: SigningKey::from_bytes(&sha256(&[b"components-sequencer"])),
        height: 0,
        time_ms: genesis_time_ms,
        last_header_hash: [0; 32],
        roots: Vec::new(),
    };
    let outcome = agora_contract::BlockOutcome {
        hook_events: Vec::new(),
        receipts: Vec::new(),
        writes,
    };
    let times = chain.commit(Vec::new(), outcome, Duration::ZERO);
    println!(
        "  genesis of {} accounts: keys, ids and init_chain {:.1} s; tree set + commit {:.1} s; \
         Store::commit_block of {} writes (synced) {:.1} s",
        fmt_count(accounts),
        prepared.as_secs_f64(),
        times.tree.as_secs_f64(),
        times.writes,
        times.commit.as_secs_f64()
    );
    (chain, ids)
}

struct CommitRow {
    txs: usize,
    commit_ms: f64,
    apply_ms: f64,
    tree_ms: f64,
    header_ms: f64,
    writes: usize,
    batch_mib: f64,
}

#[allow(clippy::too_many_lines)]
fn store_blocks_and_proofs(scale: &Scale, summary: &mut Summary) {
    let accounts = scale.store_accounts;
    let label = fmt_count(accounts);
    let largest = scale.block_sizes.iter().copied().max().unwrap_or(0);
    let senders_count = largest.min(accounts);
    println!(
        "\n## 4. RocksDB commit per block, WAL synced (Store::commit_block), {label} accounts \
         in state, blocks of transfers (median of {} blocks per size)",
        scale.block_runs
    );
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "  store in {} (local disk; the node's RocksDB settings, sync on)",
        dir.path().display()
    );
    let started = Instant::now();
    let senders: Vec<SigningKey> = (0..senders_count).into_par_iter().map(bench_key).collect();
    println!(
        "  {senders_count} sender keys derived in {:.1} s (not timed)",
        started.elapsed().as_secs_f64()
    );
    let (mut chain, ids) = genesis_chain(&dir.path().join("db"), accounts, &senders);
    let chain_id = chain.chain_id.clone();
    let mut nonces = vec![0u64; senders_count];
    let mut sign_block = |size: usize, block: u64| -> Vec<Vec<u8>> {
        let plan: Vec<(usize, u64, AccountId)> = (0..size)
            .map(|j| {
                let mut to = (splitmix((block << 32) ^ j as u64) % accounts as u64) as usize;
                if to == j {
                    to = (to + 1) % accounts;
                }
                let nonce = nonces[j];
                nonces[j] += 1;
                (j, nonce, ids[to])
            })
            .collect();
        plan.into_par_iter()
            .map(|(j, nonce, to)| {
                UnsignedTx {
                    chain_id: chain_id.clone(),
                    signer: account_of(&senders[j]),
                    nonce,
                    valid_until_height: None,
                    action: Action::Transfer {
                        to,
                        amount: Amount(1),
                    },
                }
                .sign(&senders[j])
                .to_bytes()
            })
            .collect()
    };

    // An empty block (only the chain head changes): the floor of a synced write.
    let mut empty_ms = Vec::new();
    for _ in 0..scale.block_runs {
        let times = chain.block(Vec::new());
        empty_ms.push(ms(times.commit));
    }
    let empty = median(&mut empty_ms);
    println!("  empty block (chain head only): commit {empty:.2} ms");

    println!(
        "  {:>7} {:>8} {:>9} {:>11} {:>10} {:>9} {:>9} {:>10} {:>9}",
        "txs",
        "writes",
        "batch MiB",
        "commit ms",
        "us/tx",
        "apply ms",
        "us/tx",
        "tree ms",
        "sign ms"
    );
    let mut rows = Vec::new();
    let mut block_number = 0u64;
    for &size in &scale.block_sizes {
        let size = size.min(senders_count);
        let mut commit_ms = Vec::new();
        let mut apply_ms = Vec::new();
        let mut tree_ms = Vec::new();
        let mut header_ms = Vec::new();
        let mut writes = 0usize;
        let mut batch_mib = 0.0;
        let mut failed = 0usize;
        for _ in 0..scale.block_runs {
            block_number += 1;
            let txs = sign_block(size, block_number);
            let times = chain.block(txs);
            commit_ms.push(ms(times.commit));
            apply_ms.push(ms(times.apply));
            tree_ms.push(ms(times.tree));
            header_ms.push(ms(times.header));
            writes = times.writes;
            batch_mib = times.batch_bytes as f64 / (1 << 20) as f64;
            failed += times.failed;
        }
        let row = CommitRow {
            txs: size,
            commit_ms: median(&mut commit_ms),
            apply_ms: median(&mut apply_ms),
            tree_ms: median(&mut tree_ms),
            header_ms: median(&mut header_ms),
            writes,
            batch_mib,
        };
        println!(
            "  {:>7} {:>8} {:>9.1} {:>11.1} {:>10.1} {:>9.1} {:>9.1} {:>10.1} {:>9.1}{}",
            row.txs,
            row.writes,
            row.batch_mib,
            row.commit_ms,
            row.commit_ms * 1e3 / size as f64,
            row.apply_ms,
            row.apply_ms * 1e3 / size as f64,
            row.tree_ms,
            row.header_ms,
            if failed > 0 {
                format!("  ({failed} failed receipts)")
            } else {
                String::new()
            }
        );
        rows.push(row);
    }
    println!(
        "  commit = Store::commit_block: state, history, top-tree pages, undo record, receipts, tx \
         index, block, head, in one WriteBatch written with sync; apply = apply_block_with over \
         StoreView (RocksDB reads), signatures counted as verified; tree = set + parallel \
         commit; sign = tx and receipt roots + header signature"
    );
    summary.add(
        format!("RocksDB commit, empty block ({label} accounts)"),
        format!("{empty:.2} ms (synced write floor)"),
    );
    for row in &rows {
        summary.add(
            format!("RocksDB commit, block of {} transfers", row.txs),
            format!(
                "{:.1} ms/block = {:.1} us/tx ({} writes, ~{:.1} MiB batch; apply over RocksDB \
                 {:.1} us/tx)",
                row.commit_ms,
                row.commit_ms * 1e3 / row.txs as f64,
                row.writes,
                row.batch_mib,
                row.apply_ms * 1e3 / row.txs as f64
            ),
        );
    }

    // 5. Proofs from the store.
    let latest = chain.height;
    let older = 1u64;
    println!(
        "\n## 5. Proofs from the store at {label} accounts: Store::prove_at at the latest height \
         ({latest}) and an older one ({older}), verify_value against that height's root \
         ({} keys of each kind)",
        scale.proofs
    );
    let present: Vec<Vec<u8>> = (0..scale.proofs as u64)
        .map(|k| {
            // Half the keys among the senders (changed by the blocks), half anywhere.
            let index = if k % 2 == 0 {
                (splitmix(0xC0FFEE ^ k) % senders_count as u64) as usize
            } else {
                (splitmix(0xBEEF ^ k) % accounts as u64) as usize
            };
            keys::account(&ids[index])
        })
        .collect();
    let absent: Vec<Vec<u8>> = (0..scale.proofs)
        .map(|k| keys::account(&passive_account(accounts + 1 + k)))
        .collect();
    let mut proof_rows = Vec::new();
    for height in [latest, older] {
        let root = chain.roots[height as usize];
        for (kind, keys) in [("member", &present), ("non-member", &absent)] {
            let mut prove_us = Vec::with_capacity(keys.len());
            let mut verify_us = Vec::with_capacity(keys.len());
            let mut sizes = Vec::with_capacity(keys.len());
            let mut wrong = 0usize;
            for key in keys {
                let started = Instant::now();
                let (value, proof) = chain.store.prove_at(key, height).expect("prove_at");
                prove_us.push(us(started.elapsed()));
                sizes.push(proof.to_bytes().len() as f64);
                let started = Instant::now();
                let valid = proof.verify_value(&root, key, value.as_deref()).is_ok();
                verify_us.push(us(started.elapsed()));
                if !valid || value.is_some() != (kind == "member") {
                    wrong += 1;
                }
            }
            let prove = median(&mut prove_us);
            let verify = median(&mut verify_us);
            let size = sizes.iter().sum::<f64>() / sizes.len().max(1) as f64;
            println!(
                "  height {height:>3} {kind:<10}: prove_at {prove:>7.1} us (p99 {:.1} us), \
                 verify_value {verify:>5.1} us, proof {size:.0} B mean{}",
                percentile(&prove_us, 99.0),
                if wrong > 0 {
                    format!("  ({wrong} WRONG)")
                } else {
                    String::new()
                }
            );
            proof_rows.push((height, kind, prove, verify, size));
        }
    }
    for (height, kind, prove, verify, size) in proof_rows {
        let at = if height == latest { "latest" } else { "older" };
        summary.add(
            format!("proof from store, {at} height, {kind} ({label})"),
            format!("prove_at {prove:.1} us, verify_value {verify:.1} us, {size:.0} B"),
        );
    }
    let disk: u64 = dir_size(dir.path());
    println!(
        "  store on disk: {:.0} MiB; VmRSS {:.0} MiB",
        disk as f64 / (1 << 20) as f64,
        memory().0
    );
    drop(chain);
    drop(dir);
    node_path(scale, &senders, summary);
}

/// The same blocks through the node's own path, `AgoraApp` (the runner's application): the
/// signatures checked first as admission does (`AppShared::check_txs`, batches of `VERIFY_BATCH_TXS` on
/// every core, not timed), then `finalize_block` (account reads ahead, execution, tree
/// update) and `commit` (header checks, `Store::commit_block`, caches), timed.
fn node_path(scale: &Scale, senders: &[SigningKey], summary: &mut Summary) {
    let accounts = scale.store_accounts;
    let label = fmt_count(accounts);
    println!(
        "\n## 4b. The node's path for the same blocks: AgoraApp::finalize_block + commit, {label} \
         accounts, a new store (median of {} blocks per size)",
        scale.block_runs
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(&dir.path().join("db")).expect("store opens"));
    let chain_id = Label::new(CHAIN_ID).expect("valid chain id");
    let sequencer = SigningKey::from_bytes(&sha256(&[b"components-sequencer"]));
    let mut ids: Vec<AccountId> = senders.par_iter().map(account_of).collect();
    ids.par_extend(
        (senders.len()..accounts)
            .into_par_iter()
            .map(passive_account),
    );
    let genesis = Genesis {
        chain_id: chain_id.clone(),
        genesis_time_ms: now_ms(),
        mint_authority: None,
        allocations: ids
            .iter()
            .map(|id| (*id, Amount(1_000_000_000_000)))
            .collect(),
    };
    let started = Instant::now();
    let mut app = AgoraApp::open(store, chain_id.clone()).expect("app opens");
    let finalized = app.init_chain(&genesis).expect("init_chain");
    let header = header_for(&app.info(), &finalized, 0, &sequencer);
    app.commit(header).expect("genesis commits");
    println!(
        "  genesis through AgoraApp (init_chain + commit): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let shared = app.shared();
    let mut nonces = vec![0u64; senders.len()];
    let mut time_ms = genesis.genesis_time_ms;
    let mut block_number = 0u64;
    println!(
        "  {:>7} {:>17} {:>10} {:>11} {:>10} {:>12}",
        "txs", "finalize_block ms", "us/tx", "commit ms", "us/tx", "block tx/s"
    );
    for &size in &scale.block_sizes {
        let size = size.min(senders.len());
        let mut finalize_ms = Vec::new();
        let mut commit_ms = Vec::new();
        let mut failed = 0usize;
        for _ in 0..scale.block_runs {
            block_number += 1;
            let plan: Vec<(usize, u64, AccountId)> = (0..size)
                .map(|j| {
                    let mut to =
                        (splitmix((block_number << 32) ^ j as u64) % accounts as u64) as usize;
                    if to == j {
                        to = (to + 1) % accounts;
                    }
                    let nonce = nonces[j];
                    nonces[j] += 1;
                    (j, nonce, ids[to])
                })
                .collect();
            let txs: Vec<Vec<u8>> = plan
                .into_par_iter()
                .map(|(j, nonce, to)| {
                    UnsignedTx {
                        chain_id: chain_id.clone(),
                        signer: account_of(&senders[j]),
                        nonce,
                        valid_until_height: None,
                        action: Action::Transfer {
                            to,
                            amount: Amount(1),
                        },
                    }
                    .sign(&senders[j])
                    .to_bytes()
                })
                .collect();
            let height = app.info().height.unwrap_or(0) + 1;
            let admitted: usize = txs
                .par_chunks(VERIFY_BATCH_TXS)
                .map(|chunk| {
                    let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
                    shared
                        .check_txs(&refs, height)
                        .iter()
                        .filter(|result| result.is_ok())
                        .count()
                })
                .sum();
            failed += txs.len() - admitted;
            time_ms += 500;
            let block = ProposedBlock {
                height,
                time_ms,
                proposer: account_of(&sequencer),
                txs: txs.into_iter().map(Arc::from).collect(),
            };
            let started = Instant::now();
            let finalized = app.finalize_block(&block).expect("finalize_block");
            finalize_ms.push(ms(started.elapsed()));
            failed += finalized
                .receipts
                .iter()
                .filter(|receipt| receipt.status != TxStatus::Success)
                .count();
            let header = header_for(&app.info(), &finalized, block.txs.len(), &sequencer);
            let started = Instant::now();
            app.commit(header).expect("commit");
            commit_ms.push(ms(started.elapsed()));
        }
        let finalize = median(&mut finalize_ms);
        let commit = median(&mut commit_ms);
        let rate = size as f64 / ((finalize + commit) / 1e3);
        println!(
            "  {size:>7} {finalize:>17.1} {:>10.1} {commit:>11.1} {:>10.1} {rate:>12.0}{}",
            finalize * 1e3 / size as f64,
            commit * 1e3 / size as f64,
            if failed > 0 {
                format!("  ({failed} not admitted or failed)")
            } else {
                String::new()
            }
        );
        summary.add(
            format!("node path, block of {size} transfers ({label})"),
            format!(
                "finalize_block {finalize:.1} ms + commit {commit:.1} ms = {:.1} us/tx ({rate:.0} \
                 tx/s)",
                (finalize + commit) * 1e3 / size as f64
            ),
        );
    }
    println!(
        "  finalize_block = the node's execution of a decided block: its accounts read ahead in \
         batches, apply_block_with over the store, the tree update; commit = header checks, \
         Store::commit_block (synced), caches; header signing (header_for) not timed"
    );
}

// ------------------------------------------------------------------------------------------

fn main() {
    let scale = Scale::from_args();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let load_at_start = load_average();
    println!(
        "bench_components ({} run): {cores} cores, load average {load_at_start} at start",
        scale.name
    );
    if cfg!(debug_assertions) {
        println!("NOTE: debug build; figures are not representative");
    }
    let begun = Instant::now();
    let mut summary = Summary::default();
    let mut sections: BTreeMap<&str, (f64, String)> = BTreeMap::new();
    type Part = fn(&Scale, &mut Summary);
    let parts: [(u32, &str, Part); 4] = [
        (1, "1 signatures", signatures),
        (2, "2 apply", apply_per_action),
        (3, "3 state root", state_root_grid),
        (4, "4-5 store", store_blocks_and_proofs),
    ];
    for (number, name, part) in parts {
        if !scale.parts.contains(&number) {
            continue;
        }
        let contention = Contention::start();
        part(&scale, &mut summary);
        let digest = contention.report(name);
        sections.insert(name, (contention.started.elapsed().as_secs_f64(), digest));
    }
    for (name, (_, digest)) in &sections {
        summary.add(
            format!("other processes' CPU during {name}"),
            digest.clone(),
        );
    }
    summary.add(
        "load average (1, 5, 15 min) at start / end",
        format!("{load_at_start} / {}", load_average()),
    );
    summary.print();
    println!(
        "total bench time {:.0} s ({}); peak VmHWM {:.0} MiB",
        begun.elapsed().as_secs_f64(),
        sections
            .iter()
            .map(|(name, (secs, _))| format!("{name} {secs:.0} s"))
            .collect::<Vec<_>>()
            .join(", "),
        memory().1
    );
}
