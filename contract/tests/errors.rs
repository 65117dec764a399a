//! One scenario per `TxError` code: each provokes exactly that error through the public
//! entry points (`apply_block`, or a transition called directly where the block hook makes
//! the guard unreachable through blocks), and checks what the failure changed: envelope
//! errors change nothing, action errors consume only the nonce.

mod common;

use std::collections::BTreeSet;

use agora_contract::block::TxStatus;
use agora_contract::codec::{decode_canonical, DecodeError};
use agora_contract::context::Env;
use agora_contract::escrow::MAX_DISPUTE_WINDOW_MS;
use agora_contract::event::EventSource;
use agora_contract::state::{keys, Changes};
use agora_contract::tx::{UnsignedTx, MAX_TX_BYTES};
use agora_contract::{Amount, BlockCtx, Decision, EscrowKind, Genesis, Label, Outcome, TxError};
use common::*;

const TWO_OF_THREE: EscrowKind = EscrowKind::Arbitrators {
    required: 2,
    total: 3,
};
const ARBS: [usize; 3] = [ARB1, ARB2, ARB3];

/// Every code the error table documents; `all_codes_have_a_scenario` keeps this honest.
/// The market's codes (4xx) have their scenarios in `market.rs`.
const ALL_CODES: [u16; 46] = [
    100, 101, 102, 103, 104, 105, 106, 200, 201, 202, 203, 204, 300, 301, 302, 303, 304, 310, 311,
    312, 313, 314, 315, 320, 321, 322, 323, 324, 325, 900, 400, 401, 402, 403, 404, 405, 406, 407,
    408, 409, 410, 411, 412, 413, 414, 316,
];

/// Applies raw bytes in a block and returns the failure, asserting that the state did not
/// change at all apart from the chain head (envelope errors must not touch the nonce).
fn envelope_failure(chain: &mut Chain, bytes: Vec<u8>) -> TxError {
    let outcome = chain.block_at(chain.time_ms + BLOCK_MS, vec![bytes]);
    let receipt = &outcome.receipts[0];
    assert!(!receipt.nonce_consumed);
    let mut changed: Vec<_> = outcome.writes.keys().cloned().collect();
    changed.retain(|key| *key != keys::chain_head());
    assert!(changed.is_empty(), "envelope failure wrote {changed:?}");
    match &receipt.status {
        TxStatus::Failed(error) => error.clone(),
        TxStatus::Success => panic!("expected an envelope failure"),
    }
}

#[test]
/// 100: a transaction over 64 KiB is refused before decoding.
fn tx_too_large() {
    let mut chain = Chain::new(&[1_000]);
    let bytes = vec![0u8; MAX_TX_BYTES as usize + 1];
    let error = envelope_failure(&mut chain, bytes);
    assert_eq!(
        error,
        TxError::TxTooLarge {
            size_bytes: MAX_TX_BYTES + 1,
            max_bytes: MAX_TX_BYTES
        }
    );
}

#[test]
/// 101: bytes that are not a transaction (truncated, trailing byte) are malformed.
fn malformed() {
    let mut chain = Chain::new(&[1_000]);
    let good = chain.sign_with_nonce(REQUESTER, 0, transfer(PROVIDER, 1));
    let truncated = good[..good.len() - 1].to_vec();
    assert_eq!(envelope_failure(&mut chain, truncated), TxError::Malformed);
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(envelope_failure(&mut chain, trailing), TxError::Malformed);
    assert_eq!(chain.nonce(REQUESTER), 0);
}

#[test]
/// 102: a value that decodes but does not re-encode to the same bytes (an unsorted or
/// duplicated set) is non-canonical.
fn non_canonical() {
    let unsorted = [2u8, 0, 0, 0, 2, 1];
    assert_eq!(
        decode_canonical::<BTreeSet<u8>>(&unsorted),
        Err(DecodeError::NonCanonical)
    );
    let duplicated = [2u8, 0, 0, 0, 1, 1];
    assert_eq!(
        decode_canonical::<BTreeSet<u8>>(&duplicated),
        Err(DecodeError::NonCanonical)
    );
    let canonical = [2u8, 0, 0, 0, 1, 2];
    assert_eq!(
        decode_canonical::<BTreeSet<u8>>(&canonical),
        Ok(BTreeSet::from([1, 2]))
    );
}

