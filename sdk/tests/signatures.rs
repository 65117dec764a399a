//! Signature edge cases in the SDK (SPEC §3): the SDK's own check of a transaction
//! (`SignedTx::check_stateless`, what `TestChain` runs before accepting one) gives every
//! crafted case of `common/signature_cases.rs` the answer the signature rule gives it,
//! with the typed code. `runner/tests/signatures.rs` holds the node to the same list, so
//! runner and SDK accept and refuse identically.

#[path = "common/signature_cases.rs"]
mod signature_cases;

use agora_contract::tx::SignedTx;
use agora_sdk::{Chain, Error, Keypair, TestChain};
use signature_cases::*;

#[tokio::test]
async fn crafted_signatures_get_the_same_typed_answer_from_the_sdk() {
    let chain = TestChain::devnet();
    let honest = Keypair::dev(4);
    // The hand-signed account needs funds for its accepted transfer to succeed.
    let mut funder = chain.builder(Keypair::dev(1)).await.expect("builder");
    let funded = chain
        .submit_and_wait(&funder.transfer(crafted_account(), 1_000))
        .await
        .expect("fund");
    assert!(funded.success());

    let cases = cases("agora-devnet", honest.signing_key(), 0);
    assert!(cases.len() >= 25, "{} cases", cases.len());
    for case in &cases {
        let tx = SignedTx::decode(&case.bytes).expect("every case is a well-formed tx");
        let local = tx
            .check_stateless(
                &agora_contract::Label::new("agora-devnet").expect("label"),
                1,
            )
            .map_err(|error| error.code());
        let submitted = match chain.submit(&tx).await {
            Ok(_) => Expect::Accepted,
            Err(Error::Node { code, status, .. }) => {
                assert_eq!(status, 400, "{}", case.name);
                Expect::Rejected(code)
            }
            Err(other) => panic!("{}: unexpected error {other}", case.name),
        };
        let checked = match local {
            Ok(()) => Expect::Accepted,
            Err(code) => Expect::Rejected(code),
        };
        assert_eq!(
            checked, case.expect,
            "{}: SignedTx::check_stateless",
            case.name
        );
        assert_eq!(submitted, case.expect, "{}: TestChain::submit", case.name);
    }
    // The accepted ones execute: the control transfer and the mixed-order-R transfer.
    let accepted: Vec<_> = cases
        .iter()
        .filter(|case| case.expect == Expect::Accepted)
        .collect();
    assert_eq!(accepted.len(), 2);
    for case in accepted {
        let tx = SignedTx::decode(&case.bytes).expect("decode");
        let committed = chain.wait(&tx.hash()).await.expect("committed");
        assert!(
            committed.success(),
            "{}: {:?}",
            case.name,
            committed.error()
        );
    }
}
