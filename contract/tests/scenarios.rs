//! Escrow and wallet scenarios, one per row of the SPEC §5 transition table and per error
//! code, each run through the data-driven `check` helper.

mod common;

use agora_contract::{Decision, EscrowKind};
use common::*;
use expect_test::expect;

/// Single: create, fund, complete, requester releases; provider is paid in full.
#[test]
fn single_full_flow_release() {
    check(
        &[1_000],
        &[
            step(REQUESTER, create(1, 100, EscrowKind::Single).action(), ok()),
            step(REQUESTER, fund(1), ok()),
            step(PROVIDER, complete(1), ok()),
            step(REQUESTER, approve(1, Decision::Release), ok()),
        ],
        expect![[r#"
            requester: available=900 locked=0 nonce=3
            provider: available=100 locked=0 nonce=1
            escrow 1: Released held=0 amount=100
        "#]],
    );
}