#[test]
/// 103: a flipped signature byte, or a transaction signed by another key, fails strict
/// verification and changes nothing.
fn bad_signature() {
    let mut chain = Chain::new(&[1_000]);
    let mut flipped = chain.sign_with_nonce(REQUESTER, 0, transfer(PROVIDER, 1));
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(envelope_failure(&mut chain, flipped), TxError::BadSignature);
    let unsigned = UnsignedTx {
        chain_id: chain.chain_id.clone(),
        signer: chain.id(REQUESTER),
        nonce: 0,
        valid_until_height: None,
        action: transfer(PROVIDER, 1),
    };
    let forged = unsigned.sign(&dev_key(OUTSIDER)).to_bytes();
    assert_eq!(envelope_failure(&mut chain, forged), TxError::BadSignature);
    assert_eq!(chain.available(REQUESTER), 1_000);
}

#[test]
/// 104: a correctly signed transaction for another chain id.
fn wrong_chain() {
    let mut chain = Chain::new(&[1_000]);
    let unsigned = UnsignedTx {
        chain_id: Label::new("other-chain").unwrap(),
        signer: chain.id(REQUESTER),
        nonce: 0,
        valid_until_height: None,
        action: transfer(PROVIDER, 1),
    };
    let bytes = unsigned.sign(&dev_key(REQUESTER)).to_bytes();
    assert_eq!(envelope_failure(&mut chain, bytes), TxError::WrongChain);
}

#[test]
/// 105: nonces too high and too low (a replay of an included transaction) are refused
/// without consuming anything.
fn bad_nonce() {
    let mut chain = Chain::new(&[1_000]);
    let first = chain.sign_with_nonce(REQUESTER, 0, transfer(PROVIDER, 1));
    let outcome = chain.block_at(chain.time_ms + BLOCK_MS, vec![first.clone()]);
    assert_eq!(outcome.receipts[0].status, TxStatus::Success);
    let replay = envelope_failure(&mut chain, first);
    assert_eq!(
        replay,
        TxError::BadNonce {
            expected: 1,
            found: 0
        }
    );
    let ahead = chain.sign_with_nonce(REQUESTER, 5, transfer(PROVIDER, 1));
    assert_eq!(
        envelope_failure(&mut chain, ahead),
        TxError::BadNonce {
            expected: 1,
            found: 5
        }
    );
    assert_eq!(chain.available(PROVIDER), 1);
}

#[test]
/// 106: a transaction valid until a height below the block's is expired.
fn expired() {
    let mut chain = Chain::new(&[1_000]);
    let unsigned = |valid_until_height| UnsignedTx {
        chain_id: Label::new(CHAIN_ID).unwrap(),
        signer: dev_id(REQUESTER),
        nonce: 0,
        valid_until_height: Some(valid_until_height),
        action: transfer(PROVIDER, 1),
    };
    // envelope_failure applies the transaction at height 1.
    let late = unsigned(0).sign(&dev_key(REQUESTER)).to_bytes();
    assert_eq!(
        envelope_failure(&mut chain, late),
        TxError::Expired {
            valid_until_height: 0,
            height: 1
        }
    );
    // Valid through its last height, inclusive: the next block is height 2.
    let on_time = unsigned(2).sign(&dev_key(REQUESTER)).to_bytes();
    let outcome = chain.block_at(chain.time_ms + BLOCK_MS, vec![on_time]);
    assert_eq!(outcome.receipts[0].status, TxStatus::Success);
}

