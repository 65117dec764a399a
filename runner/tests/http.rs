//! The runner over real HTTP: an in-process node on an ephemeral port, a reqwest client,
//! transactions signed with the devnet's dev keys. Every test has its own data dir.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use agora_contract::commit::StateProof;
use agora_contract::header::SignedHeader;
use agora_contract::ids::sha256;
use agora_contract::state::keys;
use agora_contract::wallet::Account;
use agora_contract::{
    AccountId, Action, Amount, BoundedVec, CreateEscrow, Decision, EscrowKind, Label, Uuid,
};
use agora_runner::genesis::{DEV_ACCOUNTS, DEV_BALANCE};
use agora_runner::node::BlockMode;
use serde_json::{json, Value};

use support::*;

const INTERVAL_50: BlockMode = BlockMode::Interval { block_time_ms: 50 };

// ---- helpers of this file ----

/// The `Transferred` events of a receipt as (from, to, amount).
fn transfers_of(receipt: &Value) -> Vec<(String, String, u64)> {
    receipt["events"]
        .as_array()
        .expect("events array")
        .iter()
        .filter_map(|event| event.get("Transferred"))
        .map(|t| {
            (
                t["from"].as_str().expect("from").to_string(),
                t["to"].as_str().expect("to").to_string(),
                t["amount"].as_u64().expect("amount"),
            )
        })
        .collect()
}

/// A proof answer (`proof` object of an object route, or a `/v1/proofs` answer), decoded.
struct ProofParts {
    signed: SignedHeader,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
    proof_bytes: Vec<u8>,
    header_bytes: Vec<u8>,
}

fn decode_proof(view: &Value) -> ProofParts {
    let header_bytes = hex::decode(
        view["header"]["signed_header_borsh"]
            .as_str()
            .expect("signed_header_borsh"),
    )
    .expect("header hex");
    let signed: SignedHeader = borsh::from_slice(&header_bytes).expect("header decodes");
    let key = hex::decode(view["key"].as_str().expect("key")).expect("key hex");
    let value = view["value"]
        .as_str()
        .map(|text| hex::decode(text).expect("value hex"));
    let proof_bytes = hex::decode(view["proof"].as_str().expect("proof")).expect("proof hex");
    ProofParts {
        signed,
        key,
        value,
        proof_bytes,
        header_bytes,
    }
}

/// Verifies a proof answer the way a light client does and returns the proven value.
#[track_caller]
fn verify_proof_view(view: &Value) -> (SignedHeader, Option<Vec<u8>>) {
    let ProofParts {
        signed,
        key,
        value,
        proof_bytes,
        ..
    } = decode_proof(view);
    let proof = StateProof::decode(&proof_bytes).expect("proof decodes");
    signed
        .verify_state(&chain_id(), &sequencer_id(), &key, value.as_deref(), &proof)
        .expect("proof verifies against the signed header");
    assert_eq!(view["height"], json!(signed.header.height));
    (signed, value)
}

fn account_record(value: &[u8]) -> Account {
    borsh::from_slice(value).expect("account record decodes")
}

fn escrow_uuid(n: u8) -> Uuid {
    // A version-4-shaped id (version 8 is reserved for chain-derived ids).
    let mut bytes = [n; 16];
    bytes[6] = 0x40 | (n & 0x0f);
    bytes[8] = 0x80 | (n & 0x3f);
    Uuid::from_bytes(bytes)
}

fn create_escrow(n: u8, provider: AccountId, amount: u64, deadline_ms: u64) -> Action {
    Action::CreateEscrow(CreateEscrow {
        id: escrow_uuid(n),
        provider,
        amount: Amount(amount),
        kind: EscrowKind::Single,
        arbitrators: BoundedVec::empty(),
        deadline_ms,
        dispute_window_ms: None,
        job_ref: [7; 32],
        fund: true,
    })
}

/// Submits, mines one block (manual mode) and returns the receipt.
async fn submit_and_mine(c: &Client, bytes: &[u8]) -> Value {
    let hash = c.submit(bytes).await;
    c.mine(1).await;
    c.wait_committed(&hash).await
}

fn status_of(answer: &Answer) -> u16 {
    answer.status.as_u16()
}

// ---- 1. submission, receipts, idempotence ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submit_goes_pending_then_committed_with_receipt_and_resubmission_is_harmless() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    let (from, to) = (dev_id(1), dev_id(5));
    let bytes = transfer(1, 0, to, 1_234);
    let hash = tx_hash(&bytes);
    assert_eq!(c.tx_status(&hash).await["status"], "unknown");

    // A client waiting for the receipt.
    let waiter = {
        let c = c.clone();
        let bytes = bytes.clone();
        tokio::spawn(async move {
            c.post_raw(
                "/v1/txs?wait=commit",
                Some("application/octet-stream"),
                bytes,
            )
            .await
        })
    };
    let deadline = std::time::Instant::now() + PATIENCE;
    while c.tx_status(&hash).await["status"] != "pending" {
        assert!(std::time::Instant::now() < deadline, "tx never pending");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = c.tx_status(&hash).await;
    assert_eq!(status, json!({ "hash": hash, "status": "pending" }));

    // The same bytes again, as JSON hex this time: same hash, still one pending tx.
    let again = c
        .post_json("/v1/txs", &json!({ "tx": hex::encode(&bytes) }))
        .await;
    assert_eq!(status_of(&again), 202, "{}", again.text);
    assert_eq!(again.json, json!({ "hash": hash, "status": "pending" }));
    let node_status = c.get("/v1/status").await.ok();
    assert_eq!(node_status["mempool_txs"], 1);

    assert_eq!(c.mine(1).await, vec![1]);
    let receipt = waiter.await.expect("waiter task");
    assert_eq!(status_of(&receipt), 200, "{}", receipt.text);
    let receipt = receipt.json;
    assert_eq!(receipt["hash"], hash);
    assert_eq!(receipt["status"], "committed");
    assert_eq!(receipt["height"], 1);
    assert_eq!(receipt["index"], 0);
    assert_eq!(receipt["success"], true);
    assert_eq!(receipt["error"], Value::Null);
    assert_eq!(receipt["nonce_consumed"], true);
    assert_eq!(
        transfers_of(&receipt),
        vec![(hex_id(&from), hex_id(&to), 1_234)]
    );
    assert_eq!(c.tx_status(&hash).await, receipt, "GET answers the receipt");
    assert_eq!(c.block(1).await["tx_hashes"], json!([hash]));

    // Resubmitting committed bytes: the same hash, reported committed, nothing executes.
    let after = c.submit_raw(&bytes).await;
    assert_eq!(status_of(&after), 202, "{}", after.text);
    assert_eq!(after.json, json!({ "hash": hash, "status": "committed" }));
    let waited = c.submit_commit(&bytes).await;
    assert_eq!(
        waited, receipt,
        "wait=commit on committed bytes answers at once"
    );
    assert_eq!(c.get("/v1/status").await.ok()["mempool_txs"], 0);
    assert_eq!(c.mine(1).await, vec![2]);
    assert_eq!(c.block(2).await["tx_hashes"], json!([]));
    assert_eq!(c.tx_status(&hash).await, receipt);
    assert_eq!(c.available(&from).await, DEV_BALANCE - 1_234);
    assert_eq!(c.available(&to).await, DEV_BALANCE + 1_234);
    assert_eq!(c.nonce(&from).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_submission_answers_one_result_per_tx_in_order() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    let good0 = transfer(2, 0, dev_id(3), 10);
    let good1 = transfer(2, 1, dev_id(3), 20);
    let mut bad_signature = transfer(2, 2, dev_id(3), 30);
    let last = bad_signature.len() - 1;
    bad_signature[last] ^= 0x01;
    let txs = [&good1, &good0, &bad_signature, &good0, &b"junk".to_vec()];
    let answer = c
        .post_json(
            "/v1/txs/batch",
            &json!({ "txs": txs.iter().map(hex::encode).collect::<Vec<_>>() }),
        )
        .await
        .ok();
    assert_eq!(answer["accepted"], 3, "{answer}");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 5);
    for (result, tx) in results.iter().zip(txs) {
        assert_eq!(result["hash"], tx_hash(tx));
    }
    assert_eq!(results[0]["status"], "pending");
    assert_eq!(results[1]["status"], "pending");
    assert_eq!(results[2]["status"], "rejected");
    assert_eq!(results[2]["error"]["code"], 103);
    assert_eq!(results[2]["error"]["name"], "BadSignature");
    assert_eq!(results[3]["status"], "pending", "a duplicate is harmless");
    assert_eq!(results[4]["status"], "rejected");
    assert_eq!(results[4]["error"]["code"], 101);

    // The same batch as borsh Vec<Vec<u8>>: the same results (all already pending now,
    // or rejected as before).
    let owned: Vec<Vec<u8>> = txs.iter().map(|tx| tx.to_vec()).collect();
    let encoded = borsh::to_vec(&owned).expect("encode");
    let borsh_answer = c
        .post_raw(
            "/v1/txs/batch",
            Some("application/octet-stream"),
            encoded.clone(),
        )
        .await
        .ok();
    let borsh_results = borsh_answer["results"].as_array().expect("results");
    assert_eq!(borsh_results.len(), 5);
    for (index, (result, tx)) in borsh_results.iter().zip(txs).enumerate() {
        assert_eq!(result["hash"], tx_hash(tx));
        assert_eq!(result["status"], results[index]["status"], "{borsh_answer}");
        assert_eq!(result["error"], results[index]["error"], "{borsh_answer}");
    }
    // Not a borsh batch: a transaction cut short, trailing bytes, no count, too many.
    let mut trailing = encoded.clone();
    trailing.push(0);
    let mut too_many = (agora_runner::api::MAX_BATCH as u32 + 1)
        .to_le_bytes()
        .to_vec();
    too_many.extend([0u8; 8]);
    for (body, status, code) in [
        (vec![1, 0, 0, 0, 5, 0, 0, 0, 1, 2], 400, 610),
        (trailing, 400, 610),
        (vec![1, 0], 400, 610),
        (too_many, 413, 617),
    ] {
        c.post_raw("/v1/txs/batch", Some("application/octet-stream"), body)
            .await
            .assert_error(status, code);
    }
    c.post_raw("/v1/txs/batch", Some("text/plain"), encoded)
        .await
        .assert_error(415, 611);
    let bad_hex = c
        .post_json("/v1/txs/batch", &json!({ "txs": ["zz"] }))
        .await;
    bad_hex.assert_error(400, 610);

    c.mine(1).await;
    for tx in [&good0, &good1] {
        let receipt = c.tx_status(&tx_hash(tx)).await;
        assert_eq!(receipt["status"], "committed");
        assert_eq!(receipt["success"], true);
    }
    assert_eq!(c.available(&dev_id(3)).await, DEV_BALANCE + 30);
    assert_eq!(c.nonce(&dev_id(2)).await, 2);
}

