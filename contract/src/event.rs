//! Events: what every successful action and every timeout reports, and the per-escrow audit
//! chain that commits to them. A client that holds an escrow's event list recomputes the
//! chain with [`next_audit_head`] and compares it with the proven `audit_head`.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

use crate::amount::Amount;
use crate::bounded::Cid;
use crate::codec::encode;
use crate::escrow::{Decision, EscrowKind, Outcome};
use crate::ids::{sha256, AccountId, Hash, Uuid};
use crate::market::{AssignmentStatus, OfferStatus, RequestStatus};

/// Domain tag of an escrow's first audit head.
pub const AUDIT_GENESIS_DOMAIN: &[u8] = b"agora/audit/v1\0";

/// One thing that happened, in a receipt or in a block hook's list.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Event {
    Minted {
        to: AccountId,
        amount: Amount,
    },
    Transferred {
        from: AccountId,
        to: AccountId,
        amount: Amount,
    },
    Escrow {
        id: Uuid,
        event: EscrowEvent,
    },
    Market(MarketEvent),
}

/// A step in the market.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum MarketEvent {
    ProviderRegistered {
        provider: AccountId,
    },
    OfferPosted {
        id: Uuid,
        provider: AccountId,
        ask_per_unit: Amount,
        capacity_units: u64,
    },
    OfferClosed {
        id: Uuid,
        status: OfferStatus,
    },
    RequestPosted {
        id: Uuid,
        requester: AccountId,
        reserved: Amount,
    },
    /// A slice assigned: `units` at `price_per_unit` moved into the escrow `assignment_id`,
    /// and `returned` = (bid − price) × units went back to the requester.
    Assigned {
        assignment_id: Uuid,
        request_id: Uuid,
        provider: AccountId,
        units: u64,
        price_per_unit: Amount,
        returned: Amount,
    },
    TaskStarted {
        assignment_id: Uuid,
    },
    ResultSubmitted {
        assignment_id: Uuid,
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        result_hash: Hash,
    },
    ResultRated {
        assignment_id: Uuid,
    },
    /// The SLA evaluation: `penalty_charged` went back to the requester, the rest of the
    /// cost to the provider.
    AssignmentSettled {
        assignment_id: Uuid,
        status: AssignmentStatus,
        violations: u8,
        penalty_charged: Amount,
    },
    ReputationChanged {
        provider: AccountId,
        from: u16,
        to: u16,
    },
    /// A confidential payload was stored for the assignment's provider.
    PayloadDelivered {
        assignment_id: Uuid,
        provider: AccountId,
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        commitment: Hash,
    },
    /// The auction closed; `returned` is the unassigned reservation given back.
    RequestClosed {
        id: Uuid,
        status: RequestStatus,
        returned: Amount,
    },
}

/// Why funds left an escrow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum SettleCause {
    /// The kind's approval rule was met.
    Approval,
    /// Enough arbitrators voted the same outcome.
    Arbitration,
    /// The escrow deadline passed.
    Deadline,
    /// The dispute deadline passed without a resolution.
    DisputeDeadline,
    /// A completed `TimeLocked` escrow reached its release time.
    TimeLock,
    /// The market's SLA evaluation of the assignment the escrow holds funds for.
    Sla,
}

/// A step in one escrow's life.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum EscrowEvent {
    Created {
        requester: AccountId,
        provider: AccountId,
        amount: Amount,
        kind: EscrowKind,
        deadline_ms: u64,
    },
    Funded {
        amount: Amount,
    },
    Completed {
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        result_hash: Hash,
    },
    Approved {
        by: AccountId,
        decision: Decision,
    },
    DisputeRaised {
        by: AccountId,
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        reason_hash: Hash,
        evidence: Vec<Cid>,
        deadline_ms: u64,
    },
    EvidenceAdded {
        by: AccountId,
        cid: Cid,
    },
    Voted {
        by: AccountId,
        outcome: Outcome,
    },
    Released {
        to_provider: Amount,
        cause: SettleCause,
    },
    Refunded {
        to_requester: Amount,
        cause: SettleCause,
    },
    Resolved {
        to_provider: Amount,
        to_requester: Amount,
    },
    Expired,
}

/// What produced an event: a transaction, or the block hook at a height.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum EventSource {
    Tx {
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
        hash: Hash,
    },
    BlockHook {
        height: u64,
    },
}

/// The audit head of an escrow before any event.
pub fn audit_genesis(id: &Uuid) -> Hash {
    sha256(&[AUDIT_GENESIS_DOMAIN, id.as_bytes()])
}

/// `sha256(previous head ‖ borsh(source) ‖ borsh(event))`.
pub fn next_audit_head(previous: &Hash, source: &EventSource, event: &EscrowEvent) -> Hash {
    sha256(&[previous, &encode(source), &encode(event)])
}

/// Recomputes an escrow's audit head from its full event list.
pub fn audit_head_of(id: &Uuid, events: &[(EventSource, EscrowEvent)]) -> Hash {
    events
        .iter()
        .fold(audit_genesis(id), |head, (source, event)| {
            next_audit_head(&head, source, event)
        })
}
