//! Signature edge cases at the node's door (SPEC §3): every crafted case of
//! `sdk/tests/common/signature_cases.rs` — non-canonical S, small-order public keys and
//! R that satisfy the cofactored equation, a signature for another chain id, a signature
//! over other bytes — gets the answer the signature rule gives it, with the typed code,
//! whether submitted alone (`POST /v1/txs`, one verification) or all together in a batch
//! (`POST /v1/txs/batch`, one batch equation, then one by one). The SDK is held to the
//! same list in `sdk/tests/signatures.rs`. Refused cases change nothing.

mod support;

#[path = "../../sdk/tests/common/signature_cases.rs"]
mod signature_cases;

use agora_runner::node::BlockMode;
use serde_json::json;
use signature_cases::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crafted_signatures_get_the_same_typed_answer_alone_and_in_a_batch() {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = &node.client;
    let crafted = crafted_account();
    c.submit(&transfer(1, 0, crafted, 1_000)).await;
    c.mine(1).await;
    let balances = c.dev_balances().await;

    // All together in one batch, nonce 0.
    let batch = cases("agora-devnet", &dev(4), 0);
    let answer = c
        .post_json(
            "/v1/txs/batch",
            &json!({ "txs": batch.iter().map(|case| hex::encode(&case.bytes)).collect::<Vec<_>>() }),
        )
        .await
        .ok();
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), batch.len());
    for (case, result) in batch.iter().zip(results) {
        let got = if result["status"] == "rejected" {
            Expect::Rejected(result["error"]["code"].as_u64().expect("code") as u16)
        } else {
            assert_eq!(result["status"], "pending", "{}", case.name);
            Expect::Accepted
        };
        assert_eq!(got, case.expect, "batch: {}: {result}", case.name);
    }
    // One by one, nonce 1 (fresh bytes, so each is verified again).
    let single = cases("agora-devnet", &dev(4), 1);
    for case in &single {
        let answer = c.submit_raw(&case.bytes).await;
        match case.expect {
            Expect::Accepted => assert_eq!(
                answer.status.as_u16(),
                202,
                "{}: {}",
                case.name,
                answer.text
            ),
            Expect::Rejected(code) => {
                answer.assert_error(400, code);
            }
        }
    }
    assert_eq!(c.get("/v1/status").await.ok()["mempool_txs"], 4);
    c.mine(1).await;
    for case in batch.iter().chain(&single) {
        let status = c.tx_status(&tx_hash(&case.bytes)).await;
        match case.expect {
            Expect::Accepted => {
                assert_eq!(status["status"], "committed", "{}", case.name);
                assert_eq!(status["success"], true, "{}: {status}", case.name);
            }
            Expect::Rejected(_) => assert_eq!(status["status"], "unknown", "{}", case.name),
        }
    }
    // Only the two accepted transfers of dev 4 moved funds among the dev accounts.
    let mut expected = balances;
    expected[4] -= 10;
    assert_eq!(c.dev_balances().await, expected);
    assert_eq!(c.nonce(&dev_id(4)).await, 2);
    assert_eq!(c.nonce(&crafted).await, 2);
    eprintln!(
        "signature cases: {} crafted, each tried alone and in a batch",
        batch.len()
    );
}
