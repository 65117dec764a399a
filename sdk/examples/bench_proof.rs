//! Benchmark: state-proof size and light-client verification time (SPEC §7).
//!
//! Builds a state of N keys (account-shaped: `01 ‖ 32 bytes`, 16-byte values) with the
//! contract's `StateTree`, signs a header over its root, proves random present keys and
//! random absent keys, and prints the proof sizes and the time of each step of the SDK's
//! light-client path: decoding the proof bytes, `LightClient::verify` (header signature,
//! then the proof against the header's state root), the proof check alone, and the header
//! signature check alone. Every input comes from fixed seeds, so runs are comparable. It
//! prints figures and asserts nothing (a proof that fails to verify is counted and shown).
//!
//! Run: `cargo run --release -p agora-sdk --example bench_proof -- [--keys N] [--proofs M]`
//! (defaults: N = 1 000 000 keys, M = 10 000 proofs of each kind).

use std::time::{Duration, Instant};

use agora_contract::bounded::Label;
use agora_contract::codec::encode;
use agora_contract::commit::{StateProof, StateTree};
use agora_contract::header::{hook_events_hash, Header, HEADER_VERSION};
use agora_contract::ids::sha256;
use agora_contract::wallet::Account;
use agora_contract::Amount;
use agora_sdk::{Keypair, LightClient, ProvenValue};

/// splitmix64: a fixed, dependency-free sequence of pseudo-random numbers.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Key `i` of the state: an account key, `01 ‖ sha256("bench-key" ‖ i)`.
fn key(i: u64) -> Vec<u8> {
    let mut key = vec![0x01];
    key.extend_from_slice(&sha256(&[b"bench-key", &i.to_be_bytes()]));
    key
}

/// A key that is not in the state (another preimage domain).
fn absent_key(i: u64) -> Vec<u8> {
    let mut key = vec![0x01];
    key.extend_from_slice(&sha256(&[b"bench-absent", &i.to_be_bytes()]));
    key
}

fn value(i: u64) -> Vec<u8> {
    encode(&Account {
        available: Amount(1_000_000 + i),
        nonce: i % 7,
    })
}

struct Args {
    keys: u64,
    proofs: u64,
}

fn args() -> Args {
    let mut args = Args {
        keys: 1_000_000,
        proofs: 10_000,
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        let mut number = |name: &str| -> u64 {
            let text = words.next().unwrap_or_default().replace('_', "");
            text.parse()
                .unwrap_or_else(|_| panic!("{name} needs a number, got {text:?}"))
        };
        match word.as_str() {
            "--keys" => args.keys = number("--keys").max(1),
            "--proofs" => args.proofs = number("--proofs").max(1),
            other => panic!("unknown argument {other}; use --keys N, --proofs M"),
        }
    }
    args
}

/// Median, 99th percentile and maximum of `samples`, in microseconds.
fn spread_us(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| {
        let index = ((samples.len() - 1) as f64 * q).round() as usize;
        samples[index].as_secs_f64() * 1e6
    };
    (at(0.5), at(0.99), at(1.0))
}

/// Mean and maximum of proof sizes, in bytes.
fn sizes(proofs: &[(ProvenValue, Vec<u8>)]) -> (f64, usize, usize) {
    let lengths: Vec<usize> = proofs.iter().map(|(_, bytes)| bytes.len()).collect();
    let mean = lengths.iter().sum::<usize>() as f64 / lengths.len() as f64;
    let min = lengths.iter().copied().min().unwrap_or(0);
    let max = lengths.iter().copied().max().unwrap_or(0);
    (mean, min, max)
}

/// Times `check` once per item; returns the samples and how many checks failed.
fn time_each<T>(items: &[T], mut check: impl FnMut(&T) -> bool) -> (Vec<Duration>, usize) {
    let mut samples = Vec::with_capacity(items.len());
    let mut failures = 0;
    for item in items {
        let started = Instant::now();
        let ok = check(item);
        samples.push(started.elapsed());
        failures += usize::from(!ok);
    }
    (samples, failures)
}

fn report(name: &str, samples: &mut [Duration], failures: usize) {
    let (median, p99, max) = spread_us(samples);
    println!(
        "  {name:<46} median {median:>7.2} us   p99 {p99:>7.2} us   max {max:>8.2} us   \
         ({} runs, {failures} failed)",
        samples.len()
    );
}