// ---- 2. many concurrent clients, nonces out of order ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_with_shuffled_nonces_all_commit_with_exact_balances() {
    concurrent_clients_commit_exactly(BlockMode::Instant).await;
}

/// In interval mode blocks are built in steps between ticks (txs execute into the open
/// block as they arrive); the outcome must be the same, and replay must agree with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_commit_exactly_when_blocks_are_built_in_steps() {
    let node = concurrent_clients_commit_exactly(BlockMode::Interval { block_time_ms: 200 }).await;
    let head = node.client.height().await;
    let report = stop_and_replay(node).await;
    assert_eq!(report.mismatches, vec![]);
    assert!(report.head >= head);
}

/// Stops the node and re-executes its data dir from genesis.
async fn stop_and_replay(node: TestNode) -> agora_runner::replay::ReplayReport {
    let dir = node.stop().await;
    let path = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || agora_runner::replay::replay(&path))
        .await
        .expect("replay task")
        .expect("replay runs")
}

async fn concurrent_clients_commit_exactly(mode: BlockMode) -> TestNode {
    const SENDERS: u64 = 8;
    const PER_SENDER: u64 = 50;
    const CLIENTS: usize = 16;
    let node = TestNode::start(mode).await;
    let c = &node.client;

    // Sender i's nonce n pays 1 + 1000·i + n to a dev account other than i.
    let mut txs = Vec::new();
    let mut expected: Vec<i128> = vec![i128::from(DEV_BALANCE); DEV_ACCOUNTS as usize];
    for sender in 0..SENDERS {
        for nonce in 0..PER_SENDER {
            let recipient = (sender + 1 + nonce % 9) % DEV_ACCOUNTS;
            assert_ne!(recipient, sender);
            let amount = 1 + 1_000 * sender + nonce;
            expected[sender as usize] -= i128::from(amount);
            expected[recipient as usize] += i128::from(amount);
            txs.push((
                sender,
                nonce,
                transfer(sender, nonce, dev_id(recipient), amount),
            ));
        }
    }
    let mut order: Vec<usize> = (0..txs.len()).collect();
    shuffle(&mut order, 0x5eed_1234);
    // Check the shuffle really puts some nonces before smaller ones of the same sender.
    let first_seen: Vec<u64> = order
        .iter()
        .filter(|&&i| txs[i].0 == 0)
        .map(|&i| txs[i].1)
        .collect();
    assert_ne!(first_seen, (0..PER_SENDER).collect::<Vec<_>>());

    let chunks: Vec<Vec<Vec<u8>>> = order
        .chunks(order.len().div_ceil(CLIENTS))
        .map(|chunk| chunk.iter().map(|&i| txs[i].2.clone()).collect())
        .collect();
    let mut tasks = Vec::new();
    for (number, chunk) in chunks.into_iter().enumerate() {
        // Every task is its own client with its own connections.
        let client = Client::new(&c.base);
        tasks.push(tokio::spawn(async move {
            if number % 4 == 3 {
                let answer = client
                    .post_json(
                        "/v1/txs/batch",
                        &json!({ "txs": chunk.iter().map(hex::encode).collect::<Vec<_>>() }),
                    )
                    .await
                    .ok();
                assert_eq!(answer["accepted"], chunk.len(), "{answer}");
            } else {
                for bytes in &chunk {
                    client.submit(bytes).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }

    // The last nonce of each sender commits last.
    for sender in 0..SENDERS {
        let last = &txs[(sender * PER_SENDER + PER_SENDER - 1) as usize].2;
        c.wait_committed(&tx_hash(last)).await;
    }
    let mut locations = BTreeSet::new();
    for sender in 0..SENDERS {
        let mut previous: Option<(u64, u64)> = None;
        for nonce in 0..PER_SENDER {
            let (_, _, bytes) = &txs[(sender * PER_SENDER + nonce) as usize];
            let receipt = c.tx_status(&tx_hash(bytes)).await;
            assert_eq!(receipt["status"], "committed", "{receipt}");
            assert_eq!(receipt["success"], true, "{receipt}");
            let location = (
                receipt["height"].as_u64().expect("height"),
                receipt["index"].as_u64().expect("index"),
            );
            assert!(locations.insert(location), "two txs at {location:?}");
            if let Some(previous) = previous {
                assert!(previous < location, "nonce {nonce} executed out of order");
            }
            previous = Some(location);
        }
    }
    assert_eq!(locations.len(), (SENDERS * PER_SENDER) as usize);

    let balances = c.dev_balances().await;
    for (index, balance) in balances.iter().enumerate() {
        assert_eq!(
            i128::from(*balance),
            expected[index],
            "balance of dev account {index}"
        );
    }
    assert_eq!(
        balances.iter().map(|b| u128::from(*b)).sum::<u128>(),
        u128::from(DEV_BALANCE) * u128::from(DEV_ACCOUNTS),
        "supply is conserved"
    );
    for index in 0..DEV_ACCOUNTS {
        let nonce = c.nonce(&dev_id(index)).await;
        assert_eq!(nonce, if index < SENDERS { PER_SENDER } else { 0 });
    }
    // Every committed block's tx list together is exactly the submitted set.
    let head = c.height().await;
    let mut in_blocks = Vec::new();
    for height in 1..=head {
        for hash in c.block(height).await["tx_hashes"]
            .as_array()
            .expect("tx_hashes")
        {
            in_blocks.push(hash.as_str().expect("hash").to_string());
        }
    }
    let mut submitted: Vec<String> = txs.iter().map(|(_, _, b)| tx_hash(b)).collect();
    in_blocks.sort();
    submitted.sort();
    assert_eq!(in_blocks, submitted);
    assert_eq!(c.get("/v1/status").await.ok()["mempool_txs"], 0);
    node
}

// ---- 3. and 4. proofs ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn account_proofs_verify_for_present_and_absent_keys_now_and_at_an_older_height() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    let holder = dev_id(3);
    let newcomer = AccountId(sha256(&[b"an account created later"]));
    let absent = AccountId(sha256(&[b"an account that never exists"]));

    c.submit(&transfer(2, 0, holder, 500)).await;
    let old_height = c.mine(1).await[0];
    let old_balance = DEV_BALANCE + 500;

    let view = c
        .get(&format!("/v1/accounts/{}?prove=true", hex_id(&holder)))
        .await
        .ok();
    assert_eq!(view["available"], old_balance);
    let (signed, value) = verify_proof_view(&view["proof"]);
    assert_eq!(signed.header.height, old_height);
    assert_eq!(
        view["proof"]["key"],
        hex::encode(keys::account(&holder)),
        "the proof is for the account's state key"
    );
    let record = account_record(value.as_deref().expect("present"));
    assert_eq!(record.available, Amount(old_balance));
    let block = c.block(old_height).await;
    assert_eq!(block["hash"], hex::encode(signed.header.hash()));
    assert_eq!(
        block["header"]["signed_header_borsh"],
        view["proof"]["header"]["signed_header_borsh"]
    );

    // A wrong claimed value, or a claim of absence, does not verify.
    let ProofParts {
        key, proof_bytes, ..
    } = decode_proof(&view["proof"]);
    let proof = StateProof::decode(&proof_bytes).expect("decodes");
    // `proof_json` is the same proof for reading, every byte string in it hex whatever its
    // length (an account key is 33 bytes).
    let proof_json = &view["proof"]["proof_json"];
    assert_eq!(
        proof_json["leaves"][0]["key"],
        hex::encode(keys::account(&holder)),
        "{proof_json}"
    );
    let leaves: Vec<Value> = proof
        .leaves
        .iter()
        .map(|leaf| {
            json!({
                "index": leaf.index,
                "key": hex::encode(&leaf.key),
                "value_hash": hex::encode(leaf.value_hash),
            })
        })
        .collect();
    let hexes = |hashes: &[[u8; 32]]| hashes.iter().map(hex::encode).collect::<Vec<_>>();
    assert_eq!(proof_json["leaves"], json!(leaves));
    assert_eq!(
        proof_json["bucket_proof"],
        json!(hexes(&proof.bucket_proof))
    );
    assert_eq!(proof_json["top_proof"], json!(hexes(&proof.top_proof)));
    let mut richer = record;
    richer.available = Amount(old_balance + 1);
    let richer = borsh::to_vec(&richer).expect("encode");
    assert!(signed
        .verify_state(&chain_id(), &sequencer_id(), &key, Some(&richer), &proof)
        .is_err());
    assert!(signed
        .verify_state(&chain_id(), &sequencer_id(), &key, None, &proof)
        .is_err());
    // Nor for another key, another chain or another sequencer.
    let other_key = keys::account(&dev_id(4));
    assert!(signed
        .verify_state(
            &chain_id(),
            &sequencer_id(),
            &other_key,
            value.as_deref(),
            &proof
        )
        .is_err());
    assert!(signed
        .verify_state(
            &Label::new("other-chain").expect("label"),
            &sequencer_id(),
            &key,
            value.as_deref(),
            &proof
        )
        .is_err());
    assert!(signed
        .verify_state(&chain_id(), &dev_id(0), &key, value.as_deref(), &proof)
        .is_err());

    // Absent keys at the same height, through both routes.
    for id in [absent, newcomer] {
        let view = c
            .get(&format!("/v1/accounts/{}?prove=true", hex_id(&id)))
            .await
            .ok();
        assert_eq!(view["exists"], false);
        assert_eq!(view["proof"]["value"], Value::Null);
        let (_, value) = verify_proof_view(&view["proof"]);
        assert!(value.is_none());
        let ProofParts {
            signed,
            key,
            proof_bytes,
            ..
        } = decode_proof(&view["proof"]);
        let proof = StateProof::decode(&proof_bytes).expect("decodes");
        let fake = borsh::to_vec(&Account {
            available: Amount(1),
            nonce: 0,
        })
        .expect("encode");
        assert!(
            signed
                .verify_state(&chain_id(), &sequencer_id(), &key, Some(&fake), &proof)
                .is_err(),
            "an absence proof cannot show a value"
        );
    }
    let raw = c
        .get(&format!(
            "/v1/proofs/{}",
            hex::encode(keys::account(&absent))
        ))
        .await
        .ok();
    assert_eq!(raw["value"], Value::Null);
    verify_proof_view(&raw);
    let no_escrow = c
        .get(&format!("/v1/escrows/{}?prove=true", escrow_uuid(3)))
        .await
        .ok();
    assert_eq!(no_escrow["exists"], false);
    let (_, value) = verify_proof_view(&no_escrow["proof"]);
    assert!(value.is_none());

    // More blocks change the holder and create the newcomer.
    c.submit(&transfer(2, 1, holder, 700)).await;
    c.submit(&transfer(2, 2, newcomer, 90)).await;
    c.mine(1).await;
    c.mine(2).await;
    let head = c.height().await;
    assert_eq!(head, old_height + 3);

    let now = c
        .get(&format!("/v1/accounts/{}?prove=true", hex_id(&holder)))
        .await
        .ok();
    let (now_signed, now_value) = verify_proof_view(&now["proof"]);
    assert_eq!(now_signed.header.height, head);
    assert_eq!(
        account_record(now_value.as_deref().expect("present")).available,
        Amount(old_balance + 700)
    );

    // The holder at the old height: the old balance, proven against the old header.
    let then = c
        .get(&format!(
            "/v1/accounts/{}?prove=true&height={old_height}",
            hex_id(&holder)
        ))
        .await
        .ok();
    assert_eq!(then["available"], old_balance);
    assert_eq!(then["height"], old_height);
    assert!(
        then.get("locked").is_none(),
        "locked is only given at the head"
    );
    let (then_signed, then_value) = verify_proof_view(&then["proof"]);
    assert_eq!(then_signed.header.height, old_height);
    assert_eq!(then_signed, signed, "the same signed header as before");
    assert_eq!(
        account_record(then_value.as_deref().expect("present")).available,
        Amount(old_balance)
    );
    // The old proof does not verify against the new header's root.
    let ProofParts {
        key: then_key,
        proof_bytes: then_proof,
        ..
    } = decode_proof(&then["proof"]);
    assert!(now_signed
        .verify_state(
            &chain_id(),
            &sequencer_id(),
            &then_key,
            then_value.as_deref(),
            &StateProof::decode(&then_proof).expect("decodes")
        )
        .is_err());
    let plain = c
        .get(&format!(
            "/v1/accounts/{}?height={old_height}",
            hex_id(&holder)
        ))
        .await
        .ok();
    assert_eq!(plain["available"], old_balance);

    // The newcomer: absent at the old height, present now.
    let newcomer_then = c
        .get(&format!(
            "/v1/proofs/{}?height={old_height}",
            hex::encode(keys::account(&newcomer))
        ))
        .await
        .ok();
    assert_eq!(newcomer_then["value"], Value::Null);
    let (signed_then, _) = verify_proof_view(&newcomer_then);
    assert_eq!(signed_then.header.height, old_height);
    let newcomer_now = c
        .get(&format!(
            "/v1/proofs/{}",
            hex::encode(keys::account(&newcomer))
        ))
        .await
        .ok();
    let (_, value) = verify_proof_view(&newcomer_now);
    assert_eq!(
        account_record(value.as_deref().expect("present now")).available,
        Amount(90)
    );
    // The never-seen account is absent at every height.
    for height in [0, old_height, head] {
        let view = c
            .get(&format!(
                "/v1/accounts/{}?prove=true&height={height}",
                hex_id(&absent)
            ))
            .await
            .ok();
        let (signed, value) = verify_proof_view(&view["proof"]);
        assert_eq!(signed.header.height, height);
        assert!(value.is_none());
    }
    // A height past the head is a typed 404.
    c.get(&format!(
        "/v1/accounts/{}?prove=true&height={}",
        hex_id(&holder),
        head + 100
    ))
    .await
    .assert_error(404, 614);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tampered_proofs_and_tampered_headers_are_rejected_by_the_verifier() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    c.submit(&transfer(6, 0, dev_id(7), 42)).await;
    c.mine(2).await;
    let absent = AccountId(sha256(&[b"nobody"]));
    for id in [dev_id(7), absent] {
        let view = c
            .get(&format!("/v1/accounts/{}?prove=true", hex_id(&id)))
            .await
            .ok();
        let ProofParts {
            signed,
            key,
            value,
            proof_bytes,
            header_bytes,
        } = decode_proof(&view["proof"]);
        let proof = StateProof::decode(&proof_bytes).expect("decodes");
        signed
            .verify_state(&chain_id(), &sequencer_id(), &key, value.as_deref(), &proof)
            .expect("untampered proof verifies");

        // Every single-byte change of the proof is refused, by decoding or verifying.
        let mut accepted = Vec::new();
        for position in 0..proof_bytes.len() {
            for flip in [0x01u8, 0x80] {
                let mut tampered = proof_bytes.clone();
                tampered[position] ^= flip;
                let ok = StateProof::decode(&tampered).is_ok_and(|proof| {
                    signed
                        .verify_state(&chain_id(), &sequencer_id(), &key, value.as_deref(), &proof)
                        .is_ok()
                });
                if ok {
                    accepted.push((position, flip));
                }
            }
        }
        assert!(
            accepted.is_empty(),
            "tampered proofs accepted at (byte, xor) {accepted:?}"
        );

        // Every single-byte change of the signed header is refused.
        let mut accepted = Vec::new();
        for position in 0..header_bytes.len() {
            let mut tampered = header_bytes.clone();
            tampered[position] ^= 0x01;
            let ok = borsh::from_slice::<SignedHeader>(&tampered).is_ok_and(|header| {
                header
                    .verify_state(&chain_id(), &sequencer_id(), &key, value.as_deref(), &proof)
                    .is_ok()
            });
            if ok {
                accepted.push(position);
            }
        }
        assert!(
            accepted.is_empty(),
            "tampered headers accepted at bytes {accepted:?}"
        );
    }
}

// ---- 5. restart ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_on_the_same_data_dir_resumes_at_the_same_head_and_continues() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = node.client.clone();
    let first = transfer(4, 0, dev_id(8), 1_000);
    c.submit(&first).await;
    c.mine(2).await;
    c.submit(&transfer(4, 1, dev_id(9), 2_000)).await;
    c.mine(1).await;
    let before = c.latest().await;
    let balances = c.dev_balances().await;
    let receipt = c.tx_status(&tx_hash(&first)).await;
    let status_before = c.get("/v1/status").await.ok();
    drop(c);

    let node = node.restart(BlockMode::Manual).await;
    let c = &node.client;
    let after = c.latest().await;
    assert_eq!(after, before, "same head block after restart");
    assert_eq!(after["height"], 3);
    let status_after = c.get("/v1/status").await.ok();
    assert_eq!(status_after["height"], status_before["height"]);
    assert_eq!(status_after["state_root"], status_before["state_root"]);
    assert_eq!(status_after["state_root"], before["header"]["state_root"]);
    assert_eq!(c.dev_balances().await, balances);
    assert_eq!(c.tx_status(&tx_hash(&first)).await, receipt);
    assert_eq!(c.nonce(&dev_id(4)).await, 2);

    // The chain continues on top of the stored head.
    let receipt = submit_and_mine(c, &transfer(4, 2, dev_id(8), 3)).await;
    assert_eq!(receipt["success"], true, "{receipt}");
    assert_eq!(receipt["height"], 4);
    let next = c.block(4).await;
    assert_eq!(next["header"]["prev_hash"], before["hash"]);
    assert!(next["header"]["time_ms"].as_u64() > before["header"]["time_ms"].as_u64());
    assert_eq!(c.available(&dev_id(8)).await, DEV_BALANCE + 1_003);

    // And survives a second restart, now producing blocks on an interval.
    let head = c.latest().await;
    let node = node.restart(INTERVAL_50).await;
    let c = &node.client;
    assert_eq!(c.block(4).await, head);
    c.wait_height(6).await;
    assert_eq!(c.block(5).await["header"]["prev_hash"], head["hash"]);
}

// ---- 6. replay ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_of_the_data_dir_matches_every_stored_root() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = node.client.clone();
    let (requester, provider) = (0, 1);
    let deadline_ms = now_ms() + 3_600_000;

    c.submit(&transfer(5, 0, dev_id(6), 777)).await;
    c.submit(&sign(
        &dev(requester),
        0,
        create_escrow(1, dev_id(provider), 50_000, deadline_ms),
    ))
    .await;
    c.submit(&sign(
        &dev(requester),
        1,
        create_escrow(2, dev_id(provider), 30_000, now_ms() + 600_000),
    ))
    .await;
    c.mine(1).await;
    let escrow = c.get(&format!("/v1/escrows/{}", escrow_uuid(1))).await.ok();
    assert_eq!(escrow["status"], "Funded", "{escrow}");
    assert_eq!(escrow["held"], 50_000);
    let requester_view = c.account(&dev_id(requester)).await;
    assert_eq!(requester_view["locked"], 80_000);

    c.submit(&sign(
        &dev(provider),
        0,
        Action::MarkCompleted {
            id: escrow_uuid(1),
            result_hash: [9; 32],
        },
    ))
    .await;
    c.mine(1).await;
    let receipt = submit_and_mine(
        &c,
        &sign(
            &dev(requester),
            2,
            Action::Approve {
                id: escrow_uuid(1),
                decision: Decision::Release,
            },
        ),
    )
    .await;
    assert_eq!(receipt["success"], true, "{receipt}");
    // Escrow 2 times out in a block hook once time is moved past its deadline.
    c.post_json("/v1/dev/time", &json!({ "advance_ms": 3_600_000 }))
        .await
        .ok();
    c.mine(1).await;

    let released = c.get(&format!("/v1/escrows/{}", escrow_uuid(1))).await.ok();
    assert_eq!(released["status"], "Released");
    assert_eq!(released["held"], 0);
    // The escrow record is provable like any state value.
    let proven = c
        .get(&format!("/v1/escrows/{}?prove=true", escrow_uuid(1)))
        .await
        .ok();
    let (_, value) = verify_proof_view(&proven["proof"]);
    let record: agora_contract::Escrow =
        borsh::from_slice(&value.expect("present")).expect("escrow decodes");
    assert_eq!(record.status, agora_contract::EscrowStatus::Released);
    assert_eq!(record.amount, Amount(50_000));
    assert_eq!(
        hex::encode(record.audit_head),
        proven["audit_head"].as_str().expect("head")
    );
    let refunded = c.get(&format!("/v1/escrows/{}", escrow_uuid(2))).await.ok();
    assert_eq!(refunded["status"], "Refunded");
    let events = c
        .get(&format!("/v1/escrows/{}/events", escrow_uuid(1)))
        .await
        .ok();
    assert_eq!(events["audit_head"], events["recomputed_audit_head"]);
    assert!(events["events"].as_array().expect("events").len() >= 4);
    let events2 = c
        .get(&format!("/v1/escrows/{}/events", escrow_uuid(2)))
        .await
        .ok();
    assert_eq!(events2["audit_head"], events2["recomputed_audit_head"]);
    assert!(
        events2["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["source"].get("BlockHook").is_some()),
        "the refund came from the block hook: {events2}"
    );
    assert_eq!(c.available(&dev_id(provider)).await, DEV_BALANCE + 50_000);
    assert_eq!(c.available(&dev_id(requester)).await, DEV_BALANCE - 50_000);

    let latest = c.latest().await;
    let head = latest["height"].as_u64().expect("height");
    let root = latest["header"]["state_root"]
        .as_str()
        .expect("root")
        .to_string();
    drop(c);
    let report = stop_and_replay(node).await;
    assert_eq!(report.mismatches, vec![]);
    assert_eq!(report.head, head);
    assert_eq!(report.blocks_checked, head + 1);
    assert_eq!(hex::encode(report.final_state_root), root);
}

// ---- 7. dev controls ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dev_controls_mine_advance_time_snapshot_and_revert() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;

    // Mine.
    assert_eq!(c.mine(3).await, vec![1, 2, 3]);
    let one = c.post_raw("/v1/dev/mine", None, Vec::new()).await.ok();
    assert_eq!(one["heights"], json!([4]), "an empty body mines one block");
    c.post_json("/v1/dev/mine", &json!({ "blocks": 0 }))
        .await
        .assert_error(400, 610);
    c.post_json("/v1/dev/mine", &json!({ "blocks": 1001 }))
        .await
        .assert_error(400, 610);
    assert_eq!(c.height().await, 4);

    // Advance time: the next block is at least that much later than the wall clock.
    let wall_before = now_ms();
    let advanced = c
        .post_json("/v1/dev/time", &json!({ "advance_ms": 7_200_000 }))
        .await
        .ok();
    let next_time = advanced["next_block_time_ms"].as_u64().expect("time");
    assert!(next_time >= wall_before + 7_200_000, "{advanced}");
    c.mine(1).await;
    let time5 = c.block(5).await["header"]["time_ms"]
        .as_u64()
        .expect("time");
    assert!(
        time5 >= next_time,
        "block 5 at {time5}, promised ≥ {next_time}"
    );
    c.post_json("/v1/dev/time", &json!({ "advance": 1 }))
        .await
        .assert_error(400, 610);

    // Snapshot, change things, revert.
    let snapshot = c.post_raw("/v1/dev/snapshot", None, Vec::new()).await.ok();
    assert_eq!(snapshot["height"], 5);
    let id = snapshot["id"].as_u64().expect("id");
    let snap_block = c.block(5).await;
    let balances = c.dev_balances().await;
    let moved = transfer(4, 0, dev_id(5), 5_000);
    c.submit(&moved).await;
    // An escrow that exists only in the blocks about to be reverted.
    let far = now_ms() + 10 * 3_600_000;
    c.submit(&sign(&dev(7), 0, create_escrow(5, dev_id(8), 4_000, far)))
        .await;
    c.mine(2).await;
    let doomed = c
        .get(&format!("/v1/escrows/{}/events", escrow_uuid(5)))
        .await
        .ok();
    assert_eq!(doomed["events"].as_array().expect("events").len(), 2);
    let pending = transfer(4, 1, dev_id(5), 1);
    c.submit(&pending).await;
    assert_eq!(c.available(&dev_id(5)).await, DEV_BALANCE + 5_000);
    assert_eq!(c.height().await, 7);

    let reverted = c
        .post_json("/v1/dev/revert", &json!({ "id": id }))
        .await
        .ok();
    assert_eq!(reverted["height"], 5);
    assert_eq!(c.height().await, 5);
    assert_eq!(c.latest().await, snap_block);
    assert_eq!(c.dev_balances().await, balances);
    assert_eq!(c.nonce(&dev_id(4)).await, 0);
    assert_eq!(c.tx_status(&tx_hash(&moved)).await["status"], "unknown");
    assert_eq!(c.tx_status(&tx_hash(&pending)).await["status"], "unknown");
    c.get("/v1/blocks/6").await.assert_error(404, 613);
    let status = c.get("/v1/status").await.ok();
    assert_eq!(status["height"], 5);
    assert_eq!(status["mempool_txs"], 0);
    // The snapshot is used up.
    c.post_json("/v1/dev/revert", &json!({ "id": id }))
        .await
        .assert_error(400, 610);

    // New blocks build on the snapshot's head; the reverted tx can be committed again.
    let other = transfer(4, 0, dev_id(6), 9);
    c.submit(&other).await;
    assert_eq!(c.mine(1).await, vec![6]);
    let six = c.block(6).await;
    assert_eq!(six["header"]["prev_hash"], snap_block["hash"]);
    assert_eq!(six["tx_hashes"], json!([tx_hash(&other)]));
    c.get(&format!("/v1/escrows/{}", escrow_uuid(5)))
        .await
        .assert_error(404, 300);
    c.get(&format!("/v1/escrows/{}/events", escrow_uuid(5)))
        .await
        .assert_error(404, 300);
    // The same escrow id again, on the new branch, with another amount.
    let recreate = sign(&dev(7), 0, create_escrow(5, dev_id(8), 1_500, far));
    c.submit(&recreate).await;
    let receipt = submit_and_mine(c, &transfer(4, 1, dev_id(5), 5_000)).await;
    assert_eq!(receipt["success"], true);
    assert_eq!(receipt["height"], 7);
    assert_eq!(c.tx_status(&tx_hash(&recreate)).await["success"], true);
    let escrow = c.get(&format!("/v1/escrows/{}", escrow_uuid(5))).await.ok();
    assert_eq!(escrow["amount"], 1_500);
    let events = c
        .get(&format!("/v1/escrows/{}/events", escrow_uuid(5)))
        .await
        .ok();
    let listed = events["events"].as_array().expect("events");
    assert_eq!(listed.len(), 2, "only the new branch's events: {events}");
    assert!(listed.iter().all(|event| event["height"] == 7), "{events}");
    assert_eq!(events["audit_head"], events["recomputed_audit_head"]);
    assert_eq!(c.account(&dev_id(7)).await["locked"], 1_500);
    assert_eq!(c.available(&dev_id(5)).await, DEV_BALANCE + 5_000);
    assert_eq!(c.available(&dev_id(6)).await, DEV_BALANCE + 9);
    // History and proofs after the revert describe the new blocks, not the reverted ones.
    for height in [5, 6, 7] {
        let view = c
            .get(&format!(
                "/v1/accounts/{}?prove=true&height={height}",
                hex_id(&dev_id(6))
            ))
            .await
            .ok();
        let (_, value) = verify_proof_view(&view["proof"]);
        let expected = if height >= 6 {
            DEV_BALANCE + 9
        } else {
            DEV_BALANCE
        };
        assert_eq!(
            account_record(value.as_deref().expect("present")).available,
            Amount(expected),
            "dev 6 at height {height}"
        );
        let view = c
            .get(&format!(
                "/v1/accounts/{}?prove=true&height={height}",
                hex_id(&dev_id(5))
            ))
            .await
            .ok();
        let (_, value) = verify_proof_view(&view["proof"]);
        let expected = if height >= 7 {
            DEV_BALANCE + 5_000
        } else {
            DEV_BALANCE
        };
        assert_eq!(
            account_record(value.as_deref().expect("present")).available,
            Amount(expected),
            "dev 5 at height {height}"
        );
    }

    // The dev accounts list the keys the tests sign with.
    let accounts = c.get("/v1/dev/accounts").await.ok();
    let accounts = accounts["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), DEV_ACCOUNTS as usize);
    for (index, account) in accounts.iter().enumerate() {
        assert_eq!(account["index"], index);
        assert_eq!(account["account"], hex_id(&dev_id(index as u64)));
        assert_eq!(
            account["secret_key"],
            hex::encode(dev(index as u64).to_bytes())
        );
    }

    // The reverted-then-rebuilt chain restarts cleanly (the node checks its rebuilt state
    // root against the head header) and replays from genesis to the same roots.
    let head = c.latest().await;
    let node = node.restart(BlockMode::Manual).await;
    assert_eq!(node.client.latest().await, head);
    let dir = node.stop().await;
    let path = dir.path().to_path_buf();
    let report = tokio::task::spawn_blocking(move || agora_runner::replay::replay(&path))
        .await
        .expect("replay task")
        .expect("replay runs");
    assert_eq!(report.mismatches, vec![]);
    assert_eq!(report.head, 7);
    assert_eq!(
        hex::encode(report.final_state_root),
        head["header"]["state_root"].as_str().expect("root")
    );
}

// ---- 8. hostile input ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_input_gets_typed_4xx_answers_and_changes_nothing() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    let committed = submit_and_mine(c, &transfer(1, 0, dev_id(2), 100)).await;
    assert_eq!(committed["success"], true);
    let balances = c.dev_balances().await;
    let mut nonces = Vec::new();
    for index in 0..DEV_ACCOUNTS {
        nonces.push(c.nonce(&dev_id(index)).await);
    }
    let head = c.height().await;
    let valid = transfer(3, 0, dev_id(4), 1);

    // Content types.
    c.post_raw("/v1/txs", Some("text/plain"), valid.clone())
        .await
        .assert_error(415, 611);
    c.post_raw("/v1/txs", None, valid.clone())
        .await
        .assert_error(415, 611);
    // Bytes that are not a transaction.
    c.post_raw(
        "/v1/txs",
        Some("application/octet-stream"),
        b"hello".to_vec(),
    )
    .await
    .assert_error(400, 101);
    c.post_raw("/v1/txs", Some("application/octet-stream"), Vec::new())
        .await
        .assert_error(400, 101);
    let mut trailing = valid.clone();
    trailing.push(0);
    c.submit_raw(&trailing).await.assert_error(400, 101);
    c.submit_raw(&valid[..valid.len() - 1])
        .await
        .assert_error(400, 101);
    c.submit_raw(&vec![0u8; 64 * 1024 + 1])
        .await
        .assert_error(400, 100);
    // Bad JSON.
    c.post_raw("/v1/txs", Some("application/json"), b"{\"tx\": ".to_vec())
        .await
        .assert_error(400, 610);
    c.post_json("/v1/txs", &json!({ "transaction": hex::encode(&valid) }))
        .await
        .assert_error(400, 610);
    c.post_json("/v1/txs", &json!({ "tx": "not hex" }))
        .await
        .assert_error(400, 610);
    c.post_json("/v1/txs", &json!({ "tx": 12 }))
        .await
        .assert_error(400, 610);
    c.post_raw("/v1/txs/batch", Some("application/json"), b"[1,2".to_vec())
        .await
        .assert_error(400, 610);
    c.post_raw(
        "/v1/txs?wait=forever",
        Some("application/octet-stream"),
        valid.clone(),
    )
    .await
    .assert_error(400, 610);
    c.post_raw(
        "/v1/txs?wait=commit&timeout_ms=soon",
        Some("application/octet-stream"),
        valid.clone(),
    )
    .await
    .assert_error(400, 610);
    let too_many = vec!["00"; agora_runner::api::MAX_BATCH + 1];
    c.post_json("/v1/txs/batch", &json!({ "txs": too_many }))
        .await
        .assert_error(413, 617);
    // Unknown paths and ids.
    c.get("/v1/nope").await.assert_error(404, 613);
    c.post_json("/nope", &json!({}))
        .await
        .assert_error(404, 613);
    let unknown = hex::encode(sha256(&[b"no such tx"]));
    assert_eq!(
        c.tx_status(&unknown).await,
        json!({ "hash": unknown, "status": "unknown" })
    );
    c.get("/v1/txs/zz").await.assert_error(400, 610);
    c.get(&format!("/v1/txs/{}", &unknown[..62]))
        .await
        .assert_error(400, 610);
    c.get("/v1/accounts/1234").await.assert_error(400, 610);
    c.get("/v1/escrows/not-a-uuid").await.assert_error(400, 610);
    c.get(&format!("/v1/escrows/{}", escrow_uuid(9)))
        .await
        .assert_error(404, 300);
    c.get("/v1/blocks/minus-one").await.assert_error(400, 610);
    c.get("/v1/blocks/99999").await.assert_error(404, 613);
    c.get("/v1/proofs/xyz").await.assert_error(400, 610);
    c.get(&format!("/v1/accounts/{}?height=99999", hex_id(&dev_id(1))))
        .await
        .assert_error(404, 614);
    let bad_cursor = c
        .http
        .get(c.url("/v1/events?from=1"))
        .header("Last-Event-ID", "garbage")
        .send()
        .await
        .expect("request");
    assert_eq!(bad_cursor.status().as_u16(), 400);
    c.post_json("/v1/dev/revert", &json!({ "id": 99 }))
        .await
        .assert_error(400, 610);

    // Transactions that are signed but wrong.
    let other_chain = sign_full(
        &dev(3),
        &Label::new("agora-othernet").expect("label"),
        0,
        None,
        Action::Transfer {
            to: dev_id(4),
            amount: Amount(1),
        },
    );
    c.submit_raw(&other_chain).await.assert_error(400, 104);
    let mut forged_signature = valid.clone();
    let last = forged_signature.len() - 1;
    forged_signature[last] ^= 0x20;
    c.submit_raw(&forged_signature).await.assert_error(400, 103);
    let wrong_signer = agora_contract::tx::UnsignedTx {
        chain_id: chain_id(),
        signer: dev_id(3),
        nonce: 0,
        valid_until_height: None,
        action: Action::Transfer {
            to: dev_id(4),
            amount: Amount(1_000),
        },
    }
    .sign(&dev(9))
    .to_bytes();
    c.submit_raw(&wrong_signer).await.assert_error(400, 103);
    c.submit_raw(&transfer(1, 0, dev_id(2), 999))
        .await
        .assert_error(400, 105);
    let expired = sign_full(
        &dev(3),
        &chain_id(),
        0,
        Some(head),
        Action::Transfer {
            to: dev_id(4),
            amount: Amount(1),
        },
    );
    c.submit_raw(&expired).await.assert_error(400, 106);
    // A batch of bad transactions: answered per item, nothing admitted.
    let batch = c
        .post_json(
            "/v1/txs/batch",
            &json!({ "txs": [hex::encode(&other_chain), hex::encode(&forged_signature), hex::encode(&expired)] }),
        )
        .await
        .ok();
    assert_eq!(batch["accepted"], 0);
    let codes: Vec<u64> = batch["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["error"]["code"].as_u64().expect("code"))
        .collect();
    assert_eq!(codes, vec![104, 103, 106]);

    // Nothing was admitted, and the chain goes on unchanged.
    assert_eq!(c.get("/v1/status").await.ok()["mempool_txs"], 0);
    assert_eq!(c.mine(2).await, vec![head + 1, head + 2]);
    assert_eq!(c.block(head + 1).await["tx_hashes"], json!([]));
    assert_eq!(c.dev_balances().await, balances);
    for index in 0..DEV_ACCOUNTS {
        assert_eq!(c.nonce(&dev_id(index)).await, nonces[index as usize]);
    }
    // And still accepts good transactions.
    let receipt = submit_and_mine(c, &valid).await;
    assert_eq!(receipt["success"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversize_bodies_are_refused_with_413() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    let body = vec![b'a'; agora_runner::api::MAX_BODY_BYTES + 1];
    c.post_raw("/v1/txs", Some("application/octet-stream"), body.clone())
        .await
        .assert_error(413, 612);
    c.post_raw("/v1/txs/batch", Some("application/json"), body)
        .await
        .assert_error(413, 612);
    assert_eq!(c.mine(1).await, vec![1]);
    assert_eq!(c.block(1).await["tx_hashes"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mempool_admission_rules_answer_typed_codes() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    let first = transfer(3, 0, dev_id(4), 10);
    c.submit(&first).await;
    // A different tx with a pending nonce.
    c.submit_raw(&transfer(3, 0, dev_id(4), 11))
        .await
        .assert_error(409, 603);
    // Too far ahead of the committed nonce.
    c.submit_raw(&transfer(3, 5_000, dev_id(4), 12))
        .await
        .assert_error(400, 605);
    // A gap: admitted, but it cannot commit, so waiting for it times out.
    let gapped = transfer(3, 2, dev_id(4), 13);
    let waited = c
        .post_raw(
            "/v1/txs?wait=commit&timeout_ms=300",
            Some("application/octet-stream"),
            gapped.clone(),
        )
        .await;
    waited.assert_error(408, 616);
    assert_eq!(c.tx_status(&tx_hash(&gapped)).await["status"], "pending");
    c.mine(1).await;
    assert_eq!(c.tx_status(&tx_hash(&first)).await["status"], "committed");
    assert_eq!(c.tx_status(&tx_hash(&gapped)).await["status"], "pending");
    // Filling the gap lets both through, in nonce order.
    c.submit(&transfer(3, 1, dev_id(4), 14)).await;
    c.mine(1).await;
    let receipt = c.tx_status(&tx_hash(&gapped)).await;
    assert_eq!(receipt["status"], "committed");
    assert_eq!(receipt["index"], 1);
    assert_eq!(c.available(&dev_id(4)).await, DEV_BALANCE + 10 + 13 + 14);
    assert_eq!(c.nonce(&dev_id(3)).await, 3);
}

/// Committed bytes sent again after their expiry height are answered `committed` (the tx
/// index is read once the checks fail), not `expired`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn committed_bytes_resubmitted_after_their_expiry_answer_committed() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    let head = c.height().await;
    let tx = sign_full(
        &dev(3),
        &chain_id(),
        0,
        Some(head + 1),
        Action::Transfer {
            to: dev_id(4),
            amount: Amount(5),
        },
    );
    c.submit(&tx).await;
    c.mine(3).await;
    assert_eq!(c.tx_status(&tx_hash(&tx)).await["status"], "committed");
    let again = c.submit_raw(&tx).await;
    assert_eq!(again.status.as_u16(), 202, "{}", again.json);
    assert_eq!(again.json["status"], "committed");
    // Bytes never committed with the same expiry are refused as expired.
    let late = sign_full(
        &dev(3),
        &chain_id(),
        1,
        Some(head + 1),
        Action::Transfer {
            to: dev_id(4),
            amount: Amount(6),
        },
    );
    c.submit_raw(&late).await.assert_error(400, 106);
    assert_eq!(c.available(&dev_id(4)).await, DEV_BALANCE + 5);
}

// ---- 9. event stream ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_stream_delivers_committed_transfers_and_resumes_after_last_event_id() {
    let node = TestNode::start(BlockMode::Instant).await;
    let c = &node.client;
    let first = transfer(1, 0, dev_id(2), 321);
    let receipt = c.submit_commit(&first).await;
    let height = receipt["height"].as_u64().expect("height");

    let wait = Duration::from_secs(10);
    let mut stream = SseReader::open(c, "/v1/events?from=1", None).await;
    let mut seen_id = None;
    while let Some(message) = stream.next(wait).await {
        if message.event != "event" {
            continue;
        }
        let data: Value = serde_json::from_str(&message.data).expect("event data is JSON");
        if data["tx_hash"] == tx_hash(&first) && data["event"].get("Transferred").is_some() {
            assert_eq!(data["height"], height);
            assert_eq!(data["event"]["Transferred"]["amount"], 321);
            assert_eq!(data["event"]["Transferred"]["from"], hex_id(&dev_id(1)));
            assert_eq!(data["event"]["Transferred"]["to"], hex_id(&dev_id(2)));
            seen_id = message.id.clone();
            break;
        }
    }
    let seen_id = seen_id.expect("the Transferred event arrived on the stream");
    assert_eq!(seen_id, format!("{height}:1:0"));
    // The block message follows the block's events.
    let block = stream.next(wait).await.expect("block message");
    assert_eq!(block.event, "block");
    let block: Value = serde_json::from_str(&block.data).expect("JSON");
    assert_eq!(block["height"], height);

    // The open stream also delivers later blocks as they commit.
    let second = transfer(1, 1, dev_id(3), 654);
    c.submit_commit(&second).await;
    let mut live = false;
    while let Some(message) = stream.next(wait).await {
        if message.event == "event" {
            let data: Value = serde_json::from_str(&message.data).expect("JSON");
            if data["tx_hash"] == tx_hash(&second) {
                live = true;
                break;
            }
        }
    }
    assert!(live, "the open stream delivered the later transfer");
    drop(stream);

    // Resuming after the first event skips it and everything before it.
    let mut resumed = SseReader::open(c, "/v1/events?from=1", Some(&seen_id)).await;
    let mut ids = Vec::new();
    let mut found_second = false;
    while let Some(message) = resumed.next(wait).await {
        if message.event != "event" {
            continue;
        }
        let data: Value = serde_json::from_str(&message.data).expect("JSON");
        assert_ne!(
            data["tx_hash"],
            tx_hash(&first),
            "an already-seen event was delivered again"
        );
        ids.push(message.id.clone().expect("event id"));
        if data["tx_hash"] == tx_hash(&second) {
            found_second = true;
            break;
        }
    }
    assert!(
        found_second,
        "the resumed stream delivered the later transfer"
    );
    let parse = |id: &str| -> (u64, u64, u64) {
        let parts: Vec<u64> = id.split(':').map(|p| p.parse().expect("number")).collect();
        (parts[0], parts[1], parts[2])
    };
    let after = parse(&seen_id);
    for id in &ids {
        assert!(parse(id) > after, "event {id} is not after {seen_id}");
    }
}

// ---- 10. metrics, OpenAPI, health, status ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_openapi_health_and_status_describe_the_node() {
    let node = TestNode::start(BlockMode::Instant).await;
    let c = &node.client;
    let receipt = c.submit_commit(&transfer(1, 0, dev_id(2), 5)).await;
    let committed_height = receipt["height"].as_u64().expect("height");

    // The gauge is set just after the block's commit that the receipt already shows, so
    // it may lag the receipt by a moment.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let metrics = c.get("/metrics").await;
        assert_eq!(metrics.status.as_u16(), 200);
        let content_type = metrics
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            content_type.starts_with("text/plain")
                || content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        let height_line = metrics
            .text
            .lines()
            .find(|line| line.starts_with("agora_height "))
            .unwrap_or_else(|| panic!("no agora_height sample in {}", metrics.text));
        let value: u64 = height_line["agora_height ".len()..]
            .trim()
            .parse()
            .expect("integer gauge");
        if value >= committed_height {
            assert!(metrics.text.contains("agora_txs_committed"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "agora_height stays at {value}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let openapi = c.get("/openapi.json").await.ok();
    assert!(openapi["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with('3')));
    let paths = openapi["paths"].as_object().expect("paths");
    for path in [
        "/v1/txs",
        "/v1/txs/batch",
        "/v1/txs/{hash}",
        "/v1/blocks/latest",
        "/v1/accounts/{pubkey}",
        "/v1/proofs/{key}",
        "/v1/events",
        "/health",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "OpenAPI lacks {path}");
    }
    assert!(paths["/v1/txs"].get("post").is_some());
    // Both submission routes take the two media types they accept, and only those.
    for path in ["/v1/txs", "/v1/txs/batch"] {
        let content = paths[path]["post"]["requestBody"]["content"]
            .as_object()
            .expect("request body content");
        let mut types: Vec<&str> = content.keys().map(String::as_str).collect();
        types.sort_unstable();
        assert_eq!(
            types,
            ["application/json", "application/octet-stream"],
            "{path}"
        );
    }

    let health = c.get("/health").await.ok();
    assert_eq!(health["status"], "ok");
    assert!(health["height"].as_u64() >= Some(1));

    let status = c.get("/v1/status").await.ok();
    assert_eq!(status["chain_id"], "agora-devnet");
    assert_eq!(status["sequencer"], hex_id(&sequencer_id()));
    assert_eq!(status["dev"], true);
    let latest = c.latest().await;
    assert_eq!(status["height"], latest["height"]);
    assert_eq!(status["state_root"], latest["header"]["state_root"]);
}

// ---- races and encodings ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instant_mode_answers_dev_commands_queued_behind_transaction_wakes() {
    let node = TestNode::start(BlockMode::Instant).await;
    let c = &node.client;
    let mut nonces = [0u64; 8];
    let mut failures = Vec::new();
    for round in 0..6 {
        // Many admissions, each waking the sequencer, then a dev command right behind them.
        let mut batch = Vec::new();
        for _ in 0..40 {
            for (sender, nonce) in nonces.iter_mut().enumerate() {
                let sender = sender as u64;
                batch.push(hex::encode(transfer(sender, *nonce, dev_id(9), 1)));
                *nonce += 1;
            }
        }
        let answer = c
            .post_json("/v1/txs/batch", &json!({ "txs": batch }))
            .await
            .ok();
        assert_eq!(answer["accepted"], batch.len());
        let snapshot = c.post_raw("/v1/dev/snapshot", None, Vec::new()).await;
        if !snapshot.status.is_success() {
            failures.push((round, "snapshot", snapshot.text.clone()));
        }
        let mined = c.post_json("/v1/dev/mine", &json!({ "blocks": 1 })).await;
        if !mined.status.is_success() {
            failures.push((round, "mine", mined.text.clone()));
        }
    }
    assert!(failures.is_empty(), "dev commands lost: {failures:?}");
    let last = transfer(7, nonces[7] - 1, dev_id(9), 1);
    c.wait_committed(&tx_hash(&last)).await;
    assert_eq!(
        c.available(&dev_id(9)).await,
        DEV_BALANCE + nonces.iter().sum::<u64>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resubmitting_the_same_bytes_while_they_commit_never_answers_an_error() {
    let node = TestNode::start(BlockMode::Instant).await;
    let c = &node.client;
    // The window is a few microseconds per block, so keep trying (up to 300 blocks) and
    // stop at the first refusal.
    let mut errors = Vec::new();
    let mut committed = 0;
    for nonce in 0..300 {
        if !errors.is_empty() {
            break;
        }
        let bytes = transfer(2, nonce, dev_id(3), 1);
        let hash = tx_hash(&bytes);
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let client = c.clone();
            let bytes = bytes.clone();
            tasks.push(tokio::spawn(async move {
                let mut errors = Vec::new();
                loop {
                    let answer = client.submit_raw(&bytes).await;
                    if answer.status.as_u16() != 202 {
                        errors.push(answer.text.clone());
                        break;
                    }
                    if answer.json["status"] == "committed" {
                        break;
                    }
                }
                errors
            }));
        }
        for task in tasks {
            errors.extend(task.await.expect("task"));
        }
        let receipt = c.wait_committed(&hash).await;
        assert_eq!(receipt["success"], true);
        committed += 1;
    }
    assert!(
        errors.is_empty(),
        "resubmissions of pending/committed bytes were refused: {errors:?}"
    );
    assert_eq!(c.available(&dev_id(3)).await, DEV_BALANCE + committed);
}

/// A market request with a public payload of `len` bytes.
fn post_request(n: u8, len: usize) -> Action {
    use agora_contract::market::privacy::Privacy;
    use agora_contract::market::{Sla, TaskSpec};
    Action::PostRequest(agora_contract::PostRequest {
        id: escrow_uuid(n),
        spec: TaskSpec {
            task_type: Label::new("x").expect("label"),
            capabilities: BoundedVec::empty(),
            min_reputation: None,
            max_duration_ms: 1_000_000,
        },
        bid_per_unit: Amount(1),
        units: 1,
        window_ms: Some(60_000),
        arbitrators: BoundedVec::empty(),
        sla: Sla {
            max_response_ms: 1_000,
            max_duration_ms: 10_000,
            quality_min: BoundedVec::empty(),
            penalty: Amount(0),
            review_window_ms: 60_000,
        },
        privacy: Privacy::Public {
            payload: BoundedVec::new(vec![7u8; len]).expect("payload fits"),
        },
    })
}

/// A byte string has one JSON form whatever its length: lowercase hex. (The node once hexed
/// arrays by shape, so a 32- or 64-byte payload was hex and a 31- or 33-byte one an array.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn byte_strings_have_one_json_encoding_whatever_their_length() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    let lengths = [31usize, 32, 33, 64];
    let mut hashes = Vec::new();
    for (nonce, len) in lengths.iter().enumerate() {
        hashes.push(
            c.submit(&sign(
                &dev(0),
                nonce as u64,
                post_request(20 + nonce as u8, *len),
            ))
            .await,
        );
    }
    c.mine(1).await;
    for hash in &hashes {
        let receipt = c.tx_status(hash).await;
        assert_eq!(receipt["success"], true, "{receipt}");
    }
    for (nonce, len) in lengths.iter().enumerate() {
        let request = c
            .get(&format!(
                "/v1/market/requests/{}",
                escrow_uuid(20 + nonce as u8)
            ))
            .await
            .ok();
        assert_eq!(
            request["privacy"]["Public"]["payload"],
            hex::encode(vec![7u8; *len]),
            "payload of {len} bytes in {request}"
        );
        assert_eq!(request["requester"], hex_id(&dev_id(0)), "{request}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn advancing_time_by_any_amount_leaves_a_chain_that_still_produces_blocks() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    c.mine(1).await;
    let answer = c
        .post_json("/v1/dev/time", &json!({ "advance_ms": u64::MAX }))
        .await;
    // Refusing the request is fine; accepting it must not wedge the chain.
    if answer.status.is_success() {
        let mined = c.post_json("/v1/dev/mine", &json!({ "blocks": 3 })).await;
        assert!(
            mined.status.is_success(),
            "after advancing time by u64::MAX the chain cannot produce blocks: {}",
            mined.text
        );
        assert_eq!(mined.json["heights"], json!([2, 3, 4]));
    } else {
        answer.assert_error(400, 610);
        assert_eq!(c.mine(3).await, vec![2, 3, 4]);
    }
    let receipt = submit_and_mine(c, &transfer(1, 0, dev_id(2), 1)).await;
    assert_eq!(receipt["success"], true);
}

/// Advancing time while an interval block is being built starts that block again at the
/// new time: its transactions still commit, in a block at least that late, and the
/// timeout hook runs at the new time (an escrow whose deadline was skipped over refunds).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn advancing_time_while_a_block_is_built_rebuilds_it_at_the_new_time() {
    let node = TestNode::start(BlockMode::Interval { block_time_ms: 400 }).await;
    let c = &node.client;
    let (requester, provider) = (2, 3);
    let created = c
        .submit_commit(&sign(
            &dev(requester),
            0,
            create_escrow(7, dev_id(provider), 40_000, now_ms() + 3_600_000),
        ))
        .await;
    assert_eq!(created["success"], true, "{created}");
    let escrow = c.get(&format!("/v1/escrows/{}", escrow_uuid(7))).await.ok();
    assert_eq!(escrow["status"], "Funded", "{escrow}");

    // Right after a block: the transfer is executed into the next block within a step.
    let after = c.height().await + 1;
    c.wait_height(after).await;
    let hash = c.submit(&transfer(4, 0, dev_id(5), 123)).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let advanced = c
        .post_json("/v1/dev/time", &json!({ "advance_ms": 7_200_000 }))
        .await
        .ok();
    let promised = advanced["next_block_time_ms"].as_u64().expect("time");

    let receipt = c.wait_committed(&hash).await;
    assert_eq!(receipt["success"], true, "{receipt}");
    let height = receipt["height"].as_u64().expect("height");
    let time = c.block(height).await["header"]["time_ms"]
        .as_u64()
        .expect("time");
    assert!(
        time >= promised,
        "block {height} at {time}, promised ≥ {promised}"
    );
    let escrow = c.get(&format!("/v1/escrows/{}", escrow_uuid(7))).await.ok();
    assert_eq!(escrow["status"], "Refunded", "{escrow}");
    assert_eq!(c.available(&dev_id(5)).await, DEV_BALANCE + 123);
    assert_eq!(c.nonce(&dev_id(4)).await, 1);
}

/// Proofs at every past height verify against that height's signed header, for keys that
/// exist, that were written later, and that never exist, across a revert that rewrote
/// heights: the store's versioned top-tree pages give each height its own tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn proofs_at_every_height_verify_before_and_after_a_revert() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    let fresh: Vec<AccountId> = (0..6u8).map(|n| AccountId([0xA0 + n; 32])).collect();
    let mut watched: Vec<AccountId> = (0..DEV_ACCOUNTS).map(dev_id).collect();
    watched.extend(fresh.iter().copied());
    watched.push(AccountId([0xEE; 32]));

    let check_all = |head: u64| {
        let watched = watched.clone();
        async move {
            let mut present = 0;
            for height in 0..=head {
                for account in &watched {
                    let view = c
                        .get(&format!(
                            "/v1/proofs/{}?height={height}",
                            hex::encode(keys::account(account))
                        ))
                        .await
                        .ok();
                    let (signed, value) = verify_proof_view(&view);
                    assert_eq!(signed.header.height, height);
                    present += usize::from(value.is_some());
                }
            }
            present
        }
    };

    // Blocks 1..=3 fund one new account each.
    for (nonce, to) in fresh.iter().take(3).enumerate() {
        c.submit(&transfer(0, nonce as u64, *to, 1_000 + nonce as u64))
            .await;
        c.mine(1).await;
    }
    let snapshot = c.post_raw("/v1/dev/snapshot", None, Vec::new()).await.ok();
    let id = snapshot["id"].as_u64().expect("id");
    c.submit(&transfer(1, 0, fresh[3], 5)).await;
    c.mine(2).await;
    let before_revert = check_all(5).await;
    // genesis: 10 dev accounts; +1 new account per block 1..3, then +1 from block 4.
    assert_eq!(before_revert, 10 + 11 + 12 + 13 + 14 + 14);

    c.post_json("/v1/dev/revert", &json!({ "id": id }))
        .await
        .ok();
    // Heights 4 and 5 again, with other contents.
    c.submit(&transfer(2, 0, fresh[4], 7)).await;
    c.mine(1).await;
    c.submit(&transfer(2, 1, fresh[5], 8)).await;
    c.mine(1).await;
    let after_revert = check_all(5).await;
    assert_eq!(after_revert, 10 + 11 + 12 + 13 + 14 + 15);
}

/// A block message carries an id too, so a client that saw a block (with or without
/// events) resumes after it: the next message is the next block's, nothing repeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_stream_resumes_after_a_block_message_without_repeating_it() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    c.mine(1).await; // block 1: no events
    let first = transfer(1, 0, dev_id(2), 5);
    c.submit(&first).await;
    c.mine(1).await; // block 2: one transfer

    let wait = Duration::from_secs(10);
    let mut stream = SseReader::open(c, "/v1/events?from=1", None).await;
    let block1 = stream.next(wait).await.expect("block 1 message");
    assert_eq!(block1.event, "block");
    let id1 = block1.id.clone().expect("a block message has an id");
    assert_eq!(id1, format!("1:{}:{}", u32::MAX, u32::MAX));
    drop(stream);

    let mut resumed = SseReader::open(c, "/v1/events?from=1", Some(&id1)).await;
    let next = resumed.next(wait).await.expect("a message after block 1");
    let data: Value = serde_json::from_str(&next.data).expect("JSON");
    assert_eq!(next.event, "event", "{}", next.data);
    assert_eq!(data["height"], 2);
    assert_eq!(data["tx_hash"], tx_hash(&first));
    let mut last = next;
    while last.event != "block" {
        last = resumed.next(wait).await.expect("the rest of block 2");
    }
    assert_eq!(last.id, Some(format!("2:{}:{}", u32::MAX, u32::MAX)));
    drop(resumed);

    // Resuming after the last block waits for the next one.
    let mut caught_up = SseReader::open(c, "/v1/events", last.id.as_deref()).await;
    c.mine(1).await;
    let block3 = caught_up.next(wait).await.expect("block 3 message");
    assert_eq!(block3.event, "block");
    assert_eq!(
        serde_json::from_str::<Value>(&block3.data).expect("JSON")["height"],
        3
    );
}
