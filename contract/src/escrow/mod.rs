//! Escrow: funds held for a job between a requester and a provider until the kind's rule
//! decides a release or a refund, a dispute is resolved, or a deadline passes (SPEC §5).
//!
//! This module holds the record and the shared steps (load, save with the deadline index,
//! record an event, pay out); each transition lives in its own function in a submodule.
//! Every handler checks in one order: the escrow exists, the signer may act, the state
//! allows the action, the deadline has not passed, then the action's own arguments.

mod approve;
mod create;
mod dispute;
mod managed;
mod timeout;

pub use approve::execute_approve;
pub use create::{
    execute_create_escrow, execute_fund_escrow, execute_mark_completed, open_funded_escrow,
    AssignmentEscrow,
};
pub use dispute::{execute_add_evidence, execute_raise_dispute, execute_resolve};
pub use managed::{complete_managed, pay_out_managed};
pub use timeout::on_deadline;

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

use crate::action::MAX_ARBITRATORS;
use crate::amount::Amount;
use crate::bounded::{BoundedVec, Cid};
use crate::error::TxError;
use crate::event::{next_audit_head, EscrowEvent, Event, EventSource};
use crate::ids::{AccountId, Hash, Uuid};
use crate::state::{keys, load, Changes, StateView};
use crate::wallet::credit;

/// The dispute window when the creator names none: 24 hours.
pub const DEFAULT_DISPUTE_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;
/// The longest dispute window accepted: 90 days.
pub const MAX_DISPUTE_WINDOW_MS: u64 = 90 * 24 * 60 * 60 * 1000;

/// Who decides a release or refund (see the table in SPEC §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum EscrowKind {
    /// One party, against its own interest only.
    Single,
    /// Requester and provider approve the same decision.
    BothParties,
    /// `required` of the `total` listed arbitrators approve the same decision.
    Arbitrators { required: u8, total: u8 },
    /// As `Single`; a completed escrow is released automatically at `release_after_ms`.
    TimeLocked { release_after_ms: u64 },
}

/// A decision outside a dispute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Decision {
    Release,
    Refund,
}

/// An arbitrator's decision of a dispute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Outcome {
    Release,
    Refund,
    /// The provider gets `⌊amount × provider_bps / 10 000⌋`, the requester the rest.
    Split {
        provider_bps: u16,
    },
}

/// Where an escrow is in its life. The last four are terminal and hold nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum EscrowStatus {
    Created,
    Funded,
    Completed,
    Disputed,
    Released,
    Refunded,
    Resolved,
    Expired,
}

impl EscrowStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Released | Self::Refunded | Self::Resolved | Self::Expired
        )
    }
}

/// An approver's latest decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Approval {
    pub by: AccountId,
    pub decision: Decision,
}

/// An arbitrator's latest vote in a dispute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Vote {
    pub by: AccountId,
    pub outcome: Outcome,
}

/// An open (or decided) dispute.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Dispute {
    pub raised_by: AccountId,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub reason_hash: Hash,
    pub evidence: BoundedVec<Cid, { crate::action::MAX_EVIDENCE }>,
    /// Replaces the escrow deadline while disputed.
    pub deadline_ms: u64,
    /// `Funded` or `Completed`: decides the default outcome when the dispute times out.
    pub from_status: EscrowStatus,
    /// Sorted by arbitrator.
    pub votes: Vec<Vote>,
}

/// The escrow record stored under `keys::escrow(id)`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Escrow {
    pub id: Uuid,
    pub requester: AccountId,
    pub provider: AccountId,
    pub amount: Amount,
    /// What the escrow holds now: `amount` while funded and open, zero otherwise.
    pub held: Amount,
    pub kind: EscrowKind,
    pub arbitrators: BoundedVec<AccountId, MAX_ARBITRATORS>,
    pub deadline_ms: u64,
    pub dispute_window_ms: u64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub job_ref: Hash,
    pub created_at_ms: u64,
    pub status: EscrowStatus,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex::option"))]
    pub result_hash: Option<Hash>,
    /// Sorted by approver; cleared on every status change.
    pub approvals: Vec<Approval>,
    pub dispute: Option<Dispute>,
    /// The hash chain over every event of this escrow (see `event::next_audit_head`).
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_hex"))]
    pub audit_head: Hash,
    /// Held for a market assignment: the market's SLA settlement pays it out, so the
    /// parties cannot `MarkCompleted` or `Approve` it; disputes work as for any escrow.
    pub managed_by_market: bool,
}

/// The signer's relation to an escrow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Requester,
    Provider,
    Arbitrator,
    Outsider,
}

