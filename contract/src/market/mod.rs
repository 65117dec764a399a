//! The compute market (SPEC §6): providers with a reputation score, resting offers, and
//! requests sold by first-accept auction. An assignment's funds move from the request's
//! reservation into an escrow of its own, at a price that includes the reputation premium
//! but never exceeds the bid.
//!
//! Built: providers, offers, requests, immediate matching against the offer book,
//! `AcceptRequest`, closing (filled, window end in the block hook, cancel), settlement
//! price, price discovery, task execution with SLA evaluation and penalties, and
//! reputation events, and the privacy levels (see docs/market.md).

mod execution;
mod offer;
pub mod prices;
pub mod privacy;
mod provider;
mod reputation;
mod request;

pub use execution::{
    execute_rate_result, execute_start_task, execute_submit_result, on_assignment_deadline,
};
pub use offer::{execute_cancel_offer, execute_post_offer, on_offer_expiry};
pub use provider::execute_register_provider;
pub use request::{
    execute_accept_request, execute_cancel_request, execute_post_request, on_request_window_end,
};

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

use crate::action::MAX_ARBITRATORS;
use crate::amount::{Amount, BPS_DENOMINATOR};
use crate::bounded::{BoundedVec, Label};
use crate::error::TxError;
use crate::ids::{AccountId, Uuid};
use crate::state::{keys, load, StateView};

pub const MAX_CAPABILITIES: u32 = 16;
pub const MAX_TASK_TYPES: u32 = 8;
/// A new provider's score.
pub const INITIAL_SCORE: u16 = 50;
pub const MAX_SCORE: u16 = 1_000;
/// The auction window when the request names none: 15 minutes.
pub const DEFAULT_WINDOW_MS: u64 = 15 * 60 * 1000;
/// The longest auction window accepted: 24 hours.
pub const MAX_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;
/// The most providers one request is split across.
pub const MAX_PROVIDERS: u64 = 10;
/// The most offer-book entries one `PostRequest` examines while matching, so its cost is
/// bounded whatever the book holds.
pub const MAX_OFFERS_SCANNED: usize = 64;
/// Most quality metrics an SLA names.
pub const MAX_QUALITY_METRICS: u32 = 8;
/// The longest review window accepted: 7 days.
pub const MAX_REVIEW_WINDOW_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// A quality minimum: the requester's score for `metric` must be at least `min_bps`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct QualityMin {
    pub metric: Label,
    pub min_bps: u16,
}

/// A requester's score for one metric, in bps.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct QualityScore {
    pub metric: Label,
    pub score_bps: u16,
}

/// Service terms of a request, evaluated once per assignment.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Sla {
    /// `StartTask` time − assignment time must not exceed this.
    pub max_response_ms: u64,
    /// `SubmitResult` time − start time must not exceed this.
    pub max_duration_ms: u64,
    /// Sorted by metric, distinct.
    pub quality_min: BoundedVec<QualityMin, MAX_QUALITY_METRICS>,
    /// Charged per violation, capped at the assignment's cost.
    pub penalty: Amount,
    /// How long after `SubmitResult` the requester may `RateResult`; silence means the
    /// quality minimums are met.
    pub review_window_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum AssignmentStatus {
    Assigned,
    Started,
    Submitted,
    /// Settled within the SLA.
    Completed,
    /// Settled with at least one violation, or never delivered.
    SlaViolated,
    /// The escrow is disputed; the assignment waits for the dispute's end.
    AwaitingDispute,
    /// Settled by a dispute of its escrow.
    DisputeSettled,
}

impl AssignmentStatus {
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::SlaViolated | Self::DisputeSettled
        )
    }
}

/// A registered provider.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Provider {
    pub account: AccountId,
    /// Sorted and distinct.
    pub capabilities: BoundedVec<Label, MAX_CAPABILITIES>,
    /// Reputation, 0..=1000.
    pub score: u16,
    pub registered_at_ms: u64,
}

