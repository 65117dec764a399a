//! `Approve`: a party or arbitrator decides a release or refund, and the escrow settles on
//! the approval that meets its kind's rule.

use super::{
    check_before_deadline, load_escrow, record, save, settle, Approval, Decision, Escrow,
    EscrowKind, EscrowStatus, Role,
};
use crate::context::Env;
use crate::error::TxError;
use crate::event::{EscrowEvent, SettleCause};
use crate::ids::Uuid;
use crate::state::Changes;

/// Check order: NotFound, NotAuthorized, InvalidState, DeadlinePassed, DecisionNotAllowed,
/// AlreadyApproved.
pub fn execute_approve(
    changes: &mut Changes,
    env: &Env,
    id: &Uuid,
    decision: Decision,
) -> Result<(), TxError> {
    let mut escrow = load_escrow(changes, id)?;
    let role = escrow.role_of(&env.signer);
    if escrow.managed_by_market {
        return Err(TxError::NotAuthorized);
    }
    check_may_approve(escrow.kind, role)?;
    if !matches!(
        escrow.status,
        EscrowStatus::Funded | EscrowStatus::Completed
    ) {
        return Err(TxError::InvalidState {
            state: escrow.status,
        });
    }
    check_before_deadline(&escrow, env.now_ms())?;
    check_own_interest(escrow.kind, role, decision)?;
    let approval = Approval {
        by: env.signer,
        decision,
    };
    match escrow.approvals.binary_search_by(|a| a.by.cmp(&env.signer)) {
        Ok(index) => match escrow.approvals.get_mut(index) {
            Some(existing) if existing.decision == decision => {
                return Err(TxError::AlreadyApproved)
            }
            Some(existing) => *existing = approval,
            None => return Err(TxError::StateCorrupt),
        },
        Err(index) => escrow.approvals.insert(index, approval),
    }

    let wake_before = escrow.wake_ms();
    let approved = EscrowEvent::Approved {
        by: env.signer,
        decision,
    };
    record(changes, &mut escrow, env.source, approved);
    if rule_met(&escrow, decision) {
        settle(
            changes,
            &mut escrow,
            env.source,
            decision,
            SettleCause::Approval,
        )?;
    }
    save(changes, wake_before, &escrow);
    Ok(())
}

/// Who may approve at all, by kind.
fn check_may_approve(kind: EscrowKind, role: Role) -> Result<(), TxError> {
    let allowed = match kind {
        EscrowKind::Single | EscrowKind::TimeLocked { .. } | EscrowKind::BothParties => {
            matches!(role, Role::Requester | Role::Provider)
        }
        EscrowKind::Arbitrators { .. } => role != Role::Outsider,
    };
    if allowed {
        Ok(())
    } else {
        Err(TxError::NotAuthorized)
    }
}

/// Under `Single` rules a party may only decide against its own interest: the requester
/// releases, the provider refunds.
fn check_own_interest(kind: EscrowKind, role: Role, decision: Decision) -> Result<(), TxError> {
    if !matches!(kind, EscrowKind::Single | EscrowKind::TimeLocked { .. }) {
        return Ok(());
    }
    match (role, decision) {
        (Role::Requester, Decision::Release) | (Role::Provider, Decision::Refund) => Ok(()),
        _ => Err(TxError::DecisionNotAllowed),
    }
}

/// Whether the latest approvals meet the kind's rule for `decision`. Computed from the
/// approvals each time, never cached.
fn rule_met(escrow: &Escrow, decision: Decision) -> bool {
    let approved_by = |who| {
        escrow
            .approvals
            .iter()
            .any(|a| a.by == who && a.decision == decision)
    };
    let both_parties = approved_by(escrow.requester) && approved_by(escrow.provider);
    match escrow.kind {
        EscrowKind::Single | EscrowKind::TimeLocked { .. } => true,
        EscrowKind::BothParties => both_parties,
        EscrowKind::Arbitrators { required, .. } => {
            let arbitrator_votes = escrow
                .arbitrators
                .as_slice()
                .iter()
                .filter(|arbitrator| approved_by(**arbitrator))
                .count();
            both_parties || arbitrator_votes >= usize::from(required)
        }
    }
}
