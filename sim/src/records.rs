//! What a run observed, as plain records: every request the agents tried to post, every
//! assignment the contract made and how the contract settled it, and one line per round.
//! Prices, units, statuses, violations, penalties and scores are copied from chain state
//! and receipts; the only sim-side figures are the agents' true costs, which the chain
//! cannot know and which exist to compare prices against.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::SimConfig;

/// A request an agent tried to post.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RequestRecord {
    pub id: String,
    pub requester: usize,
    pub task_type: usize,
    /// Units asked for, whether or not the post succeeded.
    pub units: u64,
    pub bid_per_unit: u64,
    /// `public`, `private` or `confidential`.
    pub privacy: &'static str,
    pub round_posted: u32,
    /// Whether `PostRequest` succeeded; a failed post assigns nothing.
    pub posted: bool,
    pub post_error: Option<String>,
    /// From the request record on chain.
    pub created_at_ms: Option<u64>,
    /// The closed request's status on chain (`Filled`, `Expired`, `Cancelled`), `None`
    /// while open or if never posted.
    pub status: Option<String>,
    /// `units_assigned` of the request record on chain.
    pub units_assigned: u64,
    pub closed_round: Option<u32>,
}

/// How the contract settled an assignment (from the assignment and escrow records).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Settlement {
    /// The round whose block settled it.
    pub round: u32,
    /// `Completed`, `SlaViolated` or `DisputeSettled`.
    pub status: String,
    pub violations: u8,
    pub penalty_charged: u64,
    /// Whether its escrow was disputed.
    pub disputed: bool,
    /// The escrow's final status (`Released`, `Refunded`, `Resolved`).
    pub escrow_status: String,
}

/// One assignment made by the contract.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AssignmentRecord {
    pub id: String,
    pub request_id: String,
    pub task_type: usize,
    pub provider: usize,
    pub units: u64,
    pub ask_per_unit: u64,
    /// The contract's settlement price per unit, `min(bid, ⌊ask × m / 10 000⌋)`.
    pub price_per_unit: u64,
    pub cost: u64,
    pub bid_per_unit: u64,
    /// Matched from a resting offer at posting (else taken with `AcceptRequest`).
    pub from_offer: bool,
    pub assigned_round: u32,
    pub assigned_at_ms: u64,
    pub request_created_at_ms: u64,
    /// The provider's score in the state committed by the assignment's block.
    pub score_at_assignment: u16,
    /// The provider's true cost per unit (simulation knowledge, not chain state).
    pub true_cost_per_unit: f64,
    pub settlement: Option<Settlement>,
}

/// One round, as seen in the state committed by its block.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RoundRecord {
    pub round: u32,
    pub height: u64,
    pub time_ms: u64,
    pub txs: u64,
    pub txs_failed: u64,
    /// The contract's trailing 24 h VWAP per task type (`prices::price_stats`).
    pub vwap: Vec<Option<u64>>,
    /// Σ remaining capacity of open, unexpired resting offers per task type.
    pub book_depth_units: Vec<u64>,
}

/// Per action: transactions sent, succeeded, and failed by error name.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TxTally {
    pub submitted: u64,
    pub succeeded: u64,
    pub failed: BTreeMap<String, u64>,
}

/// A provider at the end of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProviderSummary {
    pub account: String,
    pub pricing: String,
    pub offer_maker: bool,
    pub capabilities: Vec<String>,
    pub reliability: f64,
    pub efficiency: f64,
    pub final_score: u16,
    pub final_margin: f64,
}

/// Everything a run produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Outcome {
    pub config: SimConfig,
    pub requests: Vec<RequestRecord>,
    pub assignments: Vec<AssignmentRecord>,
    pub rounds: Vec<RoundRecord>,
    pub txs: BTreeMap<String, TxTally>,
    pub providers: Vec<ProviderSummary>,
    /// Mean true cost per unit over the providers able to serve each task type.
    pub population_cost: Vec<Option<f64>>,
    /// Rounds run after posting stopped, until everything settled.
    pub drain_rounds: u32,
    /// Assignments and requests still open when the drain limit stopped the run.
    pub unsettled_assignments: u64,
    pub open_requests: u64,
    /// Private and confidential payloads the providers failed to decrypt or verify.
    pub payload_failures: u64,
    pub final_height: u64,
    pub final_time_ms: u64,
    pub final_state_root: String,
    /// sha256 chain over the hashes of every transaction submitted, in order: equal
    /// digests mean the same transactions.
    pub tx_digest: String,
}
