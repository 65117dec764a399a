//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets'
//! own checks (`fuzz/src/lib.rs`, compiled in here), so every input the coverage-guided
//! fuzzer kept — and every crash it ever found, once fixed and added — is re-run by
//! `cargo test --workspace` on stable Rust without libFuzzer. The fuzzer itself runs from
//! `scripts/fuzz.sh` (docs/reliability.md).
//!
//! `UPDATE_FUZZ_SEEDS=1` (re)writes the seed inputs (`seed-*` files): signed transactions
//! of every action for `tx_decode`, and pseudo-random inputs for the two others.

#[allow(dead_code)]
#[path = "../../fuzz/src/lib.rs"]
mod targets;

use std::path::PathBuf;

use agora_contract::bounded::Label;
use agora_contract::tx::UnsignedTx;
use agora_contract::{AccountId, BoundedVec, Decision, EscrowKind, Uuid};
use agora_contract::{Action, Amount, CreateEscrow};

fn corpus_dir(target: &str) -> PathBuf {
    // Relative to the package root, where `cargo test` runs test binaries (a path fixed
    // at compile time breaks when a build cache is shared between checkouts).
    PathBuf::from("../fuzz/corpus").join(target)
}

/// Seed inputs for `target`.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    match target {
        "tx_decode" => {
            let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
            let signer = AccountId(key.verifying_key().to_bytes());
            let id = Uuid::from_bytes([0x11; 16]);
            let actions = vec![
                Action::Transfer {
                    to: AccountId([5; 32]),
                    amount: Amount(10),
                },
                Action::Mint {
                    to: AccountId([5; 32]),
                    amount: Amount(u64::MAX),
                },
                Action::CreateEscrow(CreateEscrow {
                    id,
                    provider: AccountId([5; 32]),
                    amount: Amount(1_000),
                    kind: EscrowKind::Arbitrators {
                        required: 1,
                        total: 1,
                    },
                    arbitrators: BoundedVec::new(vec![AccountId([6; 32])]).expect("one"),
                    deadline_ms: 1_800_000_000_000,
                    dispute_window_ms: Some(60_000),
                    job_ref: [7; 32],
                    fund: true,
                }),
                Action::FundEscrow { id },
                Action::Approve {
                    id,
                    decision: Decision::Release,
                },
                Action::CancelRequest { id },
            ];
            let mut out = Vec::new();
            for (nonce, action) in actions.into_iter().enumerate() {
                for until in [None, Some(7)] {
                    let tx = UnsignedTx {
                        chain_id: Label::new("agora-devnet").expect("label"),
                        signer,
                        nonce: nonce as u64,
                        valid_until_height: until,
                        action: action.clone(),
                    }
                    .sign(&key);
                    out.push(tx.to_bytes());
                }
            }
            out
        }
        _ => (0..16).map(|i| random(64 + 64 * i)).collect(),
    }
}

/// Runs every corpus file (and, with `UPDATE_FUZZ_SEEDS=1`, writes the seeds first).
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = corpus_dir(target);
    if std::env::var_os("UPDATE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).expect("corpus dir");
        for (index, seed) in seeds(target).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{index:02}")), seed).expect("write seed");
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    for file in &files {
        let input = std::fs::read(file).expect("read corpus file");
        let outcome = std::panic::catch_unwind(|| run(&input));
        assert!(outcome.is_ok(), "{target}: {} fails", file.display());
    }
    assert!(!files.is_empty(), "{target}: empty corpus");
    for seed in seeds(target) {
        run(&seed);
    }
    files.len()
}

#[test]
fn tx_decode_corpus_replays_clean() {
    let count = replay("tx_decode", targets::tx_decode);
    eprintln!("tx_decode: {count} corpus inputs");
}

#[test]
fn apply_actions_corpus_replays_clean() {
    let count = replay("apply_actions", targets::apply_actions);
    eprintln!("apply_actions: {count} corpus inputs");
}

#[test]
fn proof_verify_corpus_replays_clean() {
    let count = replay("proof_verify", targets::proof_verify);
    eprintln!("proof_verify: {count} corpus inputs");
}
