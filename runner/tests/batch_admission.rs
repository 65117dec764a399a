//! Batched signature checks at admission accept and reject exactly what one-by-one checks
//! do: the same transactions, valid and crafted, are submitted as one batch to one node and
//! one at a time to another, and every outcome must match the expected one on both.

mod support;

use agora_contract::tx::{SignedTx, UnsignedTx};
use agora_contract::{AccountId, Action, Amount};
use agora_runner::node::{Admission, BlockMode, Node, SubmitError, VERIFY_BATCH_TXS};
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};
use support::{chain_id, dev, dev_id, transfer, TestNode};

/// What admission must answer for one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Accepted,
    /// Rejected with this code.
    Code(u16),
}

const BAD_SIGNATURE: u16 = 103;

fn outcome(result: &Result<Admission, SubmitError>) -> Expected {
    match result {
        Ok(Admission::Accepted) => Expected::Accepted,
        Ok(other) => panic!("unexpected admission {other:?}"),
        Err(error) => Expected::Code(error.code()),
    }
}

fn unsigned(signer: AccountId, nonce: u64) -> UnsignedTx {
    UnsignedTx {
        chain_id: chain_id(),
        signer,
        nonce,
        valid_until_height: None,
        action: Action::Transfer {
            to: dev_id(0),
            amount: Amount(1),
        },
    }
}

fn with_signature(tx: UnsignedTx, signature: [u8; 64]) -> Vec<u8> {
    SignedTx { tx, signature }.to_bytes()
}

/// A transfer by the key with secret scalar `secret`, signed with an R that carries the
/// 8-torsion point `torsion`: valid under the cofactored rule.
fn torsion_signed(secret: u64, torsion: usize) -> Vec<u8> {
    let secret = Scalar::from(secret);
    let public_key = (ED25519_BASEPOINT_POINT * secret).compress().to_bytes();
    let tx = unsigned(AccountId(public_key), 0);
    let nonce = Scalar::from(77u64);
    let r = (ED25519_BASEPOINT_POINT * nonce + EIGHT_TORSION[torsion])
        .compress()
        .to_bytes();
    let mut hash = Sha512::new();
    hash.update(r);
    hash.update(public_key);
    hash.update(tx.signing_message());
    let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r);
    signature[32..].copy_from_slice(&(nonce + k * secret).to_bytes());
    with_signature(tx, signature)
}

/// Valid transfers with crafted transactions at chosen positions, across several batches.
fn mixed_transactions() -> Vec<(Vec<u8>, Expected)> {
    let mut txs: Vec<(Vec<u8>, Expected)> = Vec::new();
    let mut nonces = [0u64; 10];
    let mut next_valid = |txs: &mut Vec<(Vec<u8>, Expected)>, from: usize| {
        txs.push((
            transfer(from as u64, nonces[from], dev_id(0), 1),
            Expected::Accepted,
        ));
        nonces[from] += 1;
    };
    // Positions by batch: bad signatures in the first two batches (which then fall back to
    // one-by-one checks), a torsion-only case in the third (whose batch must pass).
    const B: usize = VERIFY_BATCH_TXS;
    for i in 0..(2 * B + 10) {
        next_valid(&mut txs, 1 + i % 9);
        match i {
            // A flipped bit in S, in R, and a signature over other bytes.
            x if x == 3 || x == B + 6 => {
                let mut bytes = transfer(2, 500, dev_id(0), 1);
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                txs.push((bytes, Expected::Code(BAD_SIGNATURE)));
                let mut bytes = transfer(2, 501, dev_id(0), 1);
                let r_start = bytes.len() - 64;
                bytes[r_start] ^= 1;
                txs.push((bytes, Expected::Code(BAD_SIGNATURE)));
                let signature = unsigned(dev_id(3), 9).sign(&dev(3)).signature;
                txs.push((
                    with_signature(unsigned(dev_id(3), 10), signature),
                    Expected::Code(BAD_SIGNATURE),
                ));
            }
            // Non-canonical S (S + ℓ).
            20 => {
                let mut signature = unsigned(dev_id(4), 400).sign(&dev(4)).signature;
                let ell: [u8; 32] = [
                    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde,
                    0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
                ];
                let mut carry = 0u16;
                for (byte, ell_byte) in signature[32..].iter_mut().zip(ell) {
                    let sum = u16::from(*byte) + u16::from(ell_byte) + carry;
                    *byte = sum.to_le_bytes()[0];
                    carry = sum >> 8;
                }
                txs.push((
                    with_signature(unsigned(dev_id(4), 400), signature),
                    Expected::Code(BAD_SIGNATURE),
                ));
            }
            // Small-order R and a small-order public key.
            40 => {
                let mut signature = unsigned(dev_id(5), 400).sign(&dev(5)).signature;
                signature[..32].copy_from_slice(&EIGHT_TORSION[3].compress().to_bytes());
                txs.push((
                    with_signature(unsigned(dev_id(5), 400), signature),
                    Expected::Code(BAD_SIGNATURE),
                ));
                let small = AccountId(EIGHT_TORSION[2].compress().to_bytes());
                txs.push((
                    with_signature(unsigned(small, 0), [7; 64]),
                    Expected::Code(BAD_SIGNATURE),
                ));
            }
            // Torsion in R: valid under the cofactored rule, in single and batch alike.
            x if x == B / 2 || x == 2 * B + 2 => {
                txs.push((torsion_signed(1_000 + i as u64, i % 8), Expected::Accepted));
            }
            _ => {}
        }
    }
    txs
}