#[test]
/// 200: zero amounts are refused for transfers, mints and escrows; the nonce is consumed.
fn zero_amount() {
    let chain = run(
        &[1_000],
        &[
            step(REQUESTER, transfer(PROVIDER, 0), err(TxError::ZeroAmount)),
            step(MINTER, mint(PROVIDER, 0), err(TxError::ZeroAmount)),
            step(
                REQUESTER,
                create(1, 0, EscrowKind::Single).action(),
                err(TxError::ZeroAmount),
            ),
        ],
    );
    assert_eq!(chain.nonce(REQUESTER), 2);
    assert_eq!(chain.available(REQUESTER), 1_000);
}

#[test]
/// 201: a transfer above the available balance.
fn insufficient_funds() {
    let chain = run(
        &[100],
        &[step(
            REQUESTER,
            transfer(PROVIDER, 101),
            err(TxError::InsufficientFunds {
                available: Amount(100),
                required: Amount(101),
            }),
        )],
    );
    assert_eq!(chain.available(REQUESTER), 100);
    assert_eq!(chain.available(PROVIDER), 0);
}

#[test]
/// 202: transfers to oneself are refused.
fn self_transfer() {
    run(
        &[100],
        &[step(
            REQUESTER,
            transfer(REQUESTER, 1),
            err(TxError::SelfTransfer),
        )],
    );
}

#[test]
/// 203: only the mint authority mints; the minter's mint increases the supply.
fn not_mint_authority() {
    let chain = run(
        &[100],
        &[
            step(
                REQUESTER,
                mint(REQUESTER, 50),
                err(TxError::NotMintAuthority),
            ),
            step(MINTER, mint(PROVIDER, 50), ok()),
        ],
    );
    assert_eq!(chain.available(PROVIDER), 50);
    let supply = agora_contract::wallet::load_supply(&chain.state).unwrap();
    assert_eq!(supply.total_minted, Amount(150));
}

#[test]
/// 203: a chain whose genesis names no mint authority refuses every mint.
fn no_mint_authority_at_all() {
    let mut chain = Chain::new(&[100]);
    let genesis = Genesis {
        mint_authority: None,
        ..chain.genesis.clone()
    };
    chain.state = agora_contract::state::MemState::new();
    chain
        .state
        .apply(&agora_contract::init_chain(&genesis).unwrap());
    chain.genesis = genesis;
    assert_eq!(
        chain.exec(MINTER, mint(MINTER, 1)),
        Err(TxError::NotMintAuthority)
    );
}

#[test]
/// 204: minting past the largest amount overflows, with a typed error and no change.
fn arithmetic_overflow() {
    let chain = run(
        &[u64::MAX - 10],
        &[
            step(MINTER, mint(PROVIDER, 11), err(TxError::ArithmeticOverflow)),
            step(MINTER, mint(PROVIDER, 10), ok()),
        ],
    );
    assert_eq!(chain.available(PROVIDER), 10);
}

#[test]
/// 300: actions on an escrow id that does not exist.
fn not_found() {
    run(
        &[100],
        &[
            step(REQUESTER, fund(9), err(TxError::NotFound)),
            step(PROVIDER, complete(9), err(TxError::NotFound)),
            step(
                REQUESTER,
                approve(9, Decision::Release),
                err(TxError::NotFound),
            ),
            step(REQUESTER, dispute(9), err(TxError::NotFound)),
            step(REQUESTER, evidence(9, "cid"), err(TxError::NotFound)),
            step(ARB1, resolve(9, Outcome::Refund), err(TxError::NotFound)),
        ],
    );
}

#[test]
/// 301: creating an id that exists is rejected, never applied twice (retries are safe).
fn already_exists() {
    let chain = run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, EscrowKind::Single).funded().action(),
                ok(),
            ),
            step(
                REQUESTER,
                create(1, 100, EscrowKind::Single).funded().action(),
                err(TxError::AlreadyExists),
            ),
        ],
    );
    assert_eq!(chain.available(REQUESTER), 900);
}