/// The reputation multiplier in bps: `clamp(score × 100, 5 000, 20 000)`.
pub fn multiplier_bps(score: u16) -> u16 {
    let raw = u32::from(score).saturating_mul(100).clamp(5_000, 20_000);
    u16::try_from(raw).unwrap_or(20_000)
}

/// Settlement price per unit: `min(bid, ⌊ask × m_bps / 10 000⌋)`.
pub fn settlement_price(ask: Amount, bid: Amount, score: u16) -> Result<Amount, TxError> {
    let premium = u128::from(ask.0)
        .checked_mul(u128::from(multiplier_bps(score)))
        .and_then(|product| product.checked_div(u128::from(BPS_DENOMINATOR)))
        .ok_or(TxError::ArithmeticOverflow)?;
    let capped = premium.min(u128::from(bid.0));
    u64::try_from(capped)
        .map(Amount)
        .map_err(|_| TxError::ArithmeticOverflow)
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TaskSpec {
    pub task_type: Label,
    /// Sorted and distinct; a provider must have all of them.
    pub capabilities: BoundedVec<Label, MAX_CAPABILITIES>,
    pub min_reputation: Option<u16>,
    /// The hard limit from assignment to submitted result.
    pub max_duration_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum OfferStatus {
    Open,
    /// Capacity used up.
    Exhausted,
    Expired,
    Cancelled,
}

/// A provider's resting offer.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Offer {
    pub id: Uuid,
    pub provider: AccountId,
    /// Sorted and distinct.
    pub task_types: BoundedVec<Label, MAX_TASK_TYPES>,
    pub ask_per_unit: Amount,
    /// Units still available; every assignment from this offer decrements it.
    pub capacity_units: u64,
    pub expires_at_ms: u64,
    /// Global posting order: among equal asks the lower sequence (older offer) wins.
    pub sequence: u64,
    pub status: OfferStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum RequestStatus {
    Open,
    /// Every unit assigned, or `max_providers` slices taken.
    Filled,
    /// The window ended first.
    Expired,
    Cancelled,
}

/// A request and its first-accept auction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Request {
    pub id: Uuid,
    pub requester: AccountId,
    pub spec: TaskSpec,
    pub bid_per_unit: Amount,
    pub units: u64,
    pub units_assigned: u64,
    /// `bid × unassigned units` while open; zero once closed.
    pub reserved: Amount,
    pub window_ends_ms: u64,
    /// `clamp(units / 100, 1, 10)`.
    pub max_providers: u64,
    /// `ceil(units / max_providers)`.
    pub share_units: u64,
    /// Providers holding a slice, sorted.
    pub providers: Vec<AccountId>,
    pub arbitrators: BoundedVec<AccountId, MAX_ARBITRATORS>,
    pub sla: Sla,
    pub privacy: privacy::Privacy,
    pub status: RequestStatus,
    pub created_at_ms: u64,
}

/// One provider's slice of a request; its funds are in the escrow with the same id.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Assignment {
    pub id: Uuid,
    pub request_id: Uuid,
    pub requester: AccountId,
    pub provider: AccountId,
    /// The resting offer it was matched from, if any.
    pub offer_id: Option<Uuid>,
    pub units: u64,
    pub ask_per_unit: Amount,
    pub price_per_unit: Amount,
    /// `price × units`, held by the escrow until settlement.
    pub cost: Amount,
    pub sla: Sla,
    pub assigned_at_ms: u64,
    /// Work not submitted by this time is a failure: fully refunded, SLA violated.
    pub delivery_deadline_ms: u64,
    pub started_at_ms: Option<u64>,
    pub submitted_at_ms: Option<u64>,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex::option"))]
    pub result_hash: Option<crate::ids::Hash>,
    pub review_ends_ms: Option<u64>,
    /// While `AwaitingDispute`: when to look at the escrow again.
    pub dispute_check_ms: Option<u64>,
    pub status: AssignmentStatus,
    pub violations: u8,
    pub penalty_charged: Amount,
}

