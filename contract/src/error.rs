//! The one error type of the state machine. Every rejection is a [`TxError`] with a stable
//! numeric code (see `docs/errors.md`); codes are never reused or renumbered, and variants
//! are only ever appended (a receipt encodes the variant by position). Envelope errors
//! (1xx) leave the state untouched; an action's errors consume the signer's nonce only.
//! The receipt's `nonce_consumed` says which happened.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::amount::Amount;
use crate::escrow::EscrowStatus;

/// Why a transaction, or one of its checks, was rejected.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum TxError {
    // --- envelope: checked before the action; a failure here changes nothing ---
    #[error("transaction is {size_bytes} bytes, more than the limit of {max_bytes}")]
    TxTooLarge { size_bytes: u32, max_bytes: u32 },
    #[error("transaction bytes are malformed")]
    Malformed,
    #[error("transaction bytes are not the canonical encoding")]
    NonCanonical,
    #[error("signature does not verify under strict ed25519 rules")]
    BadSignature,
    #[error("transaction is for another chain")]
    WrongChain,
    #[error("nonce {found} is not the signer's next nonce {expected}")]
    BadNonce { expected: u64, found: u64 },
    #[error("transaction was valid until height {valid_until_height}, block is {height}")]
    Expired {
        valid_until_height: u64,
        height: u64,
    },

    // --- wallet ---
    #[error("amount must be greater than zero")]
    ZeroAmount,
    #[error("insufficient funds: {available} available, {required} required")]
    InsufficientFunds { available: Amount, required: Amount },
    #[error("sender and recipient are the same account")]
    SelfTransfer,
    #[error("signer is not the chain's mint authority")]
    NotMintAuthority,
    #[error("arithmetic overflow")]
    ArithmeticOverflow,

    // --- objects (escrows, and the market's objects later) ---
    #[error("object not found")]
    NotFound,
    #[error("an object with this id already exists")]
    AlreadyExists,
    #[error("action not allowed in state {state:?}")]
    InvalidState { state: EscrowStatus },
    #[error("signer may not perform this action")]
    NotAuthorized,
    #[error("deadline {deadline_ms} ms has passed (block time {now_ms} ms)")]
    DeadlinePassed { deadline_ms: u64, now_ms: u64 },

    // --- escrow creation ---
    #[error("deadline must be after the block time")]
    DeadlineNotInFuture,
    #[error("requester and provider must be different accounts")]
    PartiesNotDistinct,
    #[error("threshold must satisfy 1 <= required <= total = number of arbitrators <= 16")]
    InvalidThreshold,
    #[error("arbitrators must be distinct and not a party")]
    InvalidArbitrators,
    #[error("dispute window must be between 1 ms and the maximum")]
    InvalidDisputeWindow,
    #[error("release time must be after the block time and before the deadline")]
    InvalidReleaseTime,

    // --- escrow decisions and disputes ---
    #[error("this party may only decide against its own interest")]
    DecisionNotAllowed,
    #[error("the signer already approved this decision")]
    AlreadyApproved,
    #[error("the escrow has no arbitrators, so it cannot be disputed")]
    NoArbitrators,
    #[error("the dispute already holds the maximum number of evidence entries")]
    EvidenceFull,
    #[error("split of {provider_bps} bps is above 10 000")]
    InvalidSplit { provider_bps: u16 },
    #[error("the arbitrator already voted for this outcome")]
    AlreadyVoted,

    // --- internal ---
    #[error("stored state failed to decode")]
    StateCorrupt,

    // --- market (appended after the foundation's variants; codes 4xx) ---
    #[error("signer is not a registered provider")]
    NotRegistered,
    #[error("provider lacks a required capability")]
    MissingCapability,
    #[error("provider score {score} is below the required {required}")]
    ReputationTooLow { score: u16, required: u16 },
    #[error("ask {ask} per unit is above the bid {bid}")]
    AskAboveBid { ask: Amount, bid: Amount },
    #[error("the request or offer is no longer open")]
    NotOpen,
    #[error("the provider already holds a slice of this request")]
    AlreadyAssigned,
    #[error("labels must be sorted, distinct and within their bound")]
    InvalidLabels,
    #[error("time window is zero, or longer than the maximum")]
    InvalidWindow,
    #[error("the settlement price rounds down to zero")]
    PriceRoundsToZero,
    #[error("a provider cannot serve its own request")]
    SelfDealing,
    #[error("units must be greater than zero")]
    ZeroUnits,
    #[error("SLA terms or quality scores out of range (times, metric order, bps, review window)")]
    InvalidSla,
    #[error("action not allowed while the assignment is {status:?}")]
    WrongAssignmentStatus {
        status: crate::market::AssignmentStatus,
    },
    #[error("the provider is not on the request's allow-list")]
    NotOnAllowList,
    #[error("privacy terms invalid for this request or action")]
    InvalidPrivacy,
    #[error("version-8 UUIDs are reserved for ids the chain derives")]
    ReservedId,
}

