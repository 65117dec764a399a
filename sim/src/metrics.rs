//! The report's figures, as pure functions over the run's records (docs/simulation.md
//! gives the same definitions in prose). Nothing here reads the chain or the agents'
//! intentions: the inputs are the request, assignment and settlement records copied from
//! chain state, plus the agents' true costs where a figure compares prices with costs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::TASK_TYPES;
use crate::records::{AssignmentRecord, Outcome, RequestRecord};
use crate::ROUND_MS;

/// Units assigned ÷ units requested, over every request an agent tried to post; a post
/// that failed counts its units as requested and none as assigned. `None` if nothing was
/// requested.
pub fn match_rate(requests: &[RequestRecord]) -> Option<f64> {
    let requested: u64 = requests.iter().map(|r| r.units).sum();
    let assigned: u64 = requests.iter().map(|r| r.units_assigned).sum();
    (requested > 0).then(|| assigned as f64 / requested as f64)
}

/// Population standard deviation ÷ mean; `None` for no values or a zero mean.
pub fn coefficient_of_variation(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    Some(variance.sqrt() / mean)
}

/// Price convergence = 1 / (1 + coefficient of variation of the prices): 1 when every
/// price is equal, towards 0 as they scatter.
pub fn price_convergence(prices: &[f64]) -> Option<f64> {
    coefficient_of_variation(prices).map(|cv| 1.0 / (1.0 + cv))
}

/// Σ(price × units) ÷ Σ units over the assignments (unrounded, unlike the contract's
/// floor); `None` for no units.
pub fn vwap<'a>(assignments: impl IntoIterator<Item = &'a AssignmentRecord>) -> Option<f64> {
    let (notional, units) = assignments
        .into_iter()
        .fold((0.0, 0u64), |(notional, units), a| {
            (
                notional + a.price_per_unit as f64 * a.units as f64,
                units + a.units,
            )
        });
    (units > 0).then(|| notional / units as f64)
}

/// Σ(true cost × units) ÷ Σ units: what the providers who did the work paid for it.
pub fn served_cost<'a>(assignments: impl IntoIterator<Item = &'a AssignmentRecord>) -> Option<f64> {
    let (total, units) = assignments
        .into_iter()
        .fold((0.0, 0u64), |(total, units), a| {
            (
                total + a.true_cost_per_unit * a.units as f64,
                units + a.units,
            )
        });
    (units > 0).then(|| total / units as f64)
}

/// Settled `Completed` ÷ all settled (`Completed`, `SlaViolated`, `DisputeSettled`), from
/// the contract's own evaluation; `None` if nothing settled.
pub fn sla_compliance<'a>(
    assignments: impl IntoIterator<Item = &'a AssignmentRecord>,
) -> Option<f64> {
    let (completed, settled) = assignments
        .into_iter()
        .filter_map(|a| a.settlement.as_ref())
        .fold((0u64, 0u64), |(completed, settled), s| {
            (completed + u64::from(s.status == "Completed"), settled + 1)
        });
    (settled > 0).then(|| completed as f64 / settled as f64)
}

/// The top reputation decile against the rest.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Premium {
    /// Assignments in the top decile and in the rest.
    pub top_count: usize,
    pub rest_count: usize,
    /// Lowest score in the top decile.
    pub top_min_score: u16,
    /// Mean of price ÷ ask in each group.
    pub top_mean_price_over_ask: f64,
    pub rest_mean_price_over_ask: f64,
    /// top ÷ rest − 1.
    pub premium: f64,
}

/// Reputation premium: assignments ranked by the provider's score at assignment (highest
/// first, ties by assignment id), the first ⌈n / 10⌉ are the top decile; the premium is
/// the top decile's mean price ÷ ask over the rest's, minus one. `None` with fewer than two
/// assignments.
pub fn reputation_premium(assignments: &[AssignmentRecord]) -> Option<Premium> {
    premium_by(assignments, |a| {
        (a.ask_per_unit > 0).then(|| a.price_per_unit as f64 / a.ask_per_unit as f64)
    })
}

/// The same ranking with price ÷ the run's VWAP of the assignment's task type: whether
/// top providers are paid more per unit than the market, not just more than they ask.
pub fn reputation_premium_vs_vwap(assignments: &[AssignmentRecord]) -> Option<Premium> {
    let vwaps: Vec<Option<f64>> = (0..TASK_TYPES.len())
        .map(|task| vwap(assignments.iter().filter(|a| a.task_type == task)))
        .collect();
    premium_by(assignments, |a| {
        let market = vwaps.get(a.task_type).copied().flatten()?;
        (market > 0.0).then(|| a.price_per_unit as f64 / market)
    })
}

