//! Opening an escrow, funding it, and the provider marking the work complete.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::{
    check_before_deadline, load_escrow, record, save, Escrow, EscrowKind, EscrowStatus,
    DEFAULT_DISPUTE_WINDOW_MS, MAX_DISPUTE_WINDOW_MS,
};
use crate::action::CreateEscrow;
use crate::amount::Amount;
use crate::context::Env;
use crate::error::TxError;
use crate::event::{audit_genesis, EscrowEvent};
use crate::ids::{Hash, Uuid};
use crate::state::{keys, Changes, StateView};
use crate::wallet::debit;

/// `CreateEscrow`: validates everything about the new escrow, then (if `fund`) moves the
/// amount in. Check order: ReservedId, AlreadyExists, ZeroAmount, PartiesNotDistinct,
/// DeadlineNotInFuture, InvalidDisputeWindow, InvalidThreshold / InvalidReleaseTime,
/// InvalidArbitrators, then InsufficientFunds.
pub fn execute_create_escrow(
    changes: &mut Changes,
    env: &Env,
    create: &CreateEscrow,
) -> Result<(), TxError> {
    let now_ms = env.now_ms();
    if crate::ids::is_reserved_id(&create.id) {
        return Err(TxError::ReservedId);
    }
    if changes.get(&keys::escrow(&create.id)).is_some() {
        return Err(TxError::AlreadyExists);
    }
    if create.amount.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    if create.provider == env.signer {
        return Err(TxError::PartiesNotDistinct);
    }
    if create.deadline_ms <= now_ms {
        return Err(TxError::DeadlineNotInFuture);
    }
    let dispute_window_ms = create
        .dispute_window_ms
        .unwrap_or(DEFAULT_DISPUTE_WINDOW_MS);
    if dispute_window_ms == 0 || dispute_window_ms > MAX_DISPUTE_WINDOW_MS {
        return Err(TxError::InvalidDisputeWindow);
    }
    let arbitrators = create.arbitrators.as_slice();
    check_kind(create.kind, arbitrators.len(), now_ms, create.deadline_ms)?;
    let distinct: BTreeSet<_> = arbitrators.iter().collect();
    let includes_party = distinct.contains(&env.signer) || distinct.contains(&create.provider);
    if distinct.len() != arbitrators.len() || includes_party {
        return Err(TxError::InvalidArbitrators);
    }

    let mut escrow = Escrow {
        id: create.id,
        requester: env.signer,
        provider: create.provider,
        amount: create.amount,
        held: Amount::ZERO,
        kind: create.kind,
        arbitrators: create.arbitrators.clone(),
        deadline_ms: create.deadline_ms,
        dispute_window_ms,
        job_ref: create.job_ref,
        created_at_ms: now_ms,
        status: EscrowStatus::Created,
        result_hash: None,
        approvals: Vec::new(),
        dispute: None,
        audit_head: audit_genesis(&create.id),
        managed_by_market: false,
    };
    let created = EscrowEvent::Created {
        requester: escrow.requester,
        provider: escrow.provider,
        amount: escrow.amount,
        kind: escrow.kind,
        deadline_ms: escrow.deadline_ms,
    };
    record(changes, &mut escrow, env.source, created);
    if create.fund {
        fund(changes, env, &mut escrow)?;
    }
    save(changes, None, &escrow);
    Ok(())
}

/// The kind's own rules: the arbitrator threshold, or the time lock's release time.
fn check_kind(
    kind: EscrowKind,
    arbitrator_count: usize,
    now_ms: u64,
    deadline_ms: u64,
) -> Result<(), TxError> {
    match kind {
        EscrowKind::Single | EscrowKind::BothParties => Ok(()),
        EscrowKind::Arbitrators { required, total } => {
            let valid = required >= 1
                && required <= total
                && usize::from(total) == arbitrator_count
                && u32::from(total) <= crate::action::MAX_ARBITRATORS;
            if valid {
                Ok(())
            } else {
                Err(TxError::InvalidThreshold)
            }
        }
        EscrowKind::TimeLocked { release_after_ms } => {
            if release_after_ms > now_ms && release_after_ms < deadline_ms {
                Ok(())
            } else {
                Err(TxError::InvalidReleaseTime)
            }
        }
    }
}