impl TxError {
    /// The stable numeric code of this error, as documented in `docs/errors.md`.
    pub fn code(&self) -> u16 {
        match self {
            TxError::TxTooLarge { .. } => 100,
            TxError::Malformed => 101,
            TxError::NonCanonical => 102,
            TxError::BadSignature => 103,
            TxError::WrongChain => 104,
            TxError::BadNonce { .. } => 105,
            TxError::Expired { .. } => 106,
            TxError::ZeroAmount => 200,
            TxError::InsufficientFunds { .. } => 201,
            TxError::SelfTransfer => 202,
            TxError::NotMintAuthority => 203,
            TxError::ArithmeticOverflow => 204,
            TxError::NotFound => 300,
            TxError::AlreadyExists => 301,
            TxError::InvalidState { .. } => 302,
            TxError::NotAuthorized => 303,
            TxError::DeadlinePassed { .. } => 304,
            TxError::DeadlineNotInFuture => 310,
            TxError::PartiesNotDistinct => 311,
            TxError::InvalidThreshold => 312,
            TxError::InvalidArbitrators => 313,
            TxError::InvalidDisputeWindow => 314,
            TxError::InvalidReleaseTime => 315,
            TxError::DecisionNotAllowed => 320,
            TxError::AlreadyApproved => 321,
            TxError::NoArbitrators => 322,
            TxError::EvidenceFull => 323,
            TxError::InvalidSplit { .. } => 324,
            TxError::AlreadyVoted => 325,
            TxError::StateCorrupt => 900,
            TxError::NotRegistered => 400,
            TxError::MissingCapability => 401,
            TxError::ReputationTooLow { .. } => 402,
            TxError::AskAboveBid { .. } => 403,
            TxError::NotOpen => 404,
            TxError::AlreadyAssigned => 405,
            TxError::InvalidLabels => 406,
            TxError::InvalidWindow => 407,
            TxError::PriceRoundsToZero => 408,
            TxError::SelfDealing => 409,
            TxError::ZeroUnits => 410,
            TxError::InvalidSla => 411,
            TxError::WrongAssignmentStatus { .. } => 412,
            TxError::NotOnAllowList => 413,
            TxError::InvalidPrivacy => 414,
            TxError::ReservedId => 316,
        }
    }

    /// The stable name of this error's variant, as documented in `docs/errors.md`.
    pub fn name(&self) -> &'static str {
        match self {
            TxError::TxTooLarge { .. } => "TxTooLarge",
            TxError::Malformed => "Malformed",
            TxError::NonCanonical => "NonCanonical",
            TxError::BadSignature => "BadSignature",
            TxError::WrongChain => "WrongChain",
            TxError::BadNonce { .. } => "BadNonce",
            TxError::Expired { .. } => "Expired",
            TxError::ZeroAmount => "ZeroAmount",
            TxError::InsufficientFunds { .. } => "InsufficientFunds",
            TxError::SelfTransfer => "SelfTransfer",
            TxError::NotMintAuthority => "NotMintAuthority",
            TxError::ArithmeticOverflow => "ArithmeticOverflow",
            TxError::NotFound => "NotFound",
            TxError::AlreadyExists => "AlreadyExists",
            TxError::InvalidState { .. } => "InvalidState",
            TxError::NotAuthorized => "NotAuthorized",
            TxError::DeadlinePassed { .. } => "DeadlinePassed",
            TxError::DeadlineNotInFuture => "DeadlineNotInFuture",
            TxError::PartiesNotDistinct => "PartiesNotDistinct",
            TxError::InvalidThreshold => "InvalidThreshold",
            TxError::InvalidArbitrators => "InvalidArbitrators",
            TxError::InvalidDisputeWindow => "InvalidDisputeWindow",
            TxError::InvalidReleaseTime => "InvalidReleaseTime",
            TxError::DecisionNotAllowed => "DecisionNotAllowed",
            TxError::AlreadyApproved => "AlreadyApproved",
            TxError::NoArbitrators => "NoArbitrators",
            TxError::EvidenceFull => "EvidenceFull",
            TxError::InvalidSplit { .. } => "InvalidSplit",
            TxError::AlreadyVoted => "AlreadyVoted",
            TxError::StateCorrupt => "StateCorrupt",
            TxError::NotRegistered => "NotRegistered",
            TxError::MissingCapability => "MissingCapability",
            TxError::ReputationTooLow { .. } => "ReputationTooLow",
            TxError::AskAboveBid { .. } => "AskAboveBid",
            TxError::NotOpen => "NotOpen",
            TxError::AlreadyAssigned => "AlreadyAssigned",
            TxError::InvalidLabels => "InvalidLabels",
            TxError::InvalidWindow => "InvalidWindow",
            TxError::PriceRoundsToZero => "PriceRoundsToZero",
            TxError::SelfDealing => "SelfDealing",
            TxError::ZeroUnits => "ZeroUnits",
            TxError::InvalidSla => "InvalidSla",
            TxError::WrongAssignmentStatus { .. } => "WrongAssignmentStatus",
            TxError::NotOnAllowList => "NotOnAllowList",
            TxError::InvalidPrivacy => "InvalidPrivacy",
            TxError::ReservedId => "ReservedId",
        }
    }

    /// Whether this error is from the envelope checks, which leave the state (the nonce
    /// included) untouched.
    pub fn is_envelope(&self) -> bool {
        self.code() < 200
    }
}