#[test]
/// 302: actions from the wrong state — funding twice, completing unfunded work, resolving
/// an undisputed escrow, approving a settled one, adding evidence without a dispute.
fn invalid_state() {
    let state_err = |state| err(TxError::InvalidState { state });
    use agora_contract::EscrowStatus::*;
    run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, EscrowKind::Single)
                    .arbitrators(&[ARB1])
                    .action(),
                ok(),
            ),
            step(PROVIDER, complete(1), state_err(Created)),
            step(REQUESTER, approve(1, Decision::Release), state_err(Created)),
            step(REQUESTER, dispute(1), state_err(Created)),
            step(REQUESTER, fund(1), ok()),
            step(REQUESTER, fund(1), state_err(Funded)),
            step(ARB1, resolve(1, Outcome::Release), state_err(Funded)),
            step(REQUESTER, evidence(1, "cid"), state_err(Funded)),
            step(REQUESTER, approve(1, Decision::Release), ok()),
            step(PROVIDER, approve(1, Decision::Refund), state_err(Released)),
            step(PROVIDER, complete(1), state_err(Released)),
        ],
    );
}

#[test]
/// 303: the wrong signer for each action.
fn not_authorized() {
    run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, EscrowKind::Single)
                    .arbitrators(&[ARB1])
                    .action(),
                ok(),
            ),
            step(PROVIDER, fund(1), err(TxError::NotAuthorized)),
            step(REQUESTER, fund(1), ok()),
            step(REQUESTER, complete(1), err(TxError::NotAuthorized)),
            step(
                OUTSIDER,
                approve(1, Decision::Release),
                err(TxError::NotAuthorized),
            ),
            // Arbitrators approve only under the Arbitrators kind.
            step(
                ARB1,
                approve(1, Decision::Release),
                err(TxError::NotAuthorized),
            ),
            step(ARB1, dispute(1), err(TxError::NotAuthorized)),
            step(REQUESTER, dispute(1), ok()),
            step(OUTSIDER, evidence(1, "cid"), err(TxError::NotAuthorized)),
            step(
                REQUESTER,
                resolve(1, Outcome::Refund),
                err(TxError::NotAuthorized),
            ),
            step(
                OUTSIDER,
                resolve(1, Outcome::Refund),
                err(TxError::NotAuthorized),
            ),
        ],
    );
}

#[test]
/// 304: the deadline guard inside each transition. Through blocks the hook settles an
/// escrow before any transaction can see its deadline passed, so the guard is exercised by
/// calling the transitions directly with a block time at the deadline.
fn deadline_passed() {
    let chain = run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, EscrowKind::Single)
                    .deadline(at(60_000))
                    .action(),
                ok(),
            ),
            step(
                REQUESTER,
                create(2, 100, EscrowKind::Single)
                    .arbitrators(&[ARB1])
                    .funded()
                    .action(),
                ok(),
            ),
            step(REQUESTER, dispute(2), ok()),
        ],
    );
    let dispute_deadline_ms = chain.escrow(escrow_id(2)).dispute.unwrap().deadline_ms;
    let ctx = |time_ms| BlockCtx {
        chain_id: chain.chain_id.clone(),
        height: 99,
        time_ms,
        proposer: dev_id(0),
    };
    let source = EventSource::BlockHook { height: 99 };
    let late = ctx(at(60_000));
    let env = Env {
        block: &late,
        signer: dev_id(REQUESTER),
        source,
    };
    let mut changes = Changes::new(&chain.state);
    let result = agora_contract::escrow::execute_fund_escrow(&mut changes, &env, &escrow_id(1));
    assert_eq!(
        result,
        Err(TxError::DeadlinePassed {
            deadline_ms: at(60_000),
            now_ms: at(60_000)
        })
    );

    let late = ctx(dispute_deadline_ms);
    let env = Env {
        block: &late,
        signer: dev_id(ARB1),
        source,
    };
    let result = agora_contract::escrow::execute_resolve(
        &mut changes,
        &env,
        &escrow_id(2),
        Outcome::Release,
    );
    assert_eq!(
        result,
        Err(TxError::DeadlinePassed {
            deadline_ms: dispute_deadline_ms,
            now_ms: dispute_deadline_ms
        })
    );
}