async fn check_node(node: &Node, results: Vec<Expected>, expected: &[Expected], how: &str) {
    assert_eq!(results.len(), expected.len());
    for (index, (result, expected)) in results.iter().zip(expected).enumerate() {
        assert_eq!(result, expected, "{how}: tx {index}");
    }
    let accepted = expected
        .iter()
        .filter(|expected| **expected == Expected::Accepted)
        .count();
    assert_eq!(node.mempool.lock().unwrap().len(), accepted, "{how}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_and_single_admission_agree_on_valid_and_crafted_signatures() {
    let txs = mixed_transactions();
    let bytes: Vec<Vec<u8>> = txs.iter().map(|(bytes, _)| bytes.clone()).collect();
    let expected: Vec<Expected> = txs.iter().map(|(_, expected)| *expected).collect();
    assert!(expected.contains(&Expected::Code(BAD_SIGNATURE)));
    assert!(bytes.len() > 2 * VERIFY_BATCH_TXS);

    let batched = TestNode::start(BlockMode::Manual).await;
    let node = batched.node.clone();
    let input = bytes.clone();
    let results = tokio::task::spawn_blocking(move || node.submit_batch(&input))
        .await
        .unwrap();
    let results: Vec<Expected> = results.iter().map(|(_, result)| outcome(result)).collect();
    check_node(&batched.node, results, &expected, "batch").await;

    let single = TestNode::start(BlockMode::Manual).await;
    let node = single.node.clone();
    let results = tokio::task::spawn_blocking(move || {
        bytes
            .iter()
            .map(|bytes| outcome(&node.submit(bytes).1))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    check_node(&single.node, results, &expected, "single").await;

    // Both pools commit the same transactions (chunks are admitted in parallel, so the
    // order across senders may differ).
    let heights_batch = batched.client.mine(1).await;
    let heights_single = single.client.mine(1).await;
    assert_eq!(heights_batch, heights_single);
    let hashes = |block: serde_json::Value| {
        let mut hashes: Vec<String> = block["tx_hashes"]
            .as_array()
            .expect("tx hashes")
            .iter()
            .map(|hash| hash.as_str().expect("hex").to_string())
            .collect();
        hashes.sort();
        hashes
    };
    let committed_batch = hashes(batched.client.block(heights_batch[0]).await);
    let committed_single = hashes(single.client.block(heights_single[0]).await);
    assert_eq!(committed_batch, committed_single);
    let accepted = expected
        .iter()
        .filter(|e| **e == Expected::Accepted)
        .count();
    assert_eq!(committed_batch.len(), accepted);
    batched.stop().await;
    single.stop().await;
}

const BAD_NONCE: u16 = 105;

/// Admission reads the committed nonces of a batch's senders from the store in one batch:
/// after a restart (no nonce in memory) a batch mixing senders with committed nonces, one
/// sender already cached, and new senders accepts the next nonces (and later ones) and
/// refuses the spent ones, as single submissions do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_admission_reads_committed_nonces_from_the_store() {
    let node = TestNode::start(BlockMode::Manual).await;
    // Sender i commits i transfers (nonces 0..i).
    for sender in 1..=5u64 {
        for nonce in 0..sender {
            node.client
                .submit(&transfer(sender, nonce, dev_id(0), 1))
                .await;
        }
    }
    node.client.mine(1).await;
    for sender in 1..=5u64 {
        assert_eq!(node.client.nonce(&dev_id(sender)).await, sender);
    }
    let node = node.restart(BlockMode::Manual).await;
    // Sender 1's nonce is cached before the batch; the others are read by the batch.
    node.client.submit(&transfer(1, 1, dev_id(0), 1)).await;

    let mut txs: Vec<(Vec<u8>, Expected)> =
        vec![(transfer(1, 2, dev_id(0), 1), Expected::Accepted)];
    for sender in 2..=5u64 {
        txs.push((transfer(sender, 0, dev_id(0), 7), Expected::Code(BAD_NONCE)));
        txs.push((
            transfer(sender, sender - 1, dev_id(0), 7),
            Expected::Code(BAD_NONCE),
        ));
        txs.push((transfer(sender, sender, dev_id(0), 1), Expected::Accepted));
        txs.push((
            transfer(sender, sender + 1, dev_id(0), 1),
            Expected::Accepted,
        ));
    }
    txs.push((transfer(1, 0, dev_id(0), 7), Expected::Code(BAD_NONCE)));
    // Senders with nothing committed: nonce 0 and a later one.
    txs.push((transfer(6, 0, dev_id(0), 1), Expected::Accepted));
    txs.push((transfer(7, 3, dev_id(0), 1), Expected::Accepted));
    let bytes: Vec<Vec<u8>> = txs.iter().map(|(bytes, _)| bytes.clone()).collect();
    let handle = node.node.clone();
    let results = tokio::task::spawn_blocking(move || handle.submit_batch(&bytes))
        .await
        .unwrap();
    let results: Vec<Expected> = results.iter().map(|(_, result)| outcome(result)).collect();
    let expected: Vec<Expected> = txs.iter().map(|(_, expected)| *expected).collect();
    assert_eq!(results, expected);

    node.client.mine(1).await;
    assert_eq!(node.client.nonce(&dev_id(1)).await, 3);
    for sender in 2..=5u64 {
        assert_eq!(node.client.nonce(&dev_id(sender)).await, sender + 2);
    }
    assert_eq!(node.client.nonce(&dev_id(6)).await, 1);
    // Sender 7's nonce 3 waits for 0..3.
    assert_eq!(node.client.nonce(&dev_id(7)).await, 0);
    node.stop().await;
}
