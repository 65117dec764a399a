//! Benchmark: the block hook's cost when k escrows time out in the same block. The hook
//! reads the deadline index in order from a forward cursor, so the cost should grow
//! linearly in k; this prints the time per k to show it.
//!
//! Run: `cargo run --release -p agora-contract --example bench_timeouts`

// A benchmark measures wall time around the state machine, never inside it.
#![allow(clippy::disallowed_types)]

use std::time::Instant;

use agora_contract::block::{apply_block, init_chain, Genesis, TxStatus};
use agora_contract::state::MemState;
use agora_contract::tx::{account_of, UnsignedTx};
use agora_contract::{Action, Amount, BlockCtx, BoundedVec, CreateEscrow, EscrowKind, Label, Uuid};
use ed25519_dalek::SigningKey;

fn main() {
    let requester = SigningKey::from_bytes(&[1; 32]);
    let provider = account_of(&SigningKey::from_bytes(&[2; 32]));
    let chain_id = Label::new("agora-bench").unwrap();
    for k in [1_000u64, 2_000, 4_000, 8_000] {
        let genesis = Genesis {
            chain_id: chain_id.clone(),
            genesis_time_ms: 1_000,
            mint_authority: None,
            allocations: vec![(account_of(&requester), Amount(u64::MAX / 2))],
        };
        let mut state = MemState::new();
        state.apply(&init_chain(&genesis).unwrap());
        let txs: Vec<Vec<u8>> = (0..k)
            .map(|n| {
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&n.to_be_bytes());
                let create = CreateEscrow {
                    id: Uuid::from_bytes(id),
                    provider,
                    amount: Amount(10),
                    kind: EscrowKind::Single,
                    arbitrators: BoundedVec::empty(),
                    deadline_ms: 10_000,
                    dispute_window_ms: None,
                    job_ref: [0; 32],
                    fund: true,
                };
                let unsigned = UnsignedTx {
                    chain_id: chain_id.clone(),
                    signer: account_of(&requester),
                    nonce: n,
                    valid_until_height: None,
                    action: Action::CreateEscrow(create),
                };
                unsigned.sign(&requester).to_bytes()
            })
            .collect();
        let ctx = |height, time_ms| BlockCtx {
            chain_id: chain_id.clone(),
            height,
            time_ms,
            proposer: provider,
        };
        let created = apply_block(&state, &ctx(1, 2_000), &txs).unwrap();
        assert!(created
            .receipts
            .iter()
            .all(|r| r.status == TxStatus::Success));
        state.apply(&created.writes);

        let start = Instant::now();
        let expired = apply_block(&state, &ctx(2, 10_000), &[]).unwrap();
        let hook_s = start.elapsed().as_secs_f64();
        assert_eq!(expired.hook_events.len() as u64, k);
        println!(
            "timeouts in one block: k={k:>5}  hook {:.2} ms  {:.2} us per timeout",
            hook_s * 1e3,
            hook_s * 1e6 / k as f64
        );
    }
}
