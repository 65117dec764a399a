//! What the block hook does to an escrow whose wake time has come: every non-terminal state
//! has a default outcome, so no deadline can strand funds.

use super::{load_escrow, record, save, settle, Decision, EscrowKind, EscrowStatus};
use crate::error::TxError;
use crate::event::{EscrowEvent, EventSource, SettleCause};
use crate::ids::Uuid;
use crate::state::Changes;

/// Applies the timeout of escrow `id` at block time `now_ms`. The escrow ends terminal, so
/// its deadline-index entry is removed. An entry whose escrow is not due is corrupt state.
pub fn on_deadline(
    changes: &mut Changes,
    source: EventSource,
    id: &Uuid,
    now_ms: u64,
) -> Result<(), TxError> {
    let mut escrow = load_escrow(changes, id).map_err(|_| TxError::StateCorrupt)?;
    let wake_before = escrow.wake_ms();
    if wake_before.is_none_or(|wake_ms| wake_ms > now_ms) {
        return Err(TxError::StateCorrupt);
    }
    match escrow.status {
        EscrowStatus::Created => {
            escrow.status = EscrowStatus::Expired;
            record(changes, &mut escrow, source, EscrowEvent::Expired);
        }
        EscrowStatus::Funded => {
            settle(
                changes,
                &mut escrow,
                source,
                Decision::Refund,
                SettleCause::Deadline,
            )?;
        }
        EscrowStatus::Completed => {
            let cause = match escrow.kind {
                EscrowKind::TimeLocked { release_after_ms } if release_after_ms <= now_ms => {
                    SettleCause::TimeLock
                }
                _ => SettleCause::Deadline,
            };
            settle(changes, &mut escrow, source, Decision::Release, cause)?;
        }
        EscrowStatus::Disputed => {
            let from_status = escrow.dispute.as_ref().map(|d| d.from_status);
            let decision = match from_status {
                Some(EscrowStatus::Completed) => Decision::Release,
                _ => Decision::Refund,
            };
            settle(
                changes,
                &mut escrow,
                source,
                decision,
                SettleCause::DisputeDeadline,
            )?;
        }
        _ => return Err(TxError::StateCorrupt),
    }
    save(changes, wake_before, &escrow);
    Ok(())
}