fn main() {
    let args = args();
    println!(
        "# State proofs: {} keys, {} proofs of each kind",
        args.keys, args.proofs
    );

    let started = Instant::now();
    let mut tree = StateTree::new();
    for i in 0..args.keys {
        tree.set(&key(i), Some(&value(i)));
    }
    let fill = started.elapsed();
    let started = Instant::now();
    let (root, _) = tree.commit();
    let commit = started.elapsed();
    println!(
        "  fill {:.2} s, first commit {:.2} s; mean {:.1} keys per bucket",
        fill.as_secs_f64(),
        commit.as_secs_f64(),
        args.keys as f64 / 65_536.0
    );

    let sequencer = Keypair::from_seed(sha256(&[b"agora-devnet-sequencer"]));
    let chain_id = Label::new("agora-bench").expect("valid chain id");
    let height = 1_000;
    let header = Header {
        version: HEADER_VERSION,
        chain_id: chain_id.clone(),
        height,
        prev_hash: sha256(&[b"previous header"]),
        time_ms: 1_700_000_000_000,
        tx_count: 0,
        tx_root: [0; 32],
        receipts_root: [0; 32],
        hook_events_hash: hook_events_hash(&[]),
        state_root: root,
        proposer: sequencer.account(),
    }
    .sign(sequencer.signing_key());
    let client = LightClient::new(chain_id, sequencer.account());

    let mut random = SplitMix(0x5eed_0fb3_c4d5);
    let prove = |key: Vec<u8>, value: Option<Vec<u8>>| {
        let proof = tree.prove(&key);
        let bytes = proof.to_bytes();
        let proven = ProvenValue {
            key,
            height,
            value,
            proof,
            header: header.clone(),
        };
        (proven, bytes)
    };
    let started = Instant::now();
    let members: Vec<(ProvenValue, Vec<u8>)> = (0..args.proofs)
        .map(|_| {
            let i = random.next() % args.keys;
            prove(key(i), Some(value(i)))
        })
        .collect();
    let prove_us = started.elapsed().as_secs_f64() * 1e6 / args.proofs as f64;
    let absent: Vec<(ProvenValue, Vec<u8>)> = (0..args.proofs)
        .map(|_| prove(absent_key(random.next()), None))
        .collect();
    let empty_buckets = absent
        .iter()
        .filter(|(proven, _)| proven.proof.bucket_leaf_count == 0)
        .count();

    println!("\n## Proof size (borsh StateProof)");
    let (mean, min, max) = sizes(&members);
    println!("  membership       mean {mean:>6.1} B   min {min:>4} B   max {max:>4} B");
    let (mean, min, max) = sizes(&absent);
    println!(
        "  non-membership   mean {mean:>6.1} B   min {min:>4} B   max {max:>4} B   \
         ({empty_buckets} of {} in an empty bucket)",
        absent.len()
    );
    println!("  StateTree::prove {prove_us:.2} us mean (membership)");

    println!("\n## Verification, one call timed at a time");
    let (mut samples, failures) =
        time_each(&members, |(_, bytes)| StateProof::decode(bytes).is_ok());
    report("StateProof::decode (membership)", &mut samples, failures);
    let (mut samples, failures) = time_each(&members, |(proven, _)| client.verify(proven).is_ok());
    report("LightClient::verify, membership", &mut samples, failures);
    let (mut samples, failures) = time_each(&absent, |(proven, _)| client.verify(proven).is_ok());
    report(
        "LightClient::verify, non-membership",
        &mut samples,
        failures,
    );
    let (mut samples, failures) = time_each(&members, |(proven, _)| {
        proven
            .proof
            .verify_value(&root, &proven.key, proven.value.as_deref())
            .is_ok()
    });
    report(
        "proof alone (verify_value), membership",
        &mut samples,
        failures,
    );
    let (mut samples, failures) = time_each(&absent, |(proven, _)| {
        proven.proof.verify_value(&root, &proven.key, None).is_ok()
    });
    report(
        "proof alone (verify_value), non-membership",
        &mut samples,
        failures,
    );
    let headers: Vec<u64> = (0..args.proofs.min(2_000)).collect();
    let (mut samples, failures) = time_each(&headers, |_| client.verify_header(&header).is_ok());
    report(
        "header signature (LightClient::verify_header)",
        &mut samples,
        failures,
    );
}