#[test]
/// 310: an escrow deadline at or before the block time.
fn deadline_not_in_future() {
    run(
        &[1_000],
        &[
            // The transaction runs at genesis + 1 s.
            step(
                REQUESTER,
                create(1, 100, EscrowKind::Single)
                    .deadline(at(1_000))
                    .action(),
                err(TxError::DeadlineNotInFuture),
            ),
            step(
                REQUESTER,
                create(1, 100, EscrowKind::Single)
                    .deadline(at(2_001))
                    .action(),
                ok(),
            ),
        ],
    );
}

#[test]
/// 311: requester and provider must differ.
fn parties_not_distinct() {
    run(
        &[1_000],
        &[step(
            REQUESTER,
            create(1, 100, EscrowKind::Single)
                .provider(REQUESTER)
                .action(),
            err(TxError::PartiesNotDistinct),
        )],
    );
}

#[test]
/// 312: thresholds outside 1 ≤ required ≤ total = len(arbitrators) ≤ 16.
fn invalid_threshold() {
    let bad = |required, total, arbitrators: &[usize]| {
        let kind = EscrowKind::Arbitrators { required, total };
        step(
            REQUESTER,
            create(1, 100, kind).arbitrators(arbitrators).action(),
            err(TxError::InvalidThreshold),
        )
    };
    run(
        &[1_000],
        &[
            bad(0, 3, &ARBS),
            bad(4, 3, &ARBS),
            bad(2, 2, &ARBS),
            bad(1, 0, &[]),
            step(
                REQUESTER,
                create(1, 100, TWO_OF_THREE).arbitrators(&ARBS).action(),
                ok(),
            ),
        ],
    );
}

#[test]
/// 313: arbitrators must be distinct and not a party.
fn invalid_arbitrators() {
    let bad = |arbitrators: &[usize]| {
        step(
            REQUESTER,
            create(1, 100, EscrowKind::Single)
                .arbitrators(arbitrators)
                .action(),
            err(TxError::InvalidArbitrators),
        )
    };
    run(
        &[1_000],
        &[
            bad(&[ARB1, ARB1]),
            bad(&[ARB1, PROVIDER]),
            bad(&[REQUESTER]),
        ],
    );
}

#[test]
/// 314: a zero dispute window, or one over the maximum.
fn invalid_dispute_window() {
    let with_window = |window| {
        create(1, 100, EscrowKind::Single)
            .window(Some(window))
            .action()
    };
    run(
        &[1_000],
        &[
            step(
                REQUESTER,
                with_window(0),
                err(TxError::InvalidDisputeWindow),
            ),
            step(
                REQUESTER,
                with_window(MAX_DISPUTE_WINDOW_MS + 1),
                err(TxError::InvalidDisputeWindow),
            ),
            step(REQUESTER, with_window(MAX_DISPUTE_WINDOW_MS), ok()),
        ],
    );
}

#[test]
/// 315: a time lock's release time must be after the block time and before the deadline.
fn invalid_release_time() {
    let locked = |release_after_ms| {
        create(1, 100, EscrowKind::TimeLocked { release_after_ms })
            .deadline(at(60_000))
            .action()
    };
    run(
        &[1_000],
        &[
            step(
                REQUESTER,
                locked(at(1_000)),
                err(TxError::InvalidReleaseTime),
            ),
            step(
                REQUESTER,
                locked(at(60_000)),
                err(TxError::InvalidReleaseTime),
            ),
            step(REQUESTER, locked(at(59_999)), ok()),
        ],
    );
}

#[test]
/// 320: under `Single` rules a party decides only against its own interest.
fn decision_not_allowed() {
    run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, EscrowKind::Single).funded().action(),
                ok(),
            ),
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
    );
}

