//! Escrow and wallet scenarios: one per row of the SPEC §5 transition table, the behaviours
//! the foundation issue names, and every error code, each run through the data-driven
//! `check` helper (which also checks supply, holdings, the deadline index and every audit
//! head after each block). Snapshots list the final accounts and escrows.

mod common;

use agora_contract::event::{EscrowEvent, SettleCause};
use agora_contract::{Decision, EscrowKind, EscrowStatus, Outcome, TxError};
use common::*;
use expect_test::expect;

const SINGLE: EscrowKind = EscrowKind::Single;
const BOTH: EscrowKind = EscrowKind::BothParties;
const TWO_OF_THREE: EscrowKind = EscrowKind::Arbitrators {
    required: 2,
    total: 3,
};
const ARBS: [usize; 3] = [ARB1, ARB2, ARB3];

fn timelocked(release_after_ms: u64) -> EscrowKind {
    EscrowKind::TimeLocked { release_after_ms }
}

/// The last event of escrow `n`, to check how it settled.
fn last_event(chain: &Chain, n: u8) -> EscrowEvent {
    chain.escrow_events[&escrow_id(n)].last().unwrap().1.clone()
}

// ---- one scenario per transition-table row ----

/// Row `CreateEscrow` without `fund`: the escrow is `Created` and holds nothing.
#[test]
fn create_unfunded_is_created() {
    check(
        &[1_000],
        &[step(REQUESTER, create(1, 100, SINGLE).action(), ok())],
        expect![[r#"
            requester: available=1000 locked=0 nonce=1
            escrow 1: Created held=0 amount=100
        "#]],
    );
}

/// Row `CreateEscrow` with `fund`: the escrow is `Funded` in the same transaction.
#[test]
fn create_funded_is_funded() {
    check(
        &[1_000],
        &[step(
            REQUESTER,
            create(1, 100, SINGLE).funded().action(),
            ok(),
        )],
        expect![[r#"
            requester: available=900 locked=100 nonce=1
            escrow 1: Funded held=100 amount=100
        "#]],
    );
}

/// Row `FundEscrow`: the amount moves from the requester's available into the escrow.
#[test]
fn fund_moves_amount_into_escrow() {
    check(
        &[1_000],
        &[
            step(REQUESTER, create(1, 100, SINGLE).action(), ok()),
            step(REQUESTER, fund(1), ok()),
        ],
        expect![[r#"
            requester: available=900 locked=100 nonce=2
            escrow 1: Funded held=100 amount=100
        "#]],
    );
}

/// Row `MarkCompleted`: the provider records the result; funds stay in the escrow.
#[test]
fn complete_records_result() {
    let chain = check(
        &[1_000],
        &[
            step(REQUESTER, create(1, 100, SINGLE).funded().action(), ok()),
            step(PROVIDER, complete(1), ok()),
        ],
        expect![[r#"
            requester: available=900 locked=100 nonce=1
            provider: available=0 locked=0 nonce=1
            escrow 1: Completed held=100 amount=100
        "#]],
    );
    assert_eq!(chain.escrow(escrow_id(1)).result_hash, Some([9; 32]));
}

/// Row `Approve`, kind `Single`: create, fund, complete, the requester releases; the
/// provider is paid in full.
#[test]
fn single_full_flow_release() {
    let chain = check(
        &[1_000],
        &[
            step(REQUESTER, create(1, 100, SINGLE).action(), ok()),
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
    let released = EscrowEvent::Released {
        to_provider: agora_contract::Amount(100),
        cause: SettleCause::Approval,
    };
    assert_eq!(last_event(&chain, 1), released);
}

/// Row `Approve`, kind `Single`: the provider alone may refund the requester.
#[test]
fn single_provider_refunds() {
    check(
        &[1_000],
        &[
            step(REQUESTER, create(1, 100, SINGLE).funded().action(), ok()),
            step(PROVIDER, approve(1, Decision::Refund), ok()),
        ],
        expect![[r#"
            requester: available=1000 locked=0 nonce=1
            provider: available=0 locked=0 nonce=1
            escrow 1: Refunded held=0 amount=100
        "#]],
    );
}

/// `Single` decides only against one's own interest: the requester cannot refund itself a
/// completed job and the provider cannot release to itself.
#[test]
fn single_parties_cannot_decide_in_their_own_favour() {
    check(
        &[1_000],
        &[
            step(REQUESTER, create(1, 100, SINGLE).funded().action(), ok()),
            step(PROVIDER, complete(1), ok()),
            step(
                REQUESTER,
                approve(1, Decision::Refund),
                err(TxError::DecisionNotAllowed),
            ),
            step(
                PROVIDER,
                approve(1, Decision::Release),
                err(TxError::DecisionNotAllowed),
            ),
        ],
        expect![[r#"
            requester: available=900 locked=100 nonce=2
            provider: available=0 locked=0 nonce=2
            escrow 1: Completed held=100 amount=100
        "#]],
    );
}

/// `BothParties`: the first approval changes nothing; the second, matching one executes
/// without any further call.
#[test]
fn both_parties_executes_on_second_approval() {
    let mut chain = run(
        &[1_000],
        &[
            step(REQUESTER, create(1, 100, BOTH).funded().action(), ok()),
            step(PROVIDER, complete(1), ok()),
            step(REQUESTER, approve(1, Decision::Release), ok()),
        ],
    );
    assert_eq!(chain.escrow(escrow_id(1)).status, EscrowStatus::Completed);
    chain.exec(PROVIDER, approve(1, Decision::Release)).unwrap();
    assert_eq!(chain.escrow(escrow_id(1)).status, EscrowStatus::Released);
    expect![[r#"
        requester: available=900 locked=0 nonce=2
        provider: available=100 locked=0 nonce=2
        escrow 1: Released held=0 amount=100
    "#]]
    .assert_eq(&chain.summary());
}

/// `BothParties`: differing decisions do not execute; an approver's latest approval
/// replaces its earlier one, and the matching pair then executes.
#[test]
fn both_parties_latest_approval_counts() {
    check(
        &[1_000],
        &[
            step(REQUESTER, create(1, 100, BOTH).funded().action(), ok()),
            step(REQUESTER, approve(1, Decision::Release), ok()),
            step(PROVIDER, approve(1, Decision::Refund), ok()),
            step(
                REQUESTER,
                approve(1, Decision::Release),
                err(TxError::AlreadyApproved),
            ),
            step(REQUESTER, approve(1, Decision::Refund), ok()),
        ],
        expect![[r#"
            requester: available=1000 locked=0 nonce=4
            provider: available=0 locked=0 nonce=1
            escrow 1: Refunded held=0 amount=100
        "#]],
    );
}

/// `BothParties`: completing the work clears earlier approvals.
#[test]
fn approvals_cleared_on_state_change() {
    let chain = run(
        &[1_000],
        &[
            step(REQUESTER, create(1, 100, BOTH).funded().action(), ok()),
            step(PROVIDER, approve(1, Decision::Refund), ok()),
            step(PROVIDER, complete(1), ok()),
            // Had the provider's Refund survived, this would execute a refund.
            step(REQUESTER, approve(1, Decision::Refund), ok()),
        ],
    );
    assert_eq!(chain.escrow(escrow_id(1)).status, EscrowStatus::Completed);
    assert_eq!(chain.escrow(escrow_id(1)).approvals.len(), 1);
}

/// `Arbitrators` 2-of-3: a party's approval does not count toward the threshold, one
/// arbitrator is not enough, the second arbitrator executes.
#[test]
fn arbitrators_two_of_three_parties_do_not_count() {
    let mut chain = run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, TWO_OF_THREE)
                    .arbitrators(&ARBS)
                    .funded()
                    .action(),
                ok(),
            ),
            step(PROVIDER, complete(1), ok()),
            step(REQUESTER, approve(1, Decision::Release), ok()),
            step(ARB1, approve(1, Decision::Release), ok()),
        ],
    );
    assert_eq!(chain.escrow(escrow_id(1)).status, EscrowStatus::Completed);
    chain.exec(ARB2, approve(1, Decision::Release)).unwrap();
    expect![[r#"
        requester: available=900 locked=0 nonce=2
        provider: available=100 locked=0 nonce=1
        arb1: available=0 locked=0 nonce=1
        arb2: available=0 locked=0 nonce=1
        escrow 1: Released held=0 amount=100
    "#]]
    .assert_eq(&chain.summary());
}

/// `Arbitrators`: arbitrators approving different decisions do not execute; the decision
/// two of them share does.
#[test]
fn arbitrators_need_identical_decisions() {
    check(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, TWO_OF_THREE)
                    .arbitrators(&ARBS)
                    .funded()
                    .action(),
                ok(),
            ),
            step(ARB1, approve(1, Decision::Release), ok()),
            step(ARB2, approve(1, Decision::Refund), ok()),
            step(ARB3, approve(1, Decision::Refund), ok()),
        ],
        expect![[r#"
            requester: available=1000 locked=0 nonce=1
            arb1: available=0 locked=0 nonce=1
            arb2: available=0 locked=0 nonce=1
            arb3: available=0 locked=0 nonce=1
            escrow 1: Refunded held=0 amount=100
        "#]],
    );
}

/// `Arbitrators`: both parties approving the same decision settles amicably.
#[test]
fn arbitrators_amicable_settlement() {
    check(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, TWO_OF_THREE)
                    .arbitrators(&ARBS)
                    .funded()
                    .action(),
                ok(),
            ),
            step(PROVIDER, approve(1, Decision::Refund), ok()),
            step(REQUESTER, approve(1, Decision::Refund), ok()),
        ],
        expect![[r#"
            requester: available=1000 locked=0 nonce=2
            provider: available=0 locked=0 nonce=1
            escrow 1: Refunded held=0 amount=100
        "#]],
    );
}

/// `TimeLocked`: before the release time it follows `Single`; a completed escrow is
/// released by the block hook at the first block at or after the release time.
#[test]
fn timelocked_auto_releases_completed() {
    let chain = check(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, timelocked(at(60_000))).funded().action(),
                ok(),
            ),
            step(PROVIDER, complete(1), ok()),
            Step::WaitUntil(at(59_999)),
            Step::WaitUntil(at(60_000)),
        ],
        expect![[r#"
            requester: available=900 locked=0 nonce=1
            provider: available=100 locked=0 nonce=1
            escrow 1: Released held=0 amount=100
        "#]],
    );
    let released = EscrowEvent::Released {
        to_provider: agora_contract::Amount(100),
        cause: SettleCause::TimeLock,
    };
    assert_eq!(last_event(&chain, 1), released);
}

/// `TimeLocked`: work completed after the release time is released at the next block.
#[test]
fn timelocked_completed_late_releases_next_block() {
    let mut chain = run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, timelocked(at(3_000))).funded().action(),
                ok(),
            ),
            Step::WaitUntil(at(10_000)),
            step(PROVIDER, complete(1), ok()),
        ],
    );
    assert_eq!(chain.escrow(escrow_id(1)).status, EscrowStatus::Completed);
    chain.block(BLOCK_MS, vec![]);
    assert_eq!(chain.escrow(escrow_id(1)).status, EscrowStatus::Released);
    assert_eq!(chain.available(PROVIDER), 100);
}

/// `TimeLocked`: an uncompleted escrow is not released at the release time, and is
/// refunded at its deadline.
#[test]
fn timelocked_refunds_uncompleted() {
    let mut chain = run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, timelocked(at(60_000))).funded().action(),
                ok(),
            ),
            Step::WaitUntil(at(120_000)),
        ],
    );
    assert_eq!(chain.escrow(escrow_id(1)).status, EscrowStatus::Funded);
    chain.block_at(at(3_600_000), vec![]);
    expect![[r#"
        requester: available=1000 locked=0 nonce=1
        escrow 1: Refunded held=0 amount=100
    "#]]
    .assert_eq(&chain.summary());
}

/// Row "deadline passes" from `Created`: the escrow expires; nothing was held.
#[test]
fn deadline_expires_created() {
    let chain = check(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, SINGLE).deadline(at(10_000)).action(),
                ok(),
            ),
            Step::WaitUntil(at(10_000)),
        ],
        expect![[r#"
            requester: available=1000 locked=0 nonce=1
            escrow 1: Expired held=0 amount=100
        "#]],
    );
    assert_eq!(last_event(&chain, 1), EscrowEvent::Expired);
}

/// Row "deadline passes" from `Funded`: the requester is refunded.
#[test]
fn deadline_refunds_funded() {
    let chain = check(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, SINGLE)
                    .funded()
                    .deadline(at(10_000))
                    .action(),
                ok(),
            ),
            Step::WaitUntil(at(9_999)),
            Step::WaitUntil(at(10_500)),
        ],
        expect![[r#"
            requester: available=1000 locked=0 nonce=1
            escrow 1: Refunded held=0 amount=100
        "#]],
    );
    let refunded = EscrowEvent::Refunded {
        to_requester: agora_contract::Amount(100),
        cause: SettleCause::Deadline,
    };
    assert_eq!(last_event(&chain, 1), refunded);
}

/// Row "deadline passes" from `Completed`: silence through review pays the provider.
#[test]
fn deadline_releases_completed() {
    check(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, BOTH).funded().deadline(at(10_000)).action(),
                ok(),
            ),
            step(PROVIDER, complete(1), ok()),
            Step::WaitUntil(at(10_000)),
        ],
        expect![[r#"
            requester: available=900 locked=0 nonce=1
            provider: available=100 locked=0 nonce=1
            escrow 1: Released held=0 amount=100
        "#]],
    );
}

/// Rows `RaiseDispute`, `AddEvidence` and `Resolve { Release }` with a `Single` escrow:
/// one arbitrator's vote decides.
#[test]
fn dispute_resolved_release() {
    let chain = check(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, SINGLE)
                    .arbitrators(&[ARB1])
                    .funded()
                    .action(),
                ok(),
            ),
            step(PROVIDER, complete(1), ok()),
            step(REQUESTER, dispute(1), ok()),
            step(PROVIDER, evidence(1, "bafy-provider-logs"), ok()),
            step(REQUESTER, evidence(1, "bafy-requester-reply"), ok()),
            step(ARB1, resolve(1, Outcome::Release), ok()),
        ],
        expect![[r#"
            requester: available=900 locked=0 nonce=3
            provider: available=100 locked=0 nonce=2
            arb1: available=0 locked=0 nonce=1
            escrow 1: Released held=0 amount=100
        "#]],
    );
    let escrow = chain.escrow(escrow_id(1));
    assert_eq!(escrow.dispute.unwrap().evidence.len(), 3);
}

/// Row `Resolve { Refund }` with 2-of-3 arbitrators: one arbitrator alone cannot resolve.
#[test]
fn dispute_two_of_three_one_arbitrator_cannot_resolve() {
    let mut chain = run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, TWO_OF_THREE)
                    .arbitrators(&ARBS)
                    .funded()
                    .action(),
                ok(),
            ),
            step(PROVIDER, dispute(1), ok()),
            step(ARB1, resolve(1, Outcome::Refund), ok()),
            step(ARB2, resolve(1, Outcome::Release), ok()),
        ],
    );
    assert_eq!(chain.escrow(escrow_id(1)).status, EscrowStatus::Disputed);
    chain.exec(ARB3, resolve(1, Outcome::Refund)).unwrap();
    expect![[r#"
        requester: available=1000 locked=0 nonce=1
        provider: available=0 locked=0 nonce=1
        arb1: available=0 locked=0 nonce=1
        arb2: available=0 locked=0 nonce=1
        arb3: available=0 locked=0 nonce=1
        escrow 1: Refunded held=0 amount=100
    "#]]
    .assert_eq(&chain.summary());
}

/// Row `Resolve { Split }`: the provider gets ⌊101 × 3333 / 10 000⌋ = 33, the requester
/// the remaining 68; nothing is lost to rounding.
#[test]
fn dispute_split_rounds_down_for_provider() {
    let chain = check(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 101, TWO_OF_THREE)
                    .arbitrators(&ARBS)
                    .funded()
                    .action(),
                ok(),
            ),
            step(PROVIDER, complete(1), ok()),
            step(REQUESTER, dispute(1), ok()),
            step(
                ARB1,
                resolve(
                    1,
                    Outcome::Split {
                        provider_bps: 3_333,
                    },
                ),
                ok(),
            ),
            step(
                ARB2,
                resolve(
                    1,
                    Outcome::Split {
                        provider_bps: 3_334,
                    },
                ),
                ok(),
            ),
            step(
                ARB3,
                resolve(
                    1,
                    Outcome::Split {
                        provider_bps: 3_333,
                    },
                ),
                ok(),
            ),
        ],
        expect![[r#"
            requester: available=967 locked=0 nonce=2
            provider: available=33 locked=0 nonce=1
            arb1: available=0 locked=0 nonce=1
            arb2: available=0 locked=0 nonce=1
            arb3: available=0 locked=0 nonce=1
            escrow 1: Resolved held=0 amount=101
        "#]],
    );
    let resolved = EscrowEvent::Resolved {
        to_provider: agora_contract::Amount(33),
        to_requester: agora_contract::Amount(68),
    };
    assert_eq!(last_event(&chain, 1), resolved);
}