impl Assignment {
    /// When the block hook must next look at this assignment, computed from its status.
    pub fn wake_ms(&self) -> Option<u64> {
        match self.status {
            AssignmentStatus::Assigned | AssignmentStatus::Started => {
                Some(self.delivery_deadline_ms)
            }
            AssignmentStatus::Submitted => self.review_ends_ms,
            AssignmentStatus::AwaitingDispute => self.dispute_check_ms,
            _ => None,
        }
    }
}

/// Sequence numbers kept in state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MarketCounters {
    pub next_offer_sequence: u64,
}

/// Whether labels are strictly increasing (so sorted and distinct).
pub fn labels_sorted(labels: &[Label]) -> bool {
    labels
        .windows(2)
        .all(|pair| matches!(pair, [a, b] if a < b))
}

pub fn load_provider(view: &dyn StateView, who: &AccountId) -> Result<Option<Provider>, TxError> {
    load::<Provider>(view, &keys::provider(who))
}

pub fn load_offer(view: &dyn StateView, id: &Uuid) -> Result<Offer, TxError> {
    load::<Offer>(view, &keys::offer(id))?.ok_or(TxError::NotFound)
}

pub fn load_request(view: &dyn StateView, id: &Uuid) -> Result<Request, TxError> {
    load::<Request>(view, &keys::request(id))?.ok_or(TxError::NotFound)
}

pub fn load_assignment(view: &dyn StateView, id: &Uuid) -> Result<Assignment, TxError> {
    load::<Assignment>(view, &keys::assignment(id))?.ok_or(TxError::NotFound)
}

/// The id of `provider`'s assignment on `request`: the first 16 bytes of
/// `sha256("agora/assignment/v1\0" ‖ request id ‖ provider)` with the UUID version set to 8
/// and the RFC 4122 variant. One slice per provider per request makes it unique; it is
/// also the id of the assignment's escrow. Version-8 ids are reserved for ids the chain
/// derives: clients cannot create objects with them (`ReservedId`), so nobody can occupy
/// an assignment's id before the assignment exists.
pub fn assignment_id(request: &Uuid, provider: &AccountId) -> Uuid {
    let digest = crate::ids::sha256(&[b"agora/assignment/v1\0", request.as_bytes(), &provider.0]);
    let mut bytes = [0u8; 16];
    for (slot, byte) in bytes.iter_mut().zip(digest.iter()) {
        *slot = *byte;
    }
    crate::ids::mark_chain_derived(bytes)
}

/// The qualification rules of SPEC §6 in their check order: registered, not the
/// requester, every required capability, score at least `min_reputation`, allowed by the
/// privacy level, ask within bid.
pub fn check_qualified(
    provider: Option<&Provider>,
    request: &Request,
    ask: Amount,
) -> Result<(), TxError> {
    let provider = provider.ok_or(TxError::NotRegistered)?;
    // Serving one's own request, or a request one would arbitrate, is self-dealing.
    if provider.account == request.requester
        || request.arbitrators.as_slice().contains(&provider.account)
    {
        return Err(TxError::SelfDealing);
    }
    let has = provider.capabilities.as_slice();
    if !request
        .spec
        .capabilities
        .as_slice()
        .iter()
        .all(|needed| has.binary_search(needed).is_ok())
    {
        return Err(TxError::MissingCapability);
    }
    if let Some(required) = request.spec.min_reputation {
        if provider.score < required {
            return Err(TxError::ReputationTooLow {
                score: provider.score,
                required,
            });
        }
    }
    privacy::check_allowed(request, &provider.account)?;
    if ask > request.bid_per_unit {
        return Err(TxError::AskAboveBid {
            ask,
            bid: request.bid_per_unit,
        });
    }
    Ok(())
}
