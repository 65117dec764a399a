//! Market scenarios (SPEC §6): matching resting offers, splitting requests across
//! providers, capacity, closing, qualification gates, the reputation premium capped by the
//! bid, and price discovery over hourly buckets. Each runs through the harness, which
//! checks supply, reservations, over-fill and the deadline index after every block.

mod common;

use agora_contract::market::prices::{price_stats, HOUR_MS};
use agora_contract::market::privacy::{Privacy, Sealed};
use agora_contract::market::{assignment_id, load_assignment, Provider, Sla, TaskSpec};
use agora_contract::state::{keys, WriteSet};
use agora_contract::{Action, Amount, BoundedVec, Label, PostRequest, TxError, Uuid};
use common::*;
use expect_test::expect;

const P2: usize = 7;
const P3: usize = 8;
const P4: usize = 9;
const P5: usize = 10;

fn label(text: &str) -> Label {
    Label::new(text).unwrap()
}

fn labels<const N: u32>(texts: &[&str]) -> BoundedVec<Label, N> {
    BoundedVec::new(texts.iter().map(|t| label(t)).collect()).unwrap()
}

fn object_id(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn register(capabilities: &[&str]) -> Action {
    Action::RegisterProvider {
        capabilities: labels(capabilities),
    }
}

fn offer(n: u8, ask: u64, capacity_units: u64) -> Action {
    Action::PostOffer {
        id: object_id(n),
        task_types: labels(&["render"]),
        ask_per_unit: Amount(ask),
        capacity_units,
        expires_at_ms: at(3_600_000),
    }
}

fn spec(capabilities: &[&str], min_reputation: Option<u16>) -> TaskSpec {
    TaskSpec {
        task_type: label("render"),
        capabilities: labels(capabilities),
        min_reputation,
        max_duration_ms: 600_000,
    }
}

fn request_with(n: u8, bid: u64, units: u64, spec: TaskSpec) -> Action {
    Action::PostRequest(PostRequest {
        id: object_id(n),
        spec,
        bid_per_unit: Amount(bid),
        units,
        window_ms: None,
        arbitrators: BoundedVec::new(vec![dev_id(ARB1)]).unwrap(),
        sla: lenient_sla(),
        privacy: public(),
    })
}

/// A public request with a small clear payload.
fn public() -> Privacy {
    Privacy::Public {
        payload: BoundedVec::new(b"render frames 1-100".to_vec()).unwrap(),
    }
}

/// SLA terms no well-behaved provider violates: 60 s to start, 500 s to finish, no quality
/// minimums, review for an hour.
fn lenient_sla() -> Sla {
    Sla {
        max_response_ms: 60_000,
        max_duration_ms: 500_000,
        quality_min: BoundedVec::empty(),
        penalty: Amount(0),
        review_window_ms: 3_600_000,
    }
}

fn request(n: u8, bid: u64, units: u64) -> Action {
    request_with(n, bid, units, spec(&[], None))
}

fn accept(n: u8, ask: u64) -> Action {
    Action::AcceptRequest {
        request_id: object_id(n),
        ask_per_unit: Amount(ask),
    }
}

/// Sets a provider's reputation score directly in state (the market's reputation events
/// arrive with the SLA work; these scenarios need scores other than the initial 50).
fn set_score(chain: &mut Chain, who: usize, score: u16) {
    let key = keys::provider(&chain.id(who));
    let mut provider: Provider = borsh::from_slice(&chain.state.entries()[&key]).unwrap();
    provider.score = score;
    let mut writes = WriteSet::new();
    writes.insert(key, Some(borsh::to_vec(&provider).unwrap()));
    chain.state.apply(&writes);
}

/// The price per unit and units of `who`'s assignment on request `n`.
fn assignment_of(chain: &Chain, n: u8, who: usize) -> (u64, u64) {
    let id = assignment_id(&object_id(n), &chain.id(who));
    let assignment = load_assignment(&chain.state, &id).unwrap();
    (assignment.price_per_unit.0, assignment.units)
}

/// A resting offer is matched the moment a fitting request is posted; the requester gets
/// (bid − price) × units back at once and the assignment's escrow holds price × units.
#[test]
fn resting_offer_matched_by_new_request() {
    let chain = check(
        &[10_000],
        &[
            step(PROVIDER, register(&["gpu"]), ok()),
            step(PROVIDER, offer(1, 20, 1_000), ok()),
            // 50 units at bid 30: reserve 1 500; a score-50 provider (0.5×) asking 20 is
            // paid ⌊20 × 0.5⌋ = 10, so 500 goes to the escrow and 1 000 comes back.
            step(
                REQUESTER,
                request_with(2, 30, 50, spec(&["gpu"], None)),
                ok(),
            ),
        ],
        expect![[r#"
            requester: available=9500 locked=500 nonce=1
            provider: available=0 locked=0 nonce=2
            request 2: Filled assigned=50/50 reserved=0 providers=1
            offer 1: Open capacity=950 ask=20
            escrow 198: Funded held=500 amount=500
        "#]],
    );
    assert_eq!(assignment_of(&chain, 2, PROVIDER), (10, 50));
}

/// Offers are matched lowest ask first, then oldest; an offer asking above the bid is
/// never matched.
#[test]
fn offers_matched_lowest_ask_then_oldest() {
    let chain = run(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(P2, register(&[]), ok()),
            step(P3, register(&[]), ok()),
            step(P4, register(&[]), ok()),
            step(PROVIDER, offer(1, 12, 1_000), ok()),
            step(P2, offer(2, 10, 1_000), ok()),
            step(P3, offer(3, 10, 1_000), ok()),
            step(P4, offer(4, 31, 1_000), ok()),
            // 200 units → 2 providers of 100: P2 (ask 10, older) then P3 (ask 10, newer).
            step(REQUESTER, request(5, 30, 200), ok()),
        ],
    );
    assert_eq!(assignment_of(&chain, 5, P2), (5, 100));
    assert_eq!(assignment_of(&chain, 5, P3), (5, 100));
    let unmatched = assignment_id(&object_id(5), &chain.id(PROVIDER));
    assert_eq!(
        load_assignment(&chain.state, &unmatched),
        Err(TxError::NotFound)
    );
}

/// 500 units: max_providers = 5 and share = 100; five providers each take exactly 100,
/// a sixth is refused, nothing is over-filled.
#[test]
fn request_of_500_units_split_across_five_providers() {
    let providers = [PROVIDER, P2, P3, P4, P5];
    let mut steps: Vec<Step> = providers
        .iter()
        .map(|p| step(*p, register(&[]), ok()))
        .collect();
    steps.push(step(OUTSIDER, register(&[]), ok()));
    steps.push(step(REQUESTER, request(1, 10, 500), ok()));
    for provider in providers {
        steps.push(step(provider, accept(1, 8), ok()));
    }
    steps.push(step(OUTSIDER, accept(1, 8), err(TxError::NotOpen)));
    let chain = check(
        &[100_000],
        &steps,
        expect![[r#"
            requester: available=98000 locked=2000 nonce=1
            provider: available=0 locked=0 nonce=2
            outsider: available=0 locked=0 nonce=2
            p2: available=0 locked=0 nonce=2
            p3: available=0 locked=0 nonce=2
            p4: available=0 locked=0 nonce=2
            p5: available=0 locked=0 nonce=2
            request 1: Filled assigned=500/500 reserved=0 providers=5
            escrow 32: Funded held=400 amount=400
            escrow 83: Funded held=400 amount=400
            escrow 163: Funded held=400 amount=400
            escrow 187: Funded held=400 amount=400
            escrow 227: Funded held=400 amount=400
        "#]],
    );
    for provider in providers {
        assert_eq!(assignment_of(&chain, 1, provider), (4, 100));
    }
}

/// A provider accepting twice on one request is refused: one slice per provider.
#[test]
fn one_slice_per_provider() {
    run(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(REQUESTER, request(1, 10, 500), ok()),
            step(PROVIDER, accept(1, 8), ok()),
            step(PROVIDER, accept(1, 8), err(TxError::AlreadyAssigned)),
        ],
    );
}

/// An offer with capacity 150 is never assigned more than 150 units across requests, and
/// leaves the book when exhausted.
#[test]
fn offer_capacity_never_exceeded() {
    let chain = check(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(PROVIDER, offer(1, 10, 150), ok()),
            step(REQUESTER, request(2, 20, 100), ok()),
            step(REQUESTER, request(3, 20, 100), ok()),
            step(REQUESTER, request(4, 20, 100), ok()),
        ],
        expect![[r#"
            requester: available=97250 locked=2750 nonce=3
            provider: available=0 locked=0 nonce=2
            request 2: Filled assigned=100/100 reserved=0 providers=1
            request 3: Filled assigned=50/100 reserved=0 providers=1
            request 4: Open assigned=0/100 reserved=2000 providers=0
            offer 1: Exhausted capacity=0 ask=10
            escrow 79: Funded held=250 amount=250
            escrow 198: Funded held=500 amount=500
        "#]],
    );
    assert_eq!(
        assignment_of(&chain, 2, PROVIDER).1 + assignment_of(&chain, 3, PROVIDER).1,
        150
    );
}

/// A cancelled request refunds its reservation and is never matched again; nor is a
/// filled one.
#[test]
fn cancelled_or_closed_request_never_matched() {
    check(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(P2, register(&[]), ok()),
            step(REQUESTER, request(1, 10, 100), ok()),
            step(REQUESTER, Action::CancelRequest { id: object_id(1) }, ok()),
            step(PROVIDER, accept(1, 8), err(TxError::NotOpen)),
            step(PROVIDER, offer(2, 5, 500), ok()),
            step(REQUESTER, request(3, 10, 50), ok()),
            step(P2, accept(3, 5), err(TxError::NotOpen)),
            step(
                REQUESTER,
                Action::CancelRequest { id: object_id(3) },
                err(TxError::NotOpen),
            ),
        ],
        expect![[r#"
            requester: available=99900 locked=100 nonce=4
            provider: available=0 locked=0 nonce=3
            p2: available=0 locked=0 nonce=2
            request 1: Cancelled assigned=0/100 reserved=0 providers=0
            request 3: Filled assigned=50/50 reserved=0 providers=1
            offer 2: Open capacity=450 ask=5
            escrow 79: Funded held=100 amount=100
        "#]],
    );
}

/// The window closes in the block hook: unassigned units are refunded, and a later accept
/// is refused.
#[test]
fn window_closes_in_block_hook_with_refund() {
    let chain = check(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(P2, register(&[]), ok()),
            step(REQUESTER, request(1, 10, 300), ok()),
            step(PROVIDER, accept(1, 10), ok()),
            // Posted at +3 s with the default 15 min window. The provider never starts:
            // at its delivery deadline (600 s after assignment) the assignment fails and
            // its escrow is refunded, before the window closes.
            Step::WaitUntil(at(3_000 + 15 * 60 * 1000)),
            step(P2, accept(1, 10), err(TxError::NotOpen)),
        ],
        expect![[r#"
            requester: available=100000 locked=0 nonce=1
            provider: available=0 locked=0 nonce=2
            p2: available=0 locked=0 nonce=2
            request 1: Expired assigned=100/300 reserved=0 providers=1
            escrow 32: Refunded held=0 amount=500
        "#]],
    );
    assert_eq!(
        chain.requests()[0].status,
        agora_contract::market::RequestStatus::Expired
    );
}

/// A 2.0× provider (score 200) earns a premium, capped at the bid; a 0.5× newcomer
/// (score 50) is paid half its ask.
#[test]
fn reputation_premium_capped_by_bid_and_newcomer_discount() {
    let mut chain = run(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(P2, register(&[]), ok()),
            step(P3, register(&[]), ok()),
        ],
    );
    set_score(&mut chain, PROVIDER, 200);
    set_score(&mut chain, P3, 200);
    chain.exec(REQUESTER, request(1, 30, 300)).unwrap();
    chain.exec(PROVIDER, accept(1, 12)).unwrap(); // 12 × 2.0 = 24 ≤ 30
    chain.exec(P3, accept(1, 20)).unwrap(); // 20 × 2.0 = 40, capped at 30
    chain.exec(P2, accept(1, 20)).unwrap(); // newcomer: 20 × 0.5 = 10
    assert_eq!(assignment_of(&chain, 1, PROVIDER), (24, 100));
    assert_eq!(assignment_of(&chain, 1, P3), (30, 100));
    assert_eq!(assignment_of(&chain, 1, P2), (10, 100));
}

/// The reputation gate: a provider below `min_reputation` is refused, and one at it
/// accepted.
#[test]
fn min_reputation_gate() {
    let mut chain = run(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(P2, register(&[]), ok()),
        ],
    );
    set_score(&mut chain, P2, 120);
    chain
        .exec(REQUESTER, request_with(1, 10, 200, spec(&[], Some(120))))
        .unwrap();
    let refused = chain.exec(PROVIDER, accept(1, 5));
    assert_eq!(
        refused,
        Err(TxError::ReputationTooLow {
            score: 50,
            required: 120
        })
    );
    chain.exec(P2, accept(1, 5)).unwrap();
}

/// The capability gate: every required capability is needed, in resting offers too.
#[test]
fn capability_gate() {
    let chain = check(
        &[100_000],
        &[
            step(PROVIDER, register(&["cpu"]), ok()),
            step(P2, register(&["cpu", "gpu"]), ok()),
            step(PROVIDER, offer(1, 5, 500), ok()),
            step(
                REQUESTER,
                request_with(2, 10, 200, spec(&["cpu", "gpu"], None)),
                ok(),
            ),
            step(PROVIDER, accept(2, 5), err(TxError::MissingCapability)),
            step(P2, accept(2, 5), ok()),
        ],
        expect![[r#"
            requester: available=98800 locked=1200 nonce=1
            provider: available=0 locked=0 nonce=3
            p2: available=0 locked=0 nonce=2
            request 2: Open assigned=100/200 reserved=1000 providers=1
            offer 1: Open capacity=500 ask=5
            escrow 197: Funded held=200 amount=200
        "#]],
    );
    assert_eq!(chain.offers()[0].capacity_units, 500);
}

/// Asks above the bid and self-dealing are refused; an unregistered account cannot accept.
#[test]
fn acceptance_rules() {
    run(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(REQUESTER, register(&[]), ok()),
            step(REQUESTER, request(1, 10, 200), ok()),
            step(
                PROVIDER,
                accept(1, 11),
                err(TxError::AskAboveBid {
                    ask: Amount(11),
                    bid: Amount(10),
                }),
            ),
            step(REQUESTER, accept(1, 5), err(TxError::SelfDealing)),
            step(OUTSIDER, accept(1, 5), err(TxError::NotRegistered)),
            step(PROVIDER, accept(1, 1), err(TxError::PriceRoundsToZero)),
            step(PROVIDER, accept(1, 2), ok()),
        ],
    );
}

/// Offers expire in the block hook and leave the book; a cancelled offer is not matched.
#[test]
fn offers_expire_and_cancel() {
    check(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(P2, register(&[]), ok()),
            step(PROVIDER, offer(1, 5, 100), ok()),
            step(P2, offer(2, 5, 100), ok()),
            step(P2, Action::CancelOffer { id: object_id(2) }, ok()),
            step(
                PROVIDER,
                Action::CancelOffer { id: object_id(2) },
                err(TxError::NotAuthorized),
            ),
            Step::WaitUntil(at(3_600_000)),
            step(REQUESTER, request(3, 10, 100), ok()),
        ],
        expect![[r#"
            requester: available=99000 locked=1000 nonce=1
            provider: available=0 locked=0 nonce=3
            p2: available=0 locked=0 nonce=3
            request 3: Open assigned=0/100 reserved=1000 providers=0
            offer 1: Expired capacity=100 ask=5
            offer 2: Cancelled capacity=100 ask=5
        "#]],
    );
}

/// Price discovery: VWAP, mean, min, max, volume and count over the trailing 24 hourly
/// buckets; an assignment counts through the 23rd hour after its own and drops out at
/// the 24th; an empty window reports none.
#[test]
fn vwap_over_hourly_buckets_with_24h_edge() {
    let mut chain = run(
        &[1_000_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(P2, register(&[]), ok()),
        ],
    );
    let render = label("render");
    assert_eq!(
        price_stats(&chain.state, &render, chain.time_ms).unwrap(),
        None
    );
    // Hour H: 100 units at 5 (ask 10 × 0.5).
    chain.exec(REQUESTER, request(1, 10, 100)).unwrap();
    chain.exec(PROVIDER, accept(1, 10)).unwrap();
    let first_hour = chain.time_ms / HOUR_MS;
    // Two hours later: 300 units at 9 (ask 18 × 0.5), over three requests.
    chain.block_at((first_hour + 2) * HOUR_MS, vec![]);
    chain.exec(REQUESTER, request(2, 20, 300)).unwrap();
    chain.exec(PROVIDER, accept(2, 18)).unwrap();
    chain.exec(P2, accept(2, 18)).unwrap();
    let stats = price_stats(&chain.state, &render, chain.time_ms)
        .unwrap()
        .unwrap();
    // VWAP = ⌊(100×5 + 100×9 + 100×9) / 300⌋ = ⌊2300 / 300⌋ = 7; mean = ⌊23 / 3⌋ = 7.
    expect![[r#"
        PriceStats { vwap: Amount(7), mean_price: Amount(7), min_price: Amount(5), max_price: Amount(9), volume_units: 300, count: 3 }"#]]
    .assert_eq(&format!("{stats:?}"));
    // Last millisecond of hour H+23: the first hour still counts.
    let edge_ms = (first_hour + 24) * HOUR_MS - 1;
    let stats = price_stats(&chain.state, &render, edge_ms)
        .unwrap()
        .unwrap();
    assert_eq!((stats.count, stats.min_price), (3, Amount(5)));
    // Hour H+24: it has dropped out.
    let stats = price_stats(&chain.state, &render, edge_ms + 1)
        .unwrap()
        .unwrap();
    assert_eq!(
        (stats.count, stats.vwap, stats.min_price),
        (2, Amount(9), Amount(9))
    );
    // Hour H+26: nothing left in the window.
    let later_ms = (first_hour + 26) * HOUR_MS;
    assert_eq!(price_stats(&chain.state, &render, later_ms).unwrap(), None);
}

/// Market error codes from posting: zero units, zero bid, unsorted labels, bad window,
/// duplicate ids, unregistered offers.
#[test]
fn posting_errors() {
    let unsorted = TaskSpec {
        capabilities: labels(&["gpu", "cpu"]),
        ..spec(&[], None)
    };
    let with_window = |window_ms| {
        Action::PostRequest(PostRequest {
            id: object_id(9),
            spec: spec(&[], None),
            bid_per_unit: Amount(1),
            units: 1,
            window_ms: Some(window_ms),
            arbitrators: BoundedVec::empty(),
            sla: lenient_sla(),
            privacy: public(),
        })
    };
    let with_sla = |sla| {
        Action::PostRequest(PostRequest {
            id: object_id(9),
            spec: spec(&[], None),
            bid_per_unit: Amount(1),
            units: 1,
            window_ms: None,
            arbitrators: BoundedVec::empty(),
            sla,
            privacy: public(),
        })
    };
    let unsorted_metrics = || {
        let metric = |name: &str| agora_contract::market::QualityMin {
            metric: label(name),
            min_bps: 1,
        };
        Sla {
            quality_min: BoundedVec::new(vec![metric("speed"), metric("accuracy")]).unwrap(),
            ..lenient_sla()
        }
    };
    run(
        &[100_000],
        &[
            step(OUTSIDER, offer(1, 5, 10), err(TxError::NotRegistered)),
            step(
                PROVIDER,
                register(&["gpu", "cpu"]),
                err(TxError::InvalidLabels),
            ),
            step(PROVIDER, register(&["cpu"]), ok()),
            step(PROVIDER, register(&["gpu"]), err(TxError::AlreadyExists)),
            step(PROVIDER, offer(1, 0, 10), err(TxError::ZeroAmount)),
            step(PROVIDER, offer(1, 5, 0), err(TxError::ZeroUnits)),
            step(PROVIDER, offer(1, 5, 10), ok()),
            step(PROVIDER, offer(1, 5, 10), err(TxError::AlreadyExists)),
            step(REQUESTER, request(2, 10, 0), err(TxError::ZeroUnits)),
            step(REQUESTER, request(2, 0, 10), err(TxError::ZeroAmount)),
            step(
                REQUESTER,
                request_with(2, 10, 10, unsorted),
                err(TxError::InvalidLabels),
            ),
            step(REQUESTER, with_window(0), err(TxError::InvalidWindow)),
            step(
                REQUESTER,
                with_window(24 * HOUR_MS + 1),
                err(TxError::InvalidWindow),
            ),
            step(
                REQUESTER,
                with_sla(Sla {
                    review_window_ms: 0,
                    ..lenient_sla()
                }),
                err(TxError::InvalidSla),
            ),
            // The task allows 600 s; 60 s response + 540 001 ms work exceeds it.
            step(
                REQUESTER,
                with_sla(Sla {
                    max_duration_ms: 540_001,
                    ..lenient_sla()
                }),
                err(TxError::InvalidSla),
            ),
            step(
                REQUESTER,
                with_sla(unsorted_metrics()),
                err(TxError::InvalidSla),
            ),
            step(
                REQUESTER,
                request(2, u64::MAX, 2),
                err(TxError::ArithmeticOverflow),
            ),
            step(
                REQUESTER,
                request(2, 1_000, 1_000),
                err(TxError::InsufficientFunds {
                    available: Amount(100_000),
                    required: Amount(1_000_000),
                }),
            ),
        ],
    );
}

// ---- execution and SLA ----

const ACCURACY_MIN_BPS: u16 = 8_000;

/// 60 s to start, 500 s to work, accuracy ≥ 80 %, `penalty` per violation, 1 h review.
fn strict_sla(penalty: u64) -> Sla {
    Sla {
        max_response_ms: 60_000,
        max_duration_ms: 500_000,
        quality_min: BoundedVec::new(vec![agora_contract::market::QualityMin {
            metric: label("accuracy"),
            min_bps: ACCURACY_MIN_BPS,
        }])
        .unwrap(),
        penalty: Amount(penalty),
        review_window_ms: 3_600_000,
    }
}

fn accuracy(score_bps: u16) -> Action {
    let scores = vec![agora_contract::market::QualityScore {
        metric: label("accuracy"),
        score_bps,
    }];
    Action::RateResult {
        assignment_id: assignment_id(&object_id(1), &dev_id(PROVIDER)),
        scores: BoundedVec::new(scores).unwrap(),
    }
}

fn start() -> Action {
    Action::StartTask {
        assignment_id: assignment_id(&object_id(1), &dev_id(PROVIDER)),
    }
}

fn submit() -> Action {
    Action::SubmitResult {
        assignment_id: assignment_id(&object_id(1), &dev_id(PROVIDER)),
        result_hash: [3; 32],
    }
}

/// A 100-unit request at bid 10 under `sla`, accepted by PROVIDER at ask 10 (score 50, so
/// price 5 and cost 500); the provider starts `start_after_ms` after assignment and
/// submits `work_ms` later; the requester rates with `rating` or stays silent until the
/// review window ends. Returns the chain after settlement.
fn sla_flow(sla: Sla, start_after_ms: u64, work_ms: u64, rating: Option<u16>) -> Chain {
    let mut chain = run(&[100_000], &[step(PROVIDER, register(&[]), ok())]);
    let post = Action::PostRequest(PostRequest {
        id: object_id(1),
        spec: spec(&[], None),
        bid_per_unit: Amount(10),
        units: 100,
        window_ms: None,
        arbitrators: BoundedVec::new(vec![dev_id(ARB1)]).unwrap(),
        sla,
        privacy: public(),
    });
    chain.exec(REQUESTER, post).unwrap();
    chain.exec(PROVIDER, accept(1, 10)).unwrap();
    let assigned_ms = chain.time_ms;
    let outcome = chain.block_at(assigned_ms + start_after_ms, vec![]);
    assert!(outcome.receipts.is_empty());
    chain.exec(PROVIDER, start()).unwrap();
    let started_ms = chain.time_ms;
    chain.block_at(started_ms + work_ms - BLOCK_MS, vec![]);
    chain.exec(PROVIDER, submit()).unwrap();
    let submitted_ms = chain.time_ms;
    match rating {
        Some(score_bps) => {
            chain.exec(REQUESTER, accuracy(score_bps)).unwrap();
        }
        None => {
            chain.block_at(submitted_ms + 3_600_000, vec![]);
        }
    }
    chain
}

/// The settled assignment's status, violations and penalty, the provider's payout and
/// score, and the requester's balance.
fn settlement(chain: &Chain) -> String {
    let id = assignment_id(&object_id(1), &chain.id(PROVIDER));
    let assignment = load_assignment(&chain.state, &id).unwrap();
    let key = keys::provider(&chain.id(PROVIDER));
    let provider: Provider = borsh::from_slice(&chain.state.entries()[&key]).unwrap();
    format!(
        "{:?} violations={} penalty={} provider_paid={} requester_available={} score={}",
        assignment.status,
        assignment.violations,
        assignment.penalty_charged,
        chain.available(PROVIDER),
        chain.available(REQUESTER),
        provider.score
    )
}

/// Within the SLA and silent through review: paid in full when the review window ends;
/// score 50 + 10 (completed) + 2 (response under 60 s).
#[test]
fn sla_met_silence_pays_in_full_at_review_end() {
    let chain = sla_flow(strict_sla(100), 2_000, 100_000, None);
    expect![[
        r#"Completed violations=0 penalty=0 provider_paid=500 requester_available=99500 score=62"#
    ]]
    .assert_eq(&settlement(&chain));
}

/// Rated above the minimum: settles at once with no penalty.
#[test]
fn sla_met_rating_settles_at_once() {
    let chain = sla_flow(strict_sla(100), 2_000, 100_000, Some(9_000));
    expect![[
        r#"Completed violations=0 penalty=0 provider_paid=500 requester_available=99500 score=62"#
    ]]
    .assert_eq(&settlement(&chain));
}

/// A late start (90 s > 60 s) is one violation: the penalty of 100 goes back to the
/// requester; score 50 − 20.
#[test]
fn sla_late_start_charges_penalty() {
    let chain = sla_flow(strict_sla(100), 90_000, 100_000, None);
    expect![[r#"SlaViolated violations=1 penalty=100 provider_paid=400 requester_available=99600 score=30"#]]
        .assert_eq(&settlement(&chain));
}

/// A late finish (501 s > 500 s) is one violation.
#[test]
fn sla_late_finish_charges_penalty() {
    let chain = sla_flow(strict_sla(100), 2_000, 501_000, None);
    expect![[r#"SlaViolated violations=1 penalty=100 provider_paid=400 requester_available=99600 score=32"#]]
        .assert_eq(&settlement(&chain));
}

/// A quality score below its minimum is one violation.
#[test]
fn sla_low_quality_charges_penalty() {
    let chain = sla_flow(strict_sla(100), 2_000, 100_000, Some(ACCURACY_MIN_BPS - 1));
    expect![[r#"SlaViolated violations=1 penalty=100 provider_paid=400 requester_available=99600 score=32"#]]
        .assert_eq(&settlement(&chain));
}

/// Three violations at 400 each would be 1 200: the penalty is capped at the cost (500),
/// so the whole escrow goes back to the requester.
#[test]
fn sla_penalty_capped_at_cost() {
    let chain = sla_flow(strict_sla(400), 90_000, 501_000, Some(0));
    expect![[r#"SlaViolated violations=3 penalty=500 provider_paid=0 requester_available=100000 score=30"#]]
        .assert_eq(&settlement(&chain));
    let id = assignment_id(&object_id(1), &chain.id(PROVIDER));
    assert_eq!(
        chain.escrow(id).status,
        agora_contract::EscrowStatus::Refunded
    );
}

/// Settlement happens once: submitting or rating again is refused and the score does not
/// move again.
#[test]
fn repeated_completion_or_rating_changes_nothing() {
    let mut chain = sla_flow(strict_sla(100), 2_000, 100_000, Some(9_000));
    let before = settlement(&chain);
    let status = agora_contract::market::AssignmentStatus::Completed;
    assert_eq!(
        chain.exec(PROVIDER, submit()),
        Err(TxError::WrongAssignmentStatus { status })
    );
    assert_eq!(
        chain.exec(REQUESTER, accuracy(9_000)),
        Err(TxError::WrongAssignmentStatus { status })
    );
    assert_eq!(
        chain.exec(PROVIDER, start()),
        Err(TxError::WrongAssignmentStatus { status })
    );
    chain.block(10_000_000, vec![]);
    assert_eq!(settlement(&chain), before);
}

/// Work never submitted by the delivery deadline is refunded in full; score 50 − 20.
#[test]
fn never_delivered_is_refunded() {
    let mut chain = run(&[100_000], &[step(PROVIDER, register(&[]), ok())]);
    chain.exec(REQUESTER, request(1, 10, 100)).unwrap();
    chain.exec(PROVIDER, accept(1, 10)).unwrap();
    let assigned_ms = chain.time_ms;
    chain.exec(PROVIDER, start()).unwrap();
    chain.block_at(assigned_ms + 599_999, vec![]);
    let id = assignment_id(&object_id(1), &chain.id(PROVIDER));
    assert!(!load_assignment(&chain.state, &id)
        .unwrap()
        .status
        .is_settled());
    chain.block_at(assigned_ms + 600_000, vec![]);
    expect![[r#"SlaViolated violations=1 penalty=500 provider_paid=0 requester_available=100000 score=32"#]]
        .assert_eq(&settlement(&chain));
}

/// The parties cannot settle an assignment's escrow around the SLA: `MarkCompleted` and
/// `Approve` are refused; only the market's settlement pays it.
#[test]
fn assignment_escrow_is_settled_only_by_the_market() {
    let mut chain = run(&[100_000], &[step(PROVIDER, register(&[]), ok())]);
    chain.exec(REQUESTER, request(1, 10, 100)).unwrap();
    chain.exec(PROVIDER, accept(1, 10)).unwrap();
    let id = assignment_id(&object_id(1), &chain.id(PROVIDER));
    let approve = Action::Approve {
        id,
        decision: agora_contract::Decision::Release,
    };
    assert_eq!(chain.exec(REQUESTER, approve), Err(TxError::NotAuthorized));
    let complete = Action::MarkCompleted {
        id,
        result_hash: [1; 32],
    };
    assert_eq!(chain.exec(PROVIDER, complete), Err(TxError::NotAuthorized));
}

/// A disputed assignment waits for its dispute: the arbitrator's refund decides the money,
/// rating is refused meanwhile, and the provider loses 25 for the lost dispute.
#[test]
fn disputed_assignment_settles_by_dispute() {
    let mut chain = run(&[100_000], &[step(PROVIDER, register(&[]), ok())]);
    chain.exec(REQUESTER, request(1, 10, 100)).unwrap();
    chain.exec(PROVIDER, accept(1, 10)).unwrap();
    chain.exec(PROVIDER, start()).unwrap();
    chain.exec(PROVIDER, submit()).unwrap();
    let id = assignment_id(&object_id(1), &chain.id(PROVIDER));
    let raise = Action::RaiseDispute {
        id,
        reason_hash: [4; 32],
        evidence: BoundedVec::empty(),
    };
    chain.exec(REQUESTER, raise).unwrap();
    let disputed = agora_contract::EscrowStatus::Disputed;
    assert_eq!(
        chain.exec(REQUESTER, accuracy(9_000)),
        Err(TxError::InvalidState { state: disputed })
    );
    let refund = Action::Resolve {
        id,
        outcome: agora_contract::Outcome::Refund,
    };
    chain.exec(ARB1, refund).unwrap();
    // The review window ends; the assignment sees the settled dispute.
    chain.block(3_600_000, vec![]);
    expect![[r#"DisputeSettled violations=0 penalty=0 provider_paid=0 requester_available=100000 score=25"#]]
        .assert_eq(&settlement(&chain));
}

// ---- privacy levels ----

fn sealed_for(who: &[usize]) -> Privacy {
    let mut recipients: Vec<Sealed> = who
        .iter()
        .map(|w| Sealed {
            provider: dev_id(*w),
            ciphertext: BoundedVec::new(vec![0xab; 64]).unwrap(),
        })
        .collect();
    recipients.sort_by_key(|sealed| sealed.provider);
    Privacy::Private {
        recipients: BoundedVec::new(recipients).unwrap(),
    }
}

fn request_private(n: u8, privacy: Privacy, min_reputation: Option<u16>) -> Action {
    Action::PostRequest(PostRequest {
        id: object_id(n),
        spec: spec(&[], min_reputation),
        bid_per_unit: Amount(10),
        units: 300,
        window_ms: None,
        arbitrators: BoundedVec::empty(),
        sla: lenient_sla(),
        privacy,
    })
}

/// `Private`: only allow-listed providers take slices, by acceptance or from the book;
/// the allow-list must be sorted, distinct and exclude the requester.
#[test]
fn private_request_admits_only_its_allow_list() {
    let mut unsorted = sealed_for(&[PROVIDER, P2]);
    if let Privacy::Private { recipients } = &mut unsorted {
        let mut list = recipients.clone().into_vec();
        list.reverse();
        *recipients = BoundedVec::new(list).unwrap();
    }
    check(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(P2, register(&[]), ok()),
            step(P3, register(&[]), ok()),
            step(P3, offer(1, 5, 1_000), ok()),
            step(
                REQUESTER,
                request_private(2, unsorted, None),
                err(TxError::InvalidPrivacy),
            ),
            step(
                REQUESTER,
                request_private(2, sealed_for(&[REQUESTER]), None),
                err(TxError::InvalidPrivacy),
            ),
            // P3's cheap resting offer is passed over: P3 is not on the list.
            step(
                REQUESTER,
                request_private(2, sealed_for(&[PROVIDER, P2]), None),
                ok(),
            ),
            step(P3, accept(2, 5), err(TxError::NotOnAllowList)),
            step(PROVIDER, accept(2, 5), ok()),
            step(P2, accept(2, 5), ok()),
        ],
        expect![[r#"
            requester: available=98600 locked=1400 nonce=3
            provider: available=0 locked=0 nonce=2
            p2: available=0 locked=0 nonce=2
            p3: available=0 locked=0 nonce=3
            request 2: Open assigned=200/300 reserved=1000 providers=2
            offer 1: Open capacity=1000 ask=5
            escrow 197: Funded held=200 amount=200
            escrow 198: Funded held=200 amount=200
        "#]],
    );
}

/// `Confidential`: needs a reputation gate; after assignment the requester delivers the
/// payload to the assigned provider once; nobody else can, and not for other levels.
#[test]
fn confidential_request_delivers_payload_after_assignment() {
    let commitment = agora_contract::ids::sha256(&[b"secret task"]);
    let confidential = || Privacy::Confidential { commitment };
    let mut chain = run(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(
                REQUESTER,
                request_private(1, confidential(), None),
                err(TxError::InvalidPrivacy),
            ),
            step(
                REQUESTER,
                request_private(1, confidential(), Some(40)),
                ok(),
            ),
            step(PROVIDER, accept(1, 10), ok()),
            step(REQUESTER, request(2, 10, 100), ok()),
            step(PROVIDER, accept(2, 10), ok()),
        ],
    );
    let id = assignment_id(&object_id(1), &chain.id(PROVIDER));
    let deliver = |assignment_id| Action::DeliverPayload {
        assignment_id,
        ciphertext: BoundedVec::new(vec![0xcd; 96]).unwrap(),
    };
    assert_eq!(
        chain.exec(PROVIDER, deliver(id)),
        Err(TxError::NotAuthorized)
    );
    chain.exec(REQUESTER, deliver(id)).unwrap();
    assert_eq!(
        chain.exec(REQUESTER, deliver(id)),
        Err(TxError::AlreadyExists)
    );
    let public_assignment = assignment_id(&object_id(2), &chain.id(PROVIDER));
    assert_eq!(
        chain.exec(REQUESTER, deliver(public_assignment)),
        Err(TxError::InvalidPrivacy)
    );
    let stored = &chain.state.entries()[&keys::delivered_payload(&id)];
    let sealed: Sealed = borsh::from_slice(stored).unwrap();
    assert_eq!(sealed.provider, chain.id(PROVIDER));
    assert_eq!(sealed.ciphertext.len(), 96);
}

/// A provider cannot take a slice of a request it would arbitrate, by acceptance or from
/// the book: it would sit on its own escrow's arbitrator list.
#[test]
fn arbitrator_cannot_serve_the_request() {
    check(
        &[100_000],
        &[
            step(ARB1, register(&[]), ok()),
            step(ARB1, offer(1, 5, 1_000), ok()),
            // `request` lists ARB1 as the arbitrator: its cheap offer is passed over.
            step(REQUESTER, request(2, 10, 100), ok()),
            step(ARB1, accept(2, 5), err(TxError::SelfDealing)),
        ],
        expect![[r#"
            requester: available=99000 locked=1000 nonce=1
            arb1: available=0 locked=0 nonce=3
            request 2: Open assigned=0/100 reserved=1000 providers=0
            offer 1: Open capacity=1000 ask=5
        "#]],
    );
}

/// Client-chosen offer and request ids may not be version-8 UUIDs (reserved for
/// assignment ids).
#[test]
fn reserved_ids_refused_for_offers_and_requests() {
    let reserved = assignment_id(&object_id(3), &dev_id(PROVIDER));
    let reserved_offer = Action::PostOffer {
        id: reserved,
        task_types: labels(&["render"]),
        ask_per_unit: Amount(5),
        capacity_units: 10,
        expires_at_ms: at(3_600_000),
    };
    let Action::PostRequest(mut post) = request(4, 10, 100) else {
        unreachable!()
    };
    post.id = reserved;
    run(
        &[100_000],
        &[
            step(PROVIDER, register(&[]), ok()),
            step(PROVIDER, reserved_offer, err(TxError::ReservedId)),
            step(
                REQUESTER,
                Action::PostRequest(post),
                err(TxError::ReservedId),
            ),
        ],
    );
}