fn premium_by(
    assignments: &[AssignmentRecord],
    ratio: impl Fn(&AssignmentRecord) -> Option<f64>,
) -> Option<Premium> {
    let mut ranked: Vec<(u16, &str, f64)> = assignments
        .iter()
        .filter_map(|a| ratio(a).map(|r| (a.score_at_assignment, a.id.as_str(), r)))
        .collect();
    if ranked.len() < 2 {
        return None;
    }
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let top_count = ranked.len().div_ceil(10);
    let (top, rest) = ranked.split_at(top_count);
    let mean = |group: &[(u16, &str, f64)]| {
        group.iter().map(|(_, _, r)| r).sum::<f64>() / group.len() as f64
    };
    let (top_mean, rest_mean) = (mean(top), mean(rest));
    Some(Premium {
        top_count,
        rest_count: rest.len(),
        top_min_score: top.last().map_or(0, |t| t.0),
        top_mean_price_over_ask: top_mean,
        rest_mean_price_over_ask: rest_mean,
        premium: top_mean / rest_mean - 1.0,
    })
}

/// Nearest-rank percentile (`p` in 0..=100) of unsorted values; `None` if empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// The first round of the trailing window that convergence and cost tracking use: the
/// last quarter of the posting rounds (at least one round).
pub fn window_start(rounds: u32) -> u32 {
    rounds.saturating_sub((rounds / 4).max(1))
}