#[test]
/// 321: repeating the same approval is refused (nothing can be farmed by repetition).
fn already_approved() {
    run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, EscrowKind::BothParties).funded().action(),
                ok(),
            ),
            step(REQUESTER, approve(1, Decision::Release), ok()),
            step(
                REQUESTER,
                approve(1, Decision::Release),
                err(TxError::AlreadyApproved),
            ),
        ],
    );
}

#[test]
/// 322: an escrow without arbitrators cannot be disputed.
fn no_arbitrators() {
    run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, EscrowKind::Single).funded().action(),
                ok(),
            ),
            step(PROVIDER, dispute(1), err(TxError::NoArbitrators)),
        ],
    );
}

#[test]
/// 323: a dispute holds at most 16 evidence entries.
fn evidence_full() {
    let mut steps = vec![
        step(
            REQUESTER,
            create(1, 100, EscrowKind::Single)
                .arbitrators(&[ARB1])
                .funded()
                .action(),
            ok(),
        ),
        step(REQUESTER, dispute(1), ok()),
    ];
    for n in 1..16 {
        steps.push(step(PROVIDER, evidence(1, &format!("cid-{n}")), ok()));
    }
    steps.push(step(
        REQUESTER,
        evidence(1, "one-too-many"),
        err(TxError::EvidenceFull),
    ));
    let chain = run(&[1_000], &steps);
    assert_eq!(
        chain.escrow(escrow_id(1)).dispute.unwrap().evidence.len(),
        16
    );
}

#[test]
/// 324: a split above 10 000 bps.
fn invalid_split() {
    run(
        &[1_000],
        &[
            step(
                REQUESTER,
                create(1, 100, EscrowKind::Single)
                    .arbitrators(&[ARB1])
                    .funded()
                    .action(),
                ok(),
            ),
            step(REQUESTER, dispute(1), ok()),
            step(
                ARB1,
                resolve(
                    1,
                    Outcome::Split {
                        provider_bps: 10_001,
                    },
                ),
                err(TxError::InvalidSplit {
                    provider_bps: 10_001,
                }),
            ),
            step(
                ARB1,
                resolve(
                    1,
                    Outcome::Split {
                        provider_bps: 10_000,
                    },
                ),
                ok(),
            ),
        ],
    );
}

#[test]
/// 325: an arbitrator repeating its vote is refused; changing it is allowed.
fn already_voted() {
    run(
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
            step(REQUESTER, dispute(1), ok()),
            step(ARB1, resolve(1, Outcome::Refund), ok()),
            step(
                ARB1,
                resolve(1, Outcome::Refund),
                err(TxError::AlreadyVoted),
            ),
            step(ARB1, resolve(1, Outcome::Release), ok()),
        ],
    );
}

#[test]
/// 900: a stored value that does not decode is reported, not trusted or panicked on.
fn state_corrupt() {
    let mut chain = run(
        &[1_000],
        &[step(
            REQUESTER,
            create(1, 100, EscrowKind::Single).action(),
            ok(),
        )],
    );
    let mut writes = agora_contract::state::WriteSet::new();
    writes.insert(keys::escrow(&escrow_id(1)), Some(vec![0xde, 0xad]));
    chain.state.apply(&writes);
    let tx = chain.sign_with_nonce(REQUESTER, 1, fund(1));
    let ctx = BlockCtx {
        chain_id: chain.chain_id.clone(),
        height: chain.height + 1,
        time_ms: chain.time_ms + 1,
        proposer: dev_id(0),
    };
    let outcome = agora_contract::apply_block(&chain.state, &ctx, &[tx]).unwrap();
    assert_eq!(
        outcome.receipts[0].status,
        TxStatus::Failed(TxError::StateCorrupt)
    );
}

