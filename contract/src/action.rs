//! The actions a transaction can carry. The enum is append-only: a variant's position is its
//! wire tag, so new actions go at the end and existing ones never move.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::amount::Amount;
use crate::bounded::{BoundedVec, Cid, Label};
use crate::escrow::{Decision, EscrowKind, Outcome};
use crate::ids::{AccountId, Hash, Uuid};
use crate::market::privacy::{Privacy, MAX_CIPHERTEXT_BYTES};
use crate::market::{
    QualityScore, Sla, TaskSpec, MAX_CAPABILITIES, MAX_QUALITY_METRICS, MAX_TASK_TYPES,
};

/// Most arbitrators an escrow may list, and most evidence entries a dispute may hold.
pub const MAX_ARBITRATORS: u32 = 16;
pub const MAX_EVIDENCE: u32 = 16;

/// One state-changing action, signed by the transaction's signer.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Action {
    /// Move `amount` of the signer's available funds to `to`.
    Transfer {
        to: AccountId,
        amount: Amount,
    },
    /// Create `amount` new funds for `to`; only the chain's mint authority may.
    Mint {
        to: AccountId,
        amount: Amount,
    },
    /// Open an escrow with the signer as requester.
    CreateEscrow(CreateEscrow),
    /// Move the escrow's amount from the requester into the escrow.
    FundEscrow {
        id: Uuid,
    },
    /// The provider declares the work delivered, committing to its result.
    MarkCompleted {
        id: Uuid,
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        result_hash: Hash,
    },
    /// A party or arbitrator approves releasing to the provider or refunding the requester.
    Approve {
        id: Uuid,
        decision: Decision,
    },
    /// A party disputes the escrow; arbitrators then decide.
    RaiseDispute {
        id: Uuid,
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        reason_hash: Hash,
        evidence: BoundedVec<Cid, MAX_EVIDENCE>,
    },
    /// A party adds evidence to an open dispute.
    AddEvidence {
        id: Uuid,
        cid: Cid,
    },
    /// An arbitrator votes on the outcome of a dispute.
    Resolve {
        id: Uuid,
        outcome: Outcome,
    },
    /// The signer becomes a provider with these capabilities (sorted, distinct).
    RegisterProvider {
        capabilities: BoundedVec<Label, MAX_CAPABILITIES>,
    },
    /// A provider's resting offer, matched the moment a fitting request is posted.
    PostOffer {
        id: Uuid,
        task_types: BoundedVec<Label, MAX_TASK_TYPES>,
        ask_per_unit: Amount,
        capacity_units: u64,
        expires_at_ms: u64,
    },
    CancelOffer {
        id: Uuid,
    },
    /// Reserve `bid × units` and open a first-accept auction.
    PostRequest(PostRequest),
    /// A qualified provider takes a slice of an open request.
    AcceptRequest {
        request_id: Uuid,
        ask_per_unit: Amount,
    },
    CancelRequest {
        id: Uuid,
    },
    /// The provider starts work on its assignment.
    StartTask {
        assignment_id: Uuid,
    },
    /// The provider submits the result commitment; the review window opens.
    SubmitResult {
        assignment_id: Uuid,
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        result_hash: Hash,
    },
    /// The requester scores the result (sorted by metric) and the assignment settles.
    RateResult {
        assignment_id: Uuid,
        scores: BoundedVec<QualityScore, MAX_QUALITY_METRICS>,
    },
    /// The requester delivers a confidential payload, encrypted to the assigned provider.
    DeliverPayload {
        assignment_id: Uuid,
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        ciphertext: BoundedVec<u8, MAX_CIPHERTEXT_BYTES>,
    },
}

/// The fields of [`Action::PostRequest`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PostRequest {
    /// Chosen by the client, so a retried post is rejected rather than applied twice.
    pub id: Uuid,
    pub spec: TaskSpec,
    pub bid_per_unit: Amount,
    pub units: u64,
    /// Auction window; `None` takes the default of 15 minutes.
    pub window_ms: Option<u64>,
    /// Who decides disputes on the request's assignments.
    pub arbitrators: BoundedVec<AccountId, MAX_ARBITRATORS>,
    pub sla: Sla,
    /// Who may see the payload, and so who may take the work.
    pub privacy: Privacy,
}

impl Action {
    /// The variant's name, stable across versions (for logs, metrics and test coverage).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Transfer { .. } => "Transfer",
            Action::Mint { .. } => "Mint",
            Action::CreateEscrow(_) => "CreateEscrow",
            Action::FundEscrow { .. } => "FundEscrow",
            Action::MarkCompleted { .. } => "MarkCompleted",
            Action::Approve { .. } => "Approve",
            Action::RaiseDispute { .. } => "RaiseDispute",
            Action::AddEvidence { .. } => "AddEvidence",
            Action::Resolve { .. } => "Resolve",
            Action::RegisterProvider { .. } => "RegisterProvider",
            Action::PostOffer { .. } => "PostOffer",
            Action::CancelOffer { .. } => "CancelOffer",
            Action::PostRequest(_) => "PostRequest",
            Action::AcceptRequest { .. } => "AcceptRequest",
            Action::CancelRequest { .. } => "CancelRequest",
            Action::StartTask { .. } => "StartTask",
            Action::SubmitResult { .. } => "SubmitResult",
            Action::RateResult { .. } => "RateResult",
            Action::DeliverPayload { .. } => "DeliverPayload",
        }
    }
}

/// The fields of [`Action::CreateEscrow`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CreateEscrow {
    /// Chosen by the client, so a retried creation is rejected rather than applied twice.
    pub id: Uuid,
    pub provider: AccountId,
    pub amount: Amount,
    pub kind: EscrowKind,
    /// Who decides disputes (and, for `Arbitrators`, approvals). Distinct, not a party.
    pub arbitrators: BoundedVec<AccountId, MAX_ARBITRATORS>,
    /// Block time at which an unsettled escrow times out.
    pub deadline_ms: u64,
    /// How long a dispute stays open; `None` takes the default of 24 h.
    pub dispute_window_ms: Option<u64>,
    /// The requester's reference to the job, typically a hash of its description.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub job_ref: Hash,
    /// Fund the escrow in the same transaction.
    pub fund: bool,
}