// ---- the report -----------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskReport {
    pub task_type: &'static str,
    pub assignments: usize,
    pub units: u64,
    /// Over assignments made in the window.
    pub window_assignments: usize,
    pub window_vwap: Option<f64>,
    pub window_price_cv: Option<f64>,
    pub price_convergence: Option<f64>,
    /// The contract's trailing 24 h VWAP after the last block.
    pub chain_vwap_24h: Option<u64>,
    /// Mean true cost of every provider able to serve the type.
    pub population_cost: Option<f64>,
    /// Unit-weighted true cost of the providers who served the window's assignments.
    pub window_served_cost: Option<f64>,
    /// window VWAP ÷ served cost, and ÷ population cost.
    pub vwap_over_served_cost: Option<f64>,
    pub vwap_over_population_cost: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlaReport {
    pub settled: u64,
    pub completed: u64,
    pub sla_violated: u64,
    pub dispute_settled: u64,
    pub compliance: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiquidityReport {
    /// Mean over market rounds of the open resting-offer capacity, all task types.
    pub mean_book_depth_units: f64,
    /// Mean units requested per posting round.
    pub mean_units_requested_per_round: f64,
    /// Book depth ÷ units requested per round.
    pub depth_over_demand: Option<f64>,
    /// Share of assigned units that came from resting offers at posting.
    pub book_fill_share: Option<f64>,
    /// `AcceptRequest` transactions and the share that failed (lost the race, window
    /// closed, …).
    pub accept_attempts: u64,
    pub accept_failed_share: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeToAssignment {
    pub assignments: usize,
    pub mean_s: Option<f64>,
    pub p50_s: Option<f64>,
    pub p90_s: Option<f64>,
    /// Share assigned in the posting block (time 0: matched from the book).
    pub at_posting_share: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PenaltyReport {
    pub total_charged: u64,
    /// Σ cost of the settled assignments.
    pub settled_cost: u64,
    pub share_of_cost: Option<f64>,
    pub assignments_penalised: u64,
    pub violations: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DisputeReport {
    pub raised: u64,
    pub released: u64,
    pub refunded: u64,
    pub split: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderEconomics {
    /// Share of assignments paid below the provider's true cost per unit.
    pub below_cost_share: Option<f64>,
    /// Σ(price − true cost) × units ÷ Σ true cost × units, before penalties.
    pub markup_over_cost: Option<f64>,
    /// Share of assignments whose provider scored below 100 (multiplier below 1.0×).
    pub below_score_100_share: Option<f64>,
    /// Share of assignments whose price equals the bid: the bid, not the ask × m, set it.
    pub bid_bound_share: Option<f64>,
    /// Of the assignments paid below true cost, the share whose provider scored below 100.
    pub below_cost_from_score_below_100: Option<f64>,
}

/// Rounds in the trailing windows of the rolling series.
pub const ROLLING_ROUNDS: u32 = 10;

/// Per-round series for the plots. The rolling series are ratios of sums over the
/// trailing `ROLLING_ROUNDS` rounds (not means of the per-round ratios).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Series {
    pub round: Vec<u32>,
    /// By posting round.
    pub match_rate: Vec<Option<f64>>,
    pub match_rate_rolling: Vec<Option<f64>>,
    /// By settlement round.
    pub sla_compliance: Vec<Option<f64>>,
    pub sla_compliance_rolling: Vec<Option<f64>>,
    /// The contract's 24 h VWAP after each round, per task type.
    pub chain_vwap: Vec<Vec<Option<u64>>>,
    /// VWAP of the assignments made in the trailing window, per task type.
    pub vwap_rolling: Vec<Vec<Option<f64>>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub seed: u64,
    pub rounds: u32,
    pub round_ms: u64,
    pub requesters: u32,
    pub providers: u32,
    pub drain_rounds: u32,
    pub final_height: u64,
    pub final_state_root: String,
    pub tx_digest: String,
    pub transactions: u64,
    pub transactions_failed: u64,
    /// Failed transactions by action, then by the contract's error name.
    pub failures: BTreeMap<String, BTreeMap<String, u64>>,
    pub requests_attempted: usize,
    pub requests_posted: usize,
    pub units_requested: u64,
    pub units_assigned: u64,
    pub match_rate: Option<f64>,
    /// Match rate of the requests of each privacy level: public, private, confidential.
    pub match_rate_by_privacy: BTreeMap<String, Option<f64>>,
    pub window_start_round: u32,
    pub tasks: Vec<TaskReport>,
    pub sla: SlaReport,
    pub reputation_premium: Option<Premium>,
    pub reputation_premium_vs_vwap: Option<Premium>,
    pub liquidity: LiquidityReport,
    pub time_to_assignment: TimeToAssignment,
    pub penalties: PenaltyReport,
    pub disputes: DisputeReport,
    pub provider_economics: ProviderEconomics,
    pub unsettled_assignments: u64,
    pub open_requests: u64,
    pub payload_failures: u64,
    pub series: Series,
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// Every figure of the report, from a run's records.
pub fn report(outcome: &Outcome) -> Report {
    let config = &outcome.config;
    let assignments = &outcome.assignments;
    let start = window_start(config.rounds);
    let tasks = (0..TASK_TYPES.len())
        .map(|task| task_report(outcome, task, start))
        .collect();
    let settled: Vec<_> = assignments
        .iter()
        .filter_map(|a| a.settlement.as_ref())
        .collect();
    let count = |status: &str| settled.iter().filter(|s| s.status == status).count() as u64;
    let disputed: Vec<_> = settled.iter().filter(|s| s.disputed).collect();
    let escrow_count = |status: &str| {
        disputed
            .iter()
            .filter(|s| s.escrow_status == status)
            .count() as u64
    };
    let total_charged: u64 = settled.iter().map(|s| s.penalty_charged).sum();
    let settled_cost: u64 = assignments
        .iter()
        .filter(|a| a.settlement.is_some())
        .map(|a| a.cost)
        .sum();
    let units_requested: u64 = outcome.requests.iter().map(|r| r.units).sum();
    let units_assigned: u64 = outcome.requests.iter().map(|r| r.units_assigned).sum();
    let (transactions, transactions_failed) =
        outcome.txs.values().fold((0, 0), |(all, failed), tally| {
            (
                all + tally.submitted,
                failed + tally.submitted - tally.succeeded,
            )
        });
    Report {
        seed: config.seed,
        rounds: config.rounds,
        round_ms: ROUND_MS,
        requesters: config.requesters,
        providers: config.providers,
        drain_rounds: outcome.drain_rounds,
        final_height: outcome.final_height,
        final_state_root: outcome.final_state_root.clone(),
        tx_digest: outcome.tx_digest.clone(),
        transactions,
        transactions_failed,
        failures: outcome
            .txs
            .iter()
            .filter(|(_, tally)| !tally.failed.is_empty())
            .map(|(action, tally)| (action.clone(), tally.failed.clone()))
            .collect(),
        requests_attempted: outcome.requests.len(),
        requests_posted: outcome.requests.iter().filter(|r| r.posted).count(),
        units_requested,
        units_assigned,
        match_rate: match_rate(&outcome.requests),
        match_rate_by_privacy: ["public", "private", "confidential"]
            .iter()
            .map(|level| {
                let of_level: Vec<RequestRecord> = outcome
                    .requests
                    .iter()
                    .filter(|r| r.privacy == *level)
                    .cloned()
                    .collect();
                (level.to_string(), match_rate(&of_level))
            })
            .collect(),
        window_start_round: start,
        tasks,
        sla: SlaReport {
            settled: settled.len() as u64,
            completed: count("Completed"),
            sla_violated: count("SlaViolated"),
            dispute_settled: count("DisputeSettled"),
            compliance: sla_compliance(assignments),
        },
        reputation_premium: reputation_premium(assignments),
        reputation_premium_vs_vwap: reputation_premium_vs_vwap(assignments),
        liquidity: liquidity(outcome),
        time_to_assignment: time_to_assignment(assignments),
        penalties: PenaltyReport {
            total_charged,
            settled_cost,
            share_of_cost: ratio(total_charged as f64, settled_cost as f64),
            assignments_penalised: settled.iter().filter(|s| s.penalty_charged > 0).count() as u64,
            violations: settled.iter().map(|s| u64::from(s.violations)).sum(),
        },
        disputes: DisputeReport {
            raised: disputed.len() as u64,
            released: escrow_count("Released"),
            refunded: escrow_count("Refunded"),
            split: escrow_count("Resolved"),
        },
        provider_economics: provider_economics(assignments),
        unsettled_assignments: outcome.unsettled_assignments,
        open_requests: outcome.open_requests,
        payload_failures: outcome.payload_failures,
        series: series(outcome),
    }
}

fn task_report(outcome: &Outcome, task: usize, start: u32) -> TaskReport {
    let of_task: Vec<&AssignmentRecord> = outcome
        .assignments
        .iter()
        .filter(|a| a.task_type == task)
        .collect();
    let window: Vec<&AssignmentRecord> = of_task
        .iter()
        .copied()
        .filter(|a| a.assigned_round >= start)
        .collect();
    let prices: Vec<f64> = window.iter().map(|a| a.price_per_unit as f64).collect();
    let window_vwap = vwap(window.iter().copied());
    let served = served_cost(window.iter().copied());
    let population = outcome.population_cost.get(task).copied().flatten();
    let over = |cost: Option<f64>| window_vwap.zip(cost).and_then(|(v, c)| ratio(v, c));
    TaskReport {
        task_type: TASK_TYPES[task].name,
        assignments: of_task.len(),
        units: of_task.iter().map(|a| a.units).sum(),
        window_assignments: window.len(),
        window_vwap,
        window_price_cv: coefficient_of_variation(&prices),
        price_convergence: price_convergence(&prices),
        chain_vwap_24h: outcome
            .rounds
            .last()
            .and_then(|r| r.vwap.get(task).copied().flatten()),
        population_cost: population,
        window_served_cost: served,
        vwap_over_served_cost: over(served),
        vwap_over_population_cost: over(population),
    }
}

fn liquidity(outcome: &Outcome) -> LiquidityReport {
    let market_rounds: Vec<_> = outcome
        .rounds
        .iter()
        .filter(|r| r.round < outcome.config.rounds)
        .collect();
    let depth: u64 = market_rounds
        .iter()
        .map(|r| r.book_depth_units.iter().sum::<u64>())
        .sum();
    let mean_depth = depth as f64 / (market_rounds.len().max(1)) as f64;
    let requested: u64 = outcome.requests.iter().map(|r| r.units).sum();
    let per_round = requested as f64 / f64::from(outcome.config.rounds.max(1));
    let assigned: u64 = outcome.assignments.iter().map(|a| a.units).sum();
    let from_book: u64 = outcome
        .assignments
        .iter()
        .filter(|a| a.from_offer)
        .map(|a| a.units)
        .sum();
    let accepts = outcome.txs.get("AcceptRequest");
    let attempts = accepts.map_or(0, |t| t.submitted);
    let failed = accepts.map_or(0, |t| t.submitted - t.succeeded);
    LiquidityReport {
        mean_book_depth_units: mean_depth,
        mean_units_requested_per_round: per_round,
        depth_over_demand: ratio(mean_depth, per_round),
        book_fill_share: ratio(from_book as f64, assigned as f64),
        accept_attempts: attempts,
        accept_failed_share: ratio(failed as f64, attempts as f64),
    }
}

fn time_to_assignment(assignments: &[AssignmentRecord]) -> TimeToAssignment {
    let seconds: Vec<f64> = assignments
        .iter()
        .map(|a| a.assigned_at_ms.saturating_sub(a.request_created_at_ms) as f64 / 1000.0)
        .collect();
    let n = seconds.len() as f64;
    let at_posting = seconds.iter().filter(|s| **s == 0.0).count() as f64;
    TimeToAssignment {
        assignments: seconds.len(),
        mean_s: ratio(seconds.iter().sum(), n),
        p50_s: percentile(&seconds, 50.0),
        p90_s: percentile(&seconds, 90.0),
        at_posting_share: ratio(at_posting, n),
    }
}

fn provider_economics(assignments: &[AssignmentRecord]) -> ProviderEconomics {
    let below = assignments
        .iter()
        .filter(|a| (a.price_per_unit as f64) < a.true_cost_per_unit)
        .count();
    let (margin, cost) = assignments.iter().fold((0.0, 0.0), |(m, c), a| {
        let units = a.units as f64;
        (
            m + (a.price_per_unit as f64 - a.true_cost_per_unit) * units,
            c + a.true_cost_per_unit * units,
        )
    });
    let n = assignments.len() as f64;
    let share = |pick: &dyn Fn(&AssignmentRecord) -> bool| {
        ratio(assignments.iter().filter(|a| pick(a)).count() as f64, n)
    };
    ProviderEconomics {
        below_cost_share: ratio(below as f64, n),
        markup_over_cost: ratio(margin, cost),
        below_score_100_share: share(&|a| a.score_at_assignment < 100),
        bid_bound_share: share(&|a| a.price_per_unit == a.bid_per_unit),
        below_cost_from_score_below_100: ratio(
            assignments
                .iter()
                .filter(|a| (a.price_per_unit as f64) < a.true_cost_per_unit)
                .filter(|a| a.score_at_assignment < 100)
                .count() as f64,
            below as f64,
        ),
    }
}

/// Picks rounds; a series figure is computed over the records whose round it picks.
type RoundFilter<'a> = &'a dyn Fn(u32) -> bool;

/// Whether `round` lies in the trailing window that ends at `end`.
fn in_window(round: u32, end: u32, width: u32) -> bool {
    round <= end && round + width > end
}

fn series(outcome: &Outcome) -> Series {
    let rounds: Vec<u32> = outcome.rounds.iter().map(|r| r.round).collect();
    let posted_in = |pick: RoundFilter| -> Option<f64> {
        let posted: Vec<RequestRecord> = outcome
            .requests
            .iter()
            .filter(|r| pick(r.round_posted))
            .cloned()
            .collect();
        match_rate(&posted)
    };
    let settled_in = |pick: RoundFilter| {
        sla_compliance(
            outcome
                .assignments
                .iter()
                .filter(|a| a.settlement.as_ref().is_some_and(|s| pick(s.round))),
        )
    };
    let per_round = |f: &dyn Fn(RoundFilter) -> Option<f64>, width: u32| {
        rounds
            .iter()
            .map(|end| f(&|round| in_window(round, *end, width)))
            .collect::<Vec<_>>()
    };
    let chain_vwap = (0..TASK_TYPES.len())
        .map(|task| {
            outcome
                .rounds
                .iter()
                .map(|r| r.vwap.get(task).copied().flatten())
                .collect()
        })
        .collect();
    let vwap_rolling = (0..TASK_TYPES.len())
        .map(|task| {
            rounds
                .iter()
                .map(|end| {
                    vwap(outcome.assignments.iter().filter(|a| {
                        a.task_type == task && in_window(a.assigned_round, *end, ROLLING_ROUNDS)
                    }))
                })
                .collect()
        })
        .collect();
    Series {
        match_rate: per_round(&posted_in, 1),
        match_rate_rolling: per_round(&posted_in, ROLLING_ROUNDS),
        sla_compliance: per_round(&settled_in, 1),
        sla_compliance_rolling: per_round(&settled_in, ROLLING_ROUNDS),
        round: rounds,
        chain_vwap,
        vwap_rolling,
    }
}
