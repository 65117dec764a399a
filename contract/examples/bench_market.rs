//! Benchmark: in-process cost per market action (contract + `MemState`, no IO), including
//! decoding and strict signature verification. Each phase applies its transactions in
//! blocks of 1 000 and prints the time per action.
//!
//! Run: `cargo run --release -p agora-contract --example bench_market -- [N]`
//! (default N = 10 000 actions per phase).

// A benchmark measures wall time around the state machine, never inside it.
#![allow(clippy::disallowed_types)]

mod support;

use std::time::Instant;

use agora_contract::block::{apply_block, TxStatus};
use agora_contract::market::privacy::Privacy;
use agora_contract::market::{assignment_id, QualityMin, QualityScore, Sla, TaskSpec};
use agora_contract::state::MemState;
use agora_contract::tx::UnsignedTx;
use agora_contract::{AccountId, Action, Amount, BlockCtx, BoundedVec, Label, PostRequest, Uuid};
use ed25519_dalek::SigningKey;

struct Bench {
    state: MemState,
    chain_id: Label,
    height: u64,
    keys: Vec<SigningKey>,
    ids: Vec<AccountId>,
    nonces: Vec<u64>,
}

impl Bench {
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

    /// Applies `txs` in blocks of 1 000 and returns microseconds per transaction.
    fn apply(&mut self, name: &str, txs: Vec<Vec<u8>>) {
        let count = txs.len();
        let start = Instant::now();
        for block in txs.chunks(1_000) {
            self.height += 1;
            let ctx = BlockCtx {
                chain_id: self.chain_id.clone(),
                height: self.height,
                time_ms: 1_000 + self.height * 500,
                proposer: self.ids[0],
            };
            let outcome = apply_block(&self.state, &ctx, block).expect("block applies");
            for receipt in &outcome.receipts {
                assert_eq!(receipt.status, TxStatus::Success, "{name} succeeds");
            }
            self.state.apply(&outcome.writes);
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / count as f64;
        println!("{name:<44} {count:>6} actions  {us:>7.1} us/action");
    }
}

fn uuid(kind: u8, n: usize) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes[0] = kind;
    bytes[8..].copy_from_slice(&(n as u64).to_be_bytes());
    Uuid::from_bytes(bytes)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(10_000, |a| a.parse().expect("N"));
    let accounts = n.max(2);
    let support::FundedChain {
        keys,
        ids,
        chain_id,
        state,
    } = support::funded_chain(accounts, 7);
    let bench_ids = ids.clone();
    let mut bench = Bench {
        state,
        chain_id,
        height: 0,
        keys,
        ids,
        nonces: vec![0; accounts],
    };
    let render = Label::new("render").unwrap();
    let task_types = BoundedVec::new(vec![render.clone()]).unwrap();
    let spec = TaskSpec {
        task_type: render,
        capabilities: BoundedVec::empty(),
        min_reputation: None,
        max_duration_ms: 600_000,
    };
    let request = |id, units| {
        Action::PostRequest(PostRequest {
            id,
            spec: spec.clone(),
            bid_per_unit: Amount(100),
            units,
            window_ms: None,
            arbitrators: BoundedVec::empty(),
            sla: Sla {
                max_response_ms: 60_000,
                max_duration_ms: 500_000,
                quality_min: BoundedVec::new(vec![QualityMin {
                    metric: Label::new("accuracy").unwrap(),
                    min_bps: 8_000,
                }])
                .unwrap(),
                penalty: Amount(10),
                review_window_ms: 3_600_000,
            },
            privacy: Privacy::Public {
                payload: BoundedVec::new(vec![0x42; 256]).unwrap(),
            },
        })
    };

    let txs = (0..n)
        .map(|i| {
            bench.sign(
                i,
                Action::RegisterProvider {
                    capabilities: BoundedVec::empty(),
                },
            )
        })
        .collect();
    bench.apply("RegisterProvider", txs);

    let txs = (0..n)
        .map(|i| {
            let offer = Action::PostOffer {
                id: uuid(1, i),
                task_types: task_types.clone(),
                ask_per_unit: Amount(50 + (i % 40) as u64),
                capacity_units: 1_000_000_000,
                expires_at_ms: u64::MAX / 2,
            };
            bench.sign(i, offer)
        })
        .collect();
    bench.apply("PostOffer", txs);

    // 1 000 units: split across 10 resting offers at once (10 escrows, 10 price updates).
    let txs = (0..n)
        .map(|i| bench.sign(i, request(uuid(2, i), 1_000)))
        .collect();
    bench.apply("PostRequest, matched at once to 10 offers", txs);

    let txs = (0..n)
        .map(|i| bench.sign(i, request(uuid(3, i), 100)))
        .collect();
    bench.apply("PostRequest, matched at once to 1 offer", txs);

    let txs = (0..n)
        .map(|i| bench.sign(i, Action::CancelOffer { id: uuid(1, i) }))
        .collect();
    bench.apply("CancelOffer", txs);

    let txs = (0..n)
        .map(|i| bench.sign(i, request(uuid(4, i), 100)))
        .collect();
    bench.apply("PostRequest, empty book", txs);

    let txs = (0..n)
        .map(|i| {
            let accept = Action::AcceptRequest {
                request_id: uuid(4, i),
                ask_per_unit: Amount(80),
            };
            bench.sign((i + 1) % n, accept)
        })
        .collect();
    bench.apply("AcceptRequest (fills the request)", txs);

    let assignment = |i: usize| assignment_id(&uuid(4, i), &bench_ids[(i + 1) % n]);
    let txs = (0..n)
        .map(|i| {
            bench.sign(
                (i + 1) % n,
                Action::StartTask {
                    assignment_id: assignment(i),
                },
            )
        })
        .collect();
    bench.apply("StartTask", txs);
    let txs = (0..n)
        .map(|i| {
            let submit = Action::SubmitResult {
                assignment_id: assignment(i),
                result_hash: [1; 32],
            };
            bench.sign((i + 1) % n, submit)
        })
        .collect();
    bench.apply("SubmitResult", txs);
    let txs = (0..n)
        .map(|i| {
            let scores = vec![QualityScore {
                metric: Label::new("accuracy").unwrap(),
                score_bps: 9_000,
            }];
            let rate = Action::RateResult {
                assignment_id: assignment(i),
                scores: BoundedVec::new(scores).unwrap(),
            };
            bench.sign(i, rate)
        })
        .collect();
    bench.apply("RateResult (settles: payout + reputation)", txs);

    let txs = (0..n)
        .map(|i| bench.sign(i, request(uuid(5, i), 100)))
        .collect();
    bench.apply("PostRequest, empty book (again)", txs);
    let txs = (0..n)
        .map(|i| bench.sign(i, Action::CancelRequest { id: uuid(5, i) }))
        .collect();
    bench.apply("CancelRequest", txs);
}