#[test]
/// The table of codes is complete: every code above is distinct and matches `code()`.
fn all_codes_have_a_scenario() {
    let distinct: BTreeSet<u16> = ALL_CODES.iter().copied().collect();
    assert_eq!(distinct.len(), ALL_CODES.len());
    let sample = [
        TxError::TxTooLarge {
            size_bytes: 0,
            max_bytes: 0,
        },
        TxError::Malformed,
        TxError::NonCanonical,
        TxError::BadSignature,
        TxError::WrongChain,
        TxError::BadNonce {
            expected: 0,
            found: 0,
        },
        TxError::Expired {
            valid_until_height: 0,
            height: 0,
        },
        TxError::ZeroAmount,
        TxError::InsufficientFunds {
            available: Amount(0),
            required: Amount(0),
        },
        TxError::SelfTransfer,
        TxError::NotMintAuthority,
        TxError::ArithmeticOverflow,
        TxError::NotFound,
        TxError::AlreadyExists,
        TxError::InvalidState {
            state: agora_contract::EscrowStatus::Created,
        },
        TxError::NotAuthorized,
        TxError::DeadlinePassed {
            deadline_ms: 0,
            now_ms: 0,
        },
        TxError::DeadlineNotInFuture,
        TxError::PartiesNotDistinct,
        TxError::InvalidThreshold,
        TxError::InvalidArbitrators,
        TxError::InvalidDisputeWindow,
        TxError::InvalidReleaseTime,
        TxError::DecisionNotAllowed,
        TxError::AlreadyApproved,
        TxError::NoArbitrators,
        TxError::EvidenceFull,
        TxError::InvalidSplit { provider_bps: 0 },
        TxError::AlreadyVoted,
        TxError::StateCorrupt,
        TxError::NotRegistered,
        TxError::MissingCapability,
        TxError::ReputationTooLow {
            score: 0,
            required: 0,
        },
        TxError::AskAboveBid {
            ask: Amount(0),
            bid: Amount(0),
        },
        TxError::NotOpen,
        TxError::AlreadyAssigned,
        TxError::InvalidLabels,
        TxError::InvalidWindow,
        TxError::PriceRoundsToZero,
        TxError::SelfDealing,
        TxError::ZeroUnits,
        TxError::InvalidSla,
        TxError::WrongAssignmentStatus {
            status: agora_contract::market::AssignmentStatus::Assigned,
        },
        TxError::NotOnAllowList,
        TxError::InvalidPrivacy,
        TxError::ReservedId,
    ];
    let codes: Vec<u16> = sample.iter().map(TxError::code).collect();
    assert_eq!(codes, ALL_CODES.to_vec());
    let names: BTreeSet<&str> = sample.iter().map(TxError::name).collect();
    assert_eq!(names.len(), sample.len());
    assert!(sample.iter().all(|e| e.is_envelope() == (e.code() < 200)));
}

#[test]
/// A failed action leaves every balance and object as it was, and consumes the nonce.
fn failed_action_consumes_only_the_nonce() {
    let mut chain = Chain::new(&[1_000]);
    let before = chain.view(REQUESTER);
    let error = chain
        .exec(REQUESTER, transfer(PROVIDER, 5_000))
        .unwrap_err();
    assert_eq!(error.code(), 201);
    let after = chain.view(REQUESTER);
    assert_eq!(after.available, before.available);
    assert_eq!(after.nonce, before.nonce + 1);
    assert_eq!(chain.view(PROVIDER), Default::default());
}

#[test]
/// 316: version-8 UUIDs are reserved for chain-derived ids (assignments), so a client
/// cannot occupy an assignment's escrow id in advance.
fn reserved_id() {
    let squatter_id = agora_contract::market::assignment_id(&escrow_id(7), &dev_id(PROVIDER));
    assert_eq!(squatter_id.get_version_num(), 8);
    let mut squat = create(1, 1, EscrowKind::Single);
    squat.id = squatter_id;
    run(
        &[1_000],
        &[
            step(REQUESTER, squat.action(), err(TxError::ReservedId)),
            step(REQUESTER, create(1, 1, EscrowKind::Single).action(), ok()),
        ],
    );
}
