//! Benchmark: apply N signed transfer transactions in-process (contract + `MemState`, no
//! IO), in blocks, and print the time. Signing happens before the clock starts; applying
//! includes decoding, strict signature verification, nonce checks and the transfer.
//!
//! Run: `cargo run --release -p agora-contract --example bench_transfers -- [N] [BLOCK]`
//! (defaults: N = 100 000 transactions, BLOCK = 1 000 transactions per block).

// A benchmark measures wall time around the state machine, never inside it.
#![allow(clippy::disallowed_types)]

mod support;

use std::time::Instant;

use agora_contract::block::{apply_block, TxStatus};
use agora_contract::tx::UnsignedTx;
use agora_contract::{Action, Amount, BlockCtx};

const SENDERS: usize = 1_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let tx_count: usize = args
        .next()
        .map_or(100_000, |a| a.parse().expect("N is a number"));
    let block_size: usize = args
        .next()
        .map_or(1_000, |a| a.parse().expect("BLOCK is a number"));

    let support::FundedChain {
        keys,
        ids,
        chain_id,
        mut state,
    } = support::funded_chain(SENDERS, 0);

    let sign_start = Instant::now();
    let txs: Vec<Vec<u8>> = (0..tx_count)
        .map(|n| {
            let sender = n % SENDERS;
            let unsigned = UnsignedTx {
                chain_id: chain_id.clone(),
                signer: ids[sender],
                nonce: (n / SENDERS) as u64,
                valid_until_height: None,
                action: Action::Transfer {
                    to: ids[(sender + 1) % SENDERS],
                    amount: Amount(1),
                },
            };
            unsigned.sign(&keys[sender]).to_bytes()
        })
        .collect();
    let sign_s = sign_start.elapsed().as_secs_f64();

    let apply_start = Instant::now();
    let mut committed = 0usize;
    for (index, block) in txs.chunks(block_size).enumerate() {
        let ctx = BlockCtx {
            chain_id: chain_id.clone(),
            height: index as u64 + 1,
            time_ms: 1_000 + (index as u64 + 1) * 500,
            proposer: ids[0],
        };
        let outcome = apply_block(&state, &ctx, block).expect("block applies");
        committed += outcome
            .receipts
            .iter()
            .filter(|r| r.status == TxStatus::Success)
            .count();
        state.apply(&outcome.writes);
    }
    let apply_s = apply_start.elapsed().as_secs_f64();
    assert_eq!(committed, tx_count, "every transfer succeeds");

    println!("transactions: {tx_count} transfers from {SENDERS} accounts, {block_size} per block");
    println!("signing (not part of apply): {sign_s:.3} s");
    println!(
        "apply: {apply_s:.3} s total, {:.1} us/tx, {:.0} tx/s (single thread, incl. signature \
         verification)",
        apply_s * 1e6 / tx_count as f64,
        tx_count as f64 / apply_s
    );
}
