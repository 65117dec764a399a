//! Disputes: a party raises one (with evidence), parties add evidence, and arbitrators vote
//! until `required` of them agree on the identical outcome.

use alloc::vec::Vec;

use super::{
    check_before_deadline, load_escrow, pay_out, record, save, settle, Decision, Dispute,
    EscrowStatus, Outcome, Role, Vote,
};
use crate::action::MAX_EVIDENCE;
use crate::bounded::{BoundedVec, Cid};
use crate::context::Env;
use crate::error::TxError;
use crate::event::{EscrowEvent, SettleCause};
use crate::ids::{Hash, Uuid};
use crate::state::Changes;

/// `RaiseDispute`: check order NotFound, NotAuthorized (not a party), InvalidState (not
/// `Funded`/`Completed`), DeadlinePassed, NoArbitrators, ArithmeticOverflow.
pub fn execute_raise_dispute(
    changes: &mut Changes,
    env: &Env,
    id: &Uuid,
    reason_hash: Hash,
    evidence: &BoundedVec<Cid, MAX_EVIDENCE>,
) -> Result<(), TxError> {
    let mut escrow = load_escrow(changes, id)?;
    if !matches!(
        escrow.role_of(&env.signer),
        Role::Requester | Role::Provider
    ) {
        return Err(TxError::NotAuthorized);
    }
    if !matches!(
        escrow.status,
        EscrowStatus::Funded | EscrowStatus::Completed
    ) {
        return Err(TxError::InvalidState {
            state: escrow.status,
        });
    }
    check_before_deadline(&escrow, env.now_ms())?;
    if escrow.arbitrators.is_empty() {
        return Err(TxError::NoArbitrators);
    }
    let deadline_ms = env
        .now_ms()
        .checked_add(escrow.dispute_window_ms)
        .ok_or(TxError::ArithmeticOverflow)?;

    let wake_before = escrow.wake_ms();
    escrow.dispute = Some(Dispute {
        raised_by: env.signer,
        reason_hash,
        evidence: evidence.clone(),
        deadline_ms,
        from_status: escrow.status,
        votes: Vec::new(),
    });
    escrow.status = EscrowStatus::Disputed;
    escrow.approvals.clear();
    let raised = EscrowEvent::DisputeRaised {
        by: env.signer,
        reason_hash,
        evidence: evidence.as_slice().to_vec(),
        deadline_ms,
    };
    record(changes, &mut escrow, env.source, raised);
    save(changes, wake_before, &escrow);
    Ok(())
}

/// `AddEvidence`: check order NotFound, NotAuthorized (not a party), InvalidState (not
/// `Disputed`), DeadlinePassed (the dispute deadline), EvidenceFull.
pub fn execute_add_evidence(
    changes: &mut Changes,
    env: &Env,
    id: &Uuid,
    cid: &Cid,
) -> Result<(), TxError> {
    let mut escrow = load_escrow(changes, id)?;
    if !matches!(
        escrow.role_of(&env.signer),
        Role::Requester | Role::Provider
    ) {
        return Err(TxError::NotAuthorized);
    }
    if escrow.status != EscrowStatus::Disputed {
        return Err(TxError::InvalidState {
            state: escrow.status,
        });
    }
    check_before_deadline(&escrow, env.now_ms())?;
    let dispute = escrow.dispute.as_mut().ok_or(TxError::StateCorrupt)?;
    if !dispute.evidence.try_push(cid.clone()) {
        return Err(TxError::EvidenceFull);
    }
    let wake_before = escrow.wake_ms();
    let added = EscrowEvent::EvidenceAdded {
        by: env.signer,
        cid: cid.clone(),
    };
    record(changes, &mut escrow, env.source, added);
    save(changes, wake_before, &escrow);
    Ok(())
}

/// `Resolve`: check order NotFound, NotAuthorized (not a listed arbitrator), InvalidState
/// (not `Disputed`), DeadlinePassed (the dispute deadline), InvalidSplit, AlreadyVoted.
/// Executes when `votes_required` distinct arbitrators voted the identical outcome.
pub fn execute_resolve(
    changes: &mut Changes,
    env: &Env,
    id: &Uuid,
    outcome: Outcome,
) -> Result<(), TxError> {
    let mut escrow = load_escrow(changes, id)?;
    if escrow.role_of(&env.signer) != Role::Arbitrator {
        return Err(TxError::NotAuthorized);
    }
    if escrow.status != EscrowStatus::Disputed {
        return Err(TxError::InvalidState {
            state: escrow.status,
        });
    }
    check_before_deadline(&escrow, env.now_ms())?;
    if let Outcome::Split { provider_bps } = outcome {
        escrow.held.mul_bps_floor(provider_bps)?;
    }
    let votes_required = escrow.votes_required();
    let dispute = escrow.dispute.as_mut().ok_or(TxError::StateCorrupt)?;
    let vote = Vote {
        by: env.signer,
        outcome,
    };
    match dispute.votes.binary_search_by(|v| v.by.cmp(&env.signer)) {
        Ok(index) => match dispute.votes.get_mut(index) {
            Some(existing) if existing.outcome == outcome => return Err(TxError::AlreadyVoted),
            Some(existing) => *existing = vote,
            None => return Err(TxError::StateCorrupt),
        },
        Err(index) => dispute.votes.insert(index, vote),
    }
    let agreeing = dispute
        .votes
        .iter()
        .filter(|v| v.outcome == outcome)
        .count();

    let wake_before = escrow.wake_ms();
    record(
        changes,
        &mut escrow,
        env.source,
        EscrowEvent::Voted {
            by: env.signer,
            outcome,
        },
    );
    if agreeing >= votes_required {
        let cause = SettleCause::Arbitration;
        match outcome {
            Outcome::Release => settle(changes, &mut escrow, env.source, Decision::Release, cause)?,
            Outcome::Refund => settle(changes, &mut escrow, env.source, Decision::Refund, cause)?,
            Outcome::Split { provider_bps } => {
                let to_provider = escrow.held.mul_bps_floor(provider_bps)?;
                let to_requester =
                    pay_out(changes, &mut escrow, to_provider, EscrowStatus::Resolved)?;
                let resolved = EscrowEvent::Resolved {
                    to_provider,
                    to_requester,
                };
                record(changes, &mut escrow, env.source, resolved);
            }
        }
    }
    save(changes, wake_before, &escrow);
    Ok(())
}
