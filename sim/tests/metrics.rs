//! The report's metric definitions (docs/simulation.md) checked on small records whose
//! figures are computed by hand.

use agora_sim::metrics::{
    coefficient_of_variation, match_rate, percentile, price_convergence, report,
    reputation_premium, sla_compliance, vwap, window_start,
};
use agora_sim::records::{AssignmentRecord, Outcome, RequestRecord, Settlement};
use agora_sim::SimConfig;

fn request(units: u64, units_assigned: u64, posted: bool) -> RequestRecord {
    RequestRecord {
        units,
        units_assigned,
        posted,
        ..RequestRecord::default()
    }
}

fn assignment(id: &str, score: u16, ask: u64, price: u64, units: u64) -> AssignmentRecord {
    AssignmentRecord {
        id: id.into(),
        score_at_assignment: score,
        ask_per_unit: ask,
        price_per_unit: price,
        units,
        cost: price * units,
        ..AssignmentRecord::default()
    }
}

fn settled(status: &str, penalty: u64) -> Option<Settlement> {
    Some(Settlement {
        status: status.into(),
        penalty_charged: penalty,
        violations: u8::from(status == "SlaViolated"),
        ..Settlement::default()
    })
}

fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a value");
    assert!(
        (actual - expected).abs() < 1e-9,
        "{actual} is not {expected}"
    );
}

/// A failed post counts its units as requested and none as assigned.
#[test]
fn match_rate_counts_failed_posts_as_unmatched() {
    let requests = [
        request(100, 100, true),
        request(50, 0, false),
        request(50, 25, true),
    ];
    close(match_rate(&requests), 125.0 / 200.0);
    assert_eq!(match_rate(&[]), None);
}

/// Prices 10, 20, 30: mean 20, population standard deviation √(200/3) = 8.1650, CV
/// 0.40825, convergence 1 / 1.40825 = 0.71010. Equal prices converge fully.
#[test]
fn price_convergence_is_one_over_one_plus_the_coefficient_of_variation() {
    close(
        coefficient_of_variation(&[10.0, 20.0, 30.0]),
        (200.0f64 / 3.0).sqrt() / 20.0,
    );
    close(
        price_convergence(&[10.0, 20.0, 30.0]),
        1.0 / (1.0 + (200.0f64 / 3.0).sqrt() / 20.0),
    );
    close(price_convergence(&[100.0, 100.0]), 1.0);
    assert_eq!(price_convergence(&[]), None);
}

/// 1 unit at 10 and 3 units at 20: (10 + 60) / 4 = 17.5.
#[test]
fn vwap_weights_prices_by_units() {
    let trades = [assignment("a", 0, 10, 10, 1), assignment("b", 0, 20, 20, 3)];
    close(vwap(&trades), 17.5);
    assert_eq!(vwap(&[]), None);
}

/// Two `Completed` of four settled (the unsettled one does not count) = 0.5.
#[test]
fn sla_compliance_is_completed_over_all_settled() {
    let mut list: Vec<AssignmentRecord> = (0..5)
        .map(|i| assignment(&i.to_string(), 0, 1, 1, 1))
        .collect();
    list[0].settlement = settled("Completed", 0);
    list[1].settlement = settled("Completed", 0);
    list[2].settlement = settled("SlaViolated", 1);
    list[3].settlement = settled("DisputeSettled", 0);
    close(sla_compliance(&list), 0.5);
    assert_eq!(sla_compliance(&list[4..]), None);
}

/// Eleven assignments: the top decile is ⌈11 / 10⌉ = 2 (scores 300 and 250, price ÷ ask
/// 2.0 and 1.5, mean 1.75); the other nine have 1.0; premium 1.75 / 1.0 − 1 = 0.75.
#[test]
fn reputation_premium_compares_the_top_decile_with_the_rest() {
    let mut list = vec![
        assignment("x", 300, 100, 200, 1),
        assignment("y", 250, 100, 150, 1),
    ];
    list.extend((0..9).map(|i| assignment(&format!("r{i}"), 100, 100, 100, 1)));
    let premium = reputation_premium(&list).unwrap();
    assert_eq!((premium.top_count, premium.rest_count), (2, 9));
    assert_eq!(premium.top_min_score, 250);
    close(Some(premium.top_mean_price_over_ask), 1.75);
    close(Some(premium.rest_mean_price_over_ask), 1.0);
    close(Some(premium.premium), 0.75);
}

/// With ten assignments the top decile is one; a tie on score goes to the lower id.
#[test]
fn reputation_ties_break_by_assignment_id() {
    let mut list = vec![
        assignment("b", 200, 100, 100, 1),
        assignment("a", 200, 100, 200, 1),
    ];
    list.extend((0..8).map(|i| assignment(&format!("r{i}"), 50, 100, 50, 1)));
    let premium = reputation_premium(&list).unwrap();
    assert_eq!(premium.top_count, 1);
    close(Some(premium.top_mean_price_over_ask), 2.0);
    // rest: "b" at 1.0 and eight at 0.5 → 5.0 / 9.
    close(Some(premium.rest_mean_price_over_ask), 5.0 / 9.0);
    assert_eq!(reputation_premium(&list[..1]), None);
}

#[test]
fn percentiles_are_nearest_rank_and_the_window_is_the_last_quarter() {
    let values: Vec<f64> = (1..=10).map(f64::from).collect();
    assert_eq!(percentile(&values, 50.0), Some(5.0));
    assert_eq!(percentile(&values, 90.0), Some(9.0));
    assert_eq!(percentile(&values, 100.0), Some(10.0));
    assert_eq!(percentile(&values, 0.0), Some(1.0));
    assert_eq!(percentile(&[], 50.0), None);
    assert_eq!(window_start(240), 180);
    assert_eq!(window_start(3), 2);
    assert_eq!(window_start(1), 0);
}

/// The report over a hand-made run: penalties, disputes, time to assignment and the
/// book's share come out as computed here.
#[test]
fn the_report_sums_penalties_disputes_and_waiting_times() {
    let mut a = assignment("a", 50, 10, 5, 10); // cost 50
    a.settlement = settled("SlaViolated", 20);
    a.from_offer = true;
    let mut b = assignment("b", 50, 10, 5, 30); // cost 150
    b.settlement = Some(Settlement {
        status: "DisputeSettled".into(),
        disputed: true,
        escrow_status: "Resolved".into(),
        ..Settlement::default()
    });
    b.request_created_at_ms = 1_000;
    b.assigned_at_ms = 61_000;
    let outcome = Outcome {
        config: SimConfig {
            rounds: 4,
            ..SimConfig::default()
        },
        requests: vec![request(40, 40, true), request(60, 0, false)],
        assignments: vec![a, b],
        population_cost: vec![None; 5],
        ..Outcome::default()
    };
    let report = report(&outcome);
    close(report.match_rate, 0.4);
    assert_eq!(report.penalties.total_charged, 20);
    assert_eq!(report.penalties.settled_cost, 200);
    close(report.penalties.share_of_cost, 0.1);
    assert_eq!(report.penalties.assignments_penalised, 1);
    assert_eq!((report.disputes.raised, report.disputes.split), (1, 1));
    close(report.sla.compliance, 0.0);
    close(report.time_to_assignment.mean_s, 30.0);
    close(report.time_to_assignment.at_posting_share, 0.5);
    close(report.liquidity.book_fill_share, 10.0 / 40.0);
    close(Some(report.liquidity.mean_units_requested_per_round), 25.0);
}