/// Row "dispute deadline passes" from a dispute raised on `Completed`: released.
#[test]
fn dispute_times_out_release_when_completed() {
    let chain = check(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, SINGLE)
                    .arbitrators(&[ARB1])
                    .funded()
                    .action(),
                ok(),
            ),
            step(PROVIDER, complete(1), ok()),
            step(REQUESTER, dispute(1), ok()),
            // Raised at +3 s with a 600 s window: still open at +602 s, decided at +603 s.
            Step::WaitUntil(at(602_999)),
            Step::WaitUntil(at(603_000)),
        ],
        expect![[r#"
            requester: available=900 locked=0 nonce=2
            provider: available=100 locked=0 nonce=1
            escrow 1: Released held=0 amount=100
        "#]],
    );
    let released = EscrowEvent::Released {
        to_provider: agora_contract::Amount(100),
        cause: SettleCause::DisputeDeadline,
    };
    assert_eq!(last_event(&chain, 1), released);
}

/// Row "dispute deadline passes" from a dispute raised on `Funded`: refunded. The escrow
/// deadline passing during the dispute does not act.
#[test]
fn dispute_times_out_refund_when_funded() {
    let mut chain = run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, SINGLE)
                    .arbitrators(&[ARB1])
                    .funded()
                    .deadline(at(30_000))
                    .action(),
                ok(),
            ),
            step(PROVIDER, dispute(1), ok()),
            Step::WaitUntil(at(40_000)),
        ],
    );
    assert_eq!(chain.escrow(escrow_id(1)).status, EscrowStatus::Disputed);
    chain.block_at(at(602_000), vec![]);
    expect![[r#"
        requester: available=1000 locked=0 nonce=1
        provider: available=0 locked=0 nonce=1
        escrow 1: Refunded held=0 amount=100
    "#]]
    .assert_eq(&chain.summary());
}

/// Funding two escrows from a balance that covers only one: the second is rejected and
/// the balances are exact.
#[test]
fn funding_twice_from_one_balance() {
    check(
        &[150],
        &[
            step(REQUESTER, create(1, 100, SINGLE).action(), ok()),
            step(REQUESTER, create(2, 100, SINGLE).action(), ok()),
            Step::Block(vec![
                (REQUESTER, fund(1), ok()),
                (
                    REQUESTER,
                    fund(2),
                    err(TxError::InsufficientFunds {
                        available: agora_contract::Amount(50),
                        required: agora_contract::Amount(100),
                    }),
                ),
            ]),
        ],
        expect![[r#"
            requester: available=50 locked=100 nonce=4
            escrow 1: Funded held=100 amount=100
            escrow 2: Created held=0 amount=100
        "#]],
    );
}

/// A funded creation the requester cannot pay for creates nothing (all-or-nothing), but
/// the nonce is consumed.
#[test]
fn create_funded_without_funds_creates_nothing() {
    check(
        &[50],
        &[step(
            REQUESTER,
            create(1, 100, SINGLE).funded().action(),
            err(TxError::InsufficientFunds {
                available: agora_contract::Amount(50),
                required: agora_contract::Amount(100),
            }),
        )],
        expect![[r#"
            requester: available=50 locked=0 nonce=1
        "#]],
    );
}

/// Many escrows: the account view's `locked` sums every open escrow the account funded.
#[test]
fn locked_sums_open_escrows() {
    check(
        &[1_000],
        &[
            step(REQUESTER, create(1, 100, SINGLE).funded().action(), ok()),
            step(REQUESTER, create(2, 250, BOTH).funded().action(), ok()),
            step(REQUESTER, create(3, 5, SINGLE).action(), ok()),
            step(PROVIDER, approve(1, Decision::Refund), ok()),
        ],
        expect![[r#"
            requester: available=750 locked=250 nonce=3
            provider: available=0 locked=0 nonce=1
            escrow 1: Refunded held=0 amount=100
            escrow 2: Funded held=250 amount=250
            escrow 3: Created held=0 amount=5
        "#]],
    );
}