impl Escrow {
    pub fn role_of(&self, who: &AccountId) -> Role {
        if *who == self.requester {
            Role::Requester
        } else if *who == self.provider {
            Role::Provider
        } else if self.arbitrators.as_slice().contains(who) {
            Role::Arbitrator
        } else {
            Role::Outsider
        }
    }

    /// The block time at which the block hook must next look at this escrow, if ever.
    /// Computed from the state, never stored, so it cannot go stale.
    pub fn wake_ms(&self) -> Option<u64> {
        // The market settles its escrows itself, except through a dispute.
        if self.managed_by_market && self.status != EscrowStatus::Disputed {
            return None;
        }
        match self.status {
            EscrowStatus::Created | EscrowStatus::Funded => Some(self.deadline_ms),
            EscrowStatus::Completed => match self.kind {
                EscrowKind::TimeLocked { release_after_ms } => {
                    Some(release_after_ms.min(self.deadline_ms))
                }
                _ => Some(self.deadline_ms),
            },
            EscrowStatus::Disputed => self.dispute.as_ref().map(|d| d.deadline_ms),
            _ => None,
        }
    }

    /// The deadline that guards actions now: the dispute's while disputed, else the escrow's.
    pub fn active_deadline_ms(&self) -> u64 {
        match (&self.status, &self.dispute) {
            (EscrowStatus::Disputed, Some(dispute)) => dispute.deadline_ms,
            _ => self.deadline_ms,
        }
    }

    /// Arbitrator votes needed to resolve a dispute.
    pub fn votes_required(&self) -> usize {
        match self.kind {
            EscrowKind::Arbitrators { required, .. } => usize::from(required),
            _ => 1,
        }
    }
}

/// Loads an escrow or fails with `NotFound`.
pub fn load_escrow(view: &dyn StateView, id: &Uuid) -> Result<Escrow, TxError> {
    load::<Escrow>(view, &keys::escrow(id))?.ok_or(TxError::NotFound)
}

/// Fails with `DeadlinePassed` unless the block time is before the active deadline.
fn check_before_deadline(escrow: &Escrow, now_ms: u64) -> Result<(), TxError> {
    let deadline_ms = escrow.active_deadline_ms();
    if now_ms >= deadline_ms {
        return Err(TxError::DeadlinePassed {
            deadline_ms,
            now_ms,
        });
    }
    Ok(())
}

/// Writes the escrow and moves its deadline-index entry from `wake_before` to its new
/// wake time.
fn save(changes: &mut Changes, wake_before: Option<u64>, escrow: &Escrow) {
    changes.move_deadline(keys::TAG_ESCROW, &escrow.id, wake_before, escrow.wake_ms());
    changes.put(keys::escrow(&escrow.id), escrow);
}

/// Extends the escrow's audit chain with `event` and emits it.
fn record(changes: &mut Changes, escrow: &mut Escrow, source: EventSource, event: EscrowEvent) {
    escrow.audit_head = next_audit_head(&escrow.audit_head, &source, &event);
    changes.emit(Event::Escrow {
        id: escrow.id,
        event,
    });
}

/// Empties the escrow: `to_provider` to the provider, the rest of `held` to the requester,
/// then sets the terminal `status`. Funds move here and nowhere else.
fn pay_out(
    changes: &mut Changes,
    escrow: &mut Escrow,
    to_provider: Amount,
    status: EscrowStatus,
) -> Result<Amount, TxError> {
    let to_requester = escrow.held.checked_sub(to_provider)?;
    if !to_provider.is_zero() {
        credit(changes, &escrow.provider, to_provider)?;
    }
    if !to_requester.is_zero() {
        credit(changes, &escrow.requester, to_requester)?;
    }
    changes.delete(keys::holding(
        &escrow.requester,
        keys::TAG_ESCROW,
        &escrow.id,
    ));
    escrow.held = Amount::ZERO;
    escrow.status = status;
    escrow.approvals.clear();
    Ok(to_requester)
}

/// Settles an escrow by a decision: everything to the provider or back to the requester,
/// with the matching event.
fn settle(
    changes: &mut Changes,
    escrow: &mut Escrow,
    source: EventSource,
    decision: Decision,
    cause: crate::event::SettleCause,
) -> Result<(), TxError> {
    let event = match decision {
        Decision::Release => {
            let to_provider = escrow.held;
            pay_out(changes, escrow, to_provider, EscrowStatus::Released)?;
            EscrowEvent::Released { to_provider, cause }
        }
        Decision::Refund => {
            let to_requester = pay_out(changes, escrow, Amount::ZERO, EscrowStatus::Refunded)?;
            EscrowEvent::Refunded {
                to_requester,
                cause,
            }
        }
    };
    record(changes, escrow, source, event);
    Ok(())
}
