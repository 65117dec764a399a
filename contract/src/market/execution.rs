//! Task execution and SLA settlement: the provider starts and submits, the requester rates
//! within the review window (silence means the quality minimums are met), and the
//! assignment settles exactly once — paying the provider the cost less the capped penalty
//! from the assignment's escrow and applying the reputation events. Work not submitted by
//! the delivery deadline is refunded in full.

use super::reputation::{self, response_delta};
use super::{load_assignment, Assignment, AssignmentStatus, QualityScore, MAX_QUALITY_METRICS};
use crate::amount::Amount;
use crate::bounded::BoundedVec;
use crate::context::Env;
use crate::error::TxError;
use crate::escrow::{complete_managed, load_escrow, pay_out_managed, EscrowStatus};
use crate::event::{Event, EventSource, MarketEvent};
use crate::ids::{Hash, Uuid};
use crate::state::{keys, Changes};

/// Writes the assignment and moves its deadline-index entry to its new wake time.
fn save(changes: &mut Changes, wake_before: Option<u64>, assignment: &Assignment) {
    let wake_after = assignment.wake_ms();
    changes.move_deadline(
        keys::TAG_ASSIGNMENT,
        &assignment.id,
        wake_before,
        wake_after,
    );
    changes.put(keys::assignment(&assignment.id), assignment);
}

/// Records the first index entry of a new assignment.
pub fn index_new(changes: &mut Changes, assignment: &Assignment) {
    save(changes, None, assignment);
}

fn wrong_status(assignment: &Assignment) -> TxError {
    TxError::WrongAssignmentStatus {
        status: assignment.status,
    }
}

/// `StartTask`: check order NotFound, NotAuthorized (not the provider),
/// WrongAssignmentStatus (not `Assigned`).
pub fn execute_start_task(changes: &mut Changes, env: &Env, id: &Uuid) -> Result<(), TxError> {
    let mut assignment = load_assignment(changes, id)?;
    if assignment.provider != env.signer {
        return Err(TxError::NotAuthorized);
    }
    if assignment.status != AssignmentStatus::Assigned {
        return Err(wrong_status(&assignment));
    }
    let wake_before = assignment.wake_ms();
    assignment.started_at_ms = Some(env.now_ms());
    assignment.status = AssignmentStatus::Started;
    save(changes, wake_before, &assignment);
    changes.emit(Event::Market(MarketEvent::TaskStarted {
        assignment_id: *id,
    }));
    Ok(())
}

/// `SubmitResult`: check order NotFound, NotAuthorized (not the provider),
/// WrongAssignmentStatus (not `Started`), ArithmeticOverflow (review end), then the escrow
/// must still be `Funded` (a disputed escrow gives `InvalidState`).
pub fn execute_submit_result(
    changes: &mut Changes,
    env: &Env,
    id: &Uuid,
    result_hash: Hash,
) -> Result<(), TxError> {
    let mut assignment = load_assignment(changes, id)?;
    if assignment.provider != env.signer {
        return Err(TxError::NotAuthorized);
    }
    if assignment.status != AssignmentStatus::Started {
        return Err(wrong_status(&assignment));
    }
    let review_ends_ms = env
        .now_ms()
        .checked_add(assignment.sla.review_window_ms)
        .ok_or(TxError::ArithmeticOverflow)?;
    complete_managed(changes, env.source, id, result_hash)?;
    let wake_before = assignment.wake_ms();
    assignment.submitted_at_ms = Some(env.now_ms());
    assignment.result_hash = Some(result_hash);
    assignment.review_ends_ms = Some(review_ends_ms);
    assignment.status = AssignmentStatus::Submitted;
    save(changes, wake_before, &assignment);
    changes.emit(Event::Market(MarketEvent::ResultSubmitted {
        assignment_id: *id,
        result_hash,
    }));
    Ok(())
}

/// `RateResult`: check order NotFound, NotAuthorized (not the requester),
/// WrongAssignmentStatus (not `Submitted`, so a second rating is refused), DeadlinePassed
/// (review window), InvalidLabels (scores unsorted or repeated), InvalidSla (a score above
/// 10 000 bps), InvalidState (the escrow is disputed, so the dispute decides); then
/// settles.
pub fn execute_rate_result(
    changes: &mut Changes,
    env: &Env,
    id: &Uuid,
    scores: &BoundedVec<QualityScore, MAX_QUALITY_METRICS>,
) -> Result<(), TxError> {
    let mut assignment = load_assignment(changes, id)?;
    if assignment.requester != env.signer {
        return Err(TxError::NotAuthorized);
    }
    if assignment.status != AssignmentStatus::Submitted {
        return Err(wrong_status(&assignment));
    }
    let review_ends_ms = assignment.review_ends_ms.ok_or(TxError::StateCorrupt)?;
    if env.now_ms() >= review_ends_ms {
        return Err(TxError::DeadlinePassed {
            deadline_ms: review_ends_ms,
            now_ms: env.now_ms(),
        });
    }
    let metrics_sorted = scores
        .as_slice()
        .windows(2)
        .all(|pair| matches!(pair, [a, b] if a.metric < b.metric));
    if !metrics_sorted {
        return Err(TxError::InvalidLabels);
    }
    if scores
        .as_slice()
        .iter()
        .any(|s| s.score_bps > crate::amount::BPS_DENOMINATOR)
    {
        return Err(TxError::InvalidSla);
    }
    let escrow = load_escrow(changes, id).map_err(|_| TxError::StateCorrupt)?;
    if escrow.status != EscrowStatus::Completed {
        return Err(TxError::InvalidState {
            state: escrow.status,
        });
    }
    changes.emit(Event::Market(MarketEvent::ResultRated {
        assignment_id: *id,
    }));
    settle(
        changes,
        env.source,
        env.now_ms(),
        &mut assignment,
        Some(scores.as_slice()),
    )
}