/// Moves the escrow's amount from the requester into the escrow.
fn fund(changes: &mut Changes, env: &Env, escrow: &mut Escrow) -> Result<(), TxError> {
    debit(changes, &escrow.requester, escrow.amount)?;
    escrow.held = escrow.amount;
    escrow.status = EscrowStatus::Funded;
    changes.put(
        keys::holding(&escrow.requester, keys::TAG_ESCROW, &escrow.id),
        &(),
    );
    record(
        changes,
        escrow,
        env.source,
        EscrowEvent::Funded {
            amount: escrow.amount,
        },
    );
    Ok(())
}

/// `FundEscrow`: the requester funds a `Created` escrow before its deadline.
pub fn execute_fund_escrow(changes: &mut Changes, env: &Env, id: &Uuid) -> Result<(), TxError> {
    let mut escrow = load_escrow(changes, id)?;
    if env.signer != escrow.requester {
        return Err(TxError::NotAuthorized);
    }
    if escrow.status != EscrowStatus::Created {
        return Err(TxError::InvalidState {
            state: escrow.status,
        });
    }
    check_before_deadline(&escrow, env.now_ms())?;
    let wake_before = escrow.wake_ms();
    fund(changes, env, &mut escrow)?;
    save(changes, wake_before, &escrow);
    Ok(())
}

/// `MarkCompleted`: the provider declares a `Funded` escrow's work delivered.
pub fn execute_mark_completed(
    changes: &mut Changes,
    env: &Env,
    id: &Uuid,
    result_hash: Hash,
) -> Result<(), TxError> {
    let mut escrow = load_escrow(changes, id)?;
    if env.signer != escrow.provider || escrow.managed_by_market {
        return Err(TxError::NotAuthorized);
    }
    if escrow.status != EscrowStatus::Funded {
        return Err(TxError::InvalidState {
            state: escrow.status,
        });
    }
    check_before_deadline(&escrow, env.now_ms())?;
    let wake_before = escrow.wake_ms();
    escrow.status = EscrowStatus::Completed;
    escrow.result_hash = Some(result_hash);
    escrow.approvals.clear();
    record(
        changes,
        &mut escrow,
        env.source,
        EscrowEvent::Completed { result_hash },
    );
    save(changes, wake_before, &escrow);
    Ok(())
}

/// The terms of an escrow opened by the market for an assignment.
pub struct AssignmentEscrow {
    pub id: Uuid,
    pub requester: crate::ids::AccountId,
    pub provider: crate::ids::AccountId,
    pub amount: Amount,
    pub arbitrators:
        crate::bounded::BoundedVec<crate::ids::AccountId, { crate::action::MAX_ARBITRATORS }>,
    pub deadline_ms: u64,
    pub job_ref: Hash,
}

/// Opens a `Single` escrow that is funded at once from money the caller already took out
/// of circulation (a request's reservation), not from an account.
pub fn open_funded_escrow(
    changes: &mut Changes,
    env: &Env,
    terms: AssignmentEscrow,
) -> Result<(), TxError> {
    if changes.get(&keys::escrow(&terms.id)).is_some() {
        return Err(TxError::AlreadyExists);
    }
    let mut escrow = Escrow {
        id: terms.id,
        requester: terms.requester,
        provider: terms.provider,
        amount: terms.amount,
        held: Amount::ZERO,
        kind: EscrowKind::Single,
        arbitrators: terms.arbitrators,
        deadline_ms: terms.deadline_ms,
        dispute_window_ms: DEFAULT_DISPUTE_WINDOW_MS,
        job_ref: terms.job_ref,
        created_at_ms: env.now_ms(),
        status: EscrowStatus::Created,
        result_hash: None,
        approvals: Vec::new(),
        dispute: None,
        audit_head: audit_genesis(&terms.id),
        managed_by_market: true,
    };
    let created = EscrowEvent::Created {
        requester: escrow.requester,
        provider: escrow.provider,
        amount: escrow.amount,
        kind: escrow.kind,
        deadline_ms: escrow.deadline_ms,
    };
    record(changes, &mut escrow, env.source, created);
    escrow.held = escrow.amount;
    escrow.status = EscrowStatus::Funded;
    changes.put(
        keys::holding(&escrow.requester, keys::TAG_ESCROW, &escrow.id),
        &(),
    );
    let funded = EscrowEvent::Funded {
        amount: escrow.amount,
    };
    record(changes, &mut escrow, env.source, funded);
    save(changes, None, &escrow);
    Ok(())
}