/// The block hook at an assignment's wake time: the delivery deadline (never submitted),
/// the end of the review window (silence), or a check on a disputed escrow.
pub fn on_assignment_deadline(
    changes: &mut Changes,
    source: EventSource,
    id: &Uuid,
    now_ms: u64,
) -> Result<(), TxError> {
    let mut assignment = load_assignment(changes, id).map_err(|_| TxError::StateCorrupt)?;
    if assignment.wake_ms().is_none_or(|wake_ms| wake_ms > now_ms) {
        return Err(TxError::StateCorrupt);
    }
    settle(changes, source, now_ms, &mut assignment, None)
}

/// Settles the assignment once, from whatever state its escrow is in.
fn settle(
    changes: &mut Changes,
    source: EventSource,
    now_ms: u64,
    assignment: &mut Assignment,
    scores: Option<&[QualityScore]>,
) -> Result<(), TxError> {
    let escrow = load_escrow(changes, &assignment.id).map_err(|_| TxError::StateCorrupt)?;
    let wake_before = assignment.wake_ms();
    match escrow.status {
        EscrowStatus::Disputed => {
            // The dispute decides the money; look again when it must have ended (and never
            // in this block, so the hook's cursor never meets this entry again).
            let dispute_ends_ms = escrow.dispute.as_ref().map_or(0, |d| d.deadline_ms);
            assignment.dispute_check_ms = Some(dispute_ends_ms.max(now_ms.saturating_add(1)));
            assignment.status = AssignmentStatus::AwaitingDispute;
        }
        EscrowStatus::Released | EscrowStatus::Refunded | EscrowStatus::Resolved => {
            let delta = match escrow.status {
                EscrowStatus::Released => reputation::DISPUTE_WON,
                EscrowStatus::Refunded => reputation::DISPUTE_LOST,
                _ => 0,
            };
            assignment.status = AssignmentStatus::DisputeSettled;
            assignment.dispute_check_ms = None;
            if delta != 0 {
                reputation::adjust(changes, &assignment.provider, delta)?;
            }
            emit_settled(changes, assignment);
        }
        EscrowStatus::Funded | EscrowStatus::Completed => {
            evaluate(assignment, scores)?;
            let to_provider = assignment.cost.checked_sub(assignment.penalty_charged)?;
            pay_out_managed(changes, source, &assignment.id, to_provider)?;
            let started = assignment.started_at_ms;
            let response_ms = started.map(|t| t.saturating_sub(assignment.assigned_at_ms));
            let base = if assignment.status == AssignmentStatus::Completed {
                reputation::COMPLETED_WITHIN_SLA
            } else {
                reputation::SLA_VIOLATED
            };
            let delta = base.saturating_add(response_delta(response_ms));
            reputation::adjust(changes, &assignment.provider, delta)?;
            emit_settled(changes, assignment);
        }
        EscrowStatus::Created | EscrowStatus::Expired => return Err(TxError::StateCorrupt),
    }
    save(changes, wake_before, assignment);
    Ok(())
}

fn emit_settled(changes: &mut Changes, assignment: &Assignment) {
    changes.emit(Event::Market(MarketEvent::AssignmentSettled {
        assignment_id: assignment.id,
        status: assignment.status,
        violations: assignment.violations,
        penalty_charged: assignment.penalty_charged,
    }));
}

/// Counts the violations and the capped penalty, and sets the settled status. Work never
/// submitted is refunded in full.
fn evaluate(assignment: &mut Assignment, scores: Option<&[QualityScore]>) -> Result<(), TxError> {
    let sla = &assignment.sla;
    let (Some(started), Some(submitted)) = (assignment.started_at_ms, assignment.submitted_at_ms)
    else {
        assignment.violations = 1;
        assignment.penalty_charged = assignment.cost;
        assignment.status = AssignmentStatus::SlaViolated;
        return Ok(());
    };
    let late_start = started.saturating_sub(assignment.assigned_at_ms) > sla.max_response_ms;
    let late_finish = submitted.saturating_sub(started) > sla.max_duration_ms;
    let quality_misses = match scores {
        None => 0,
        Some(scores) => sla
            .quality_min
            .as_slice()
            .iter()
            .filter(|min| {
                let score = scores.iter().find(|s| s.metric == min.metric);
                score.is_none_or(|s| s.score_bps < min.min_bps)
            })
            .count(),
    };
    let violations = u8::try_from(quality_misses)
        .ok()
        .and_then(|misses| misses.checked_add(u8::from(late_start)))
        .and_then(|sum| sum.checked_add(u8::from(late_finish)))
        .ok_or(TxError::ArithmeticOverflow)?;
    let uncapped = sla.penalty.0.checked_mul(u64::from(violations));
    let penalty = uncapped.map_or(assignment.cost, |p| Amount(p).min(assignment.cost));
    assignment.violations = violations;
    assignment.penalty_charged = penalty;
    assignment.status = if violations == 0 {
        AssignmentStatus::Completed
    } else {
        AssignmentStatus::SlaViolated
    };
    Ok(())
}
