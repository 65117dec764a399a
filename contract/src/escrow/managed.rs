//! The two steps the market takes on an assignment's escrow: recording the delivered
//! result, and paying out after the SLA evaluation. Parties cannot take these steps
//! themselves on such an escrow; disputes go through the ordinary escrow actions.

use super::{load_escrow, pay_out, record, save, EscrowStatus};
use crate::amount::Amount;
use crate::error::TxError;
use crate::event::{EscrowEvent, EventSource, SettleCause};
use crate::ids::{Hash, Uuid};
use crate::state::Changes;

/// `Funded` → `Completed` with the result commitment, for a market-managed escrow.
pub fn complete_managed(
    changes: &mut Changes,
    source: EventSource,
    id: &Uuid,
    result_hash: Hash,
) -> Result<(), TxError> {
    let mut escrow = load_escrow(changes, id)?;
    if !escrow.managed_by_market {
        return Err(TxError::StateCorrupt);
    }
    if escrow.status != EscrowStatus::Funded {
        return Err(TxError::InvalidState {
            state: escrow.status,
        });
    }
    let wake_before = escrow.wake_ms();
    escrow.status = EscrowStatus::Completed;
    escrow.result_hash = Some(result_hash);
    record(
        changes,
        &mut escrow,
        source,
        EscrowEvent::Completed { result_hash },
    );
    save(changes, wake_before, &escrow);
    Ok(())
}

/// Pays a market-managed escrow out: `to_provider` to the provider, the rest back to the
/// requester. `Released` when the provider gets everything, `Refunded` when it gets
/// nothing, else `Resolved`. Fails with
/// `InvalidState` if the escrow is disputed or already settled.
pub fn pay_out_managed(
    changes: &mut Changes,
    source: EventSource,
    id: &Uuid,
    to_provider: Amount,
) -> Result<(), TxError> {
    let mut escrow = load_escrow(changes, id)?;
    if !escrow.managed_by_market {
        return Err(TxError::StateCorrupt);
    }
    if !matches!(
        escrow.status,
        EscrowStatus::Funded | EscrowStatus::Completed
    ) {
        return Err(TxError::InvalidState {
            state: escrow.status,
        });
    }
    let wake_before = escrow.wake_ms();
    let event = if to_provider == escrow.held {
        pay_out(changes, &mut escrow, to_provider, EscrowStatus::Released)?;
        EscrowEvent::Released {
            to_provider,
            cause: SettleCause::Sla,
        }
    } else if to_provider.is_zero() {
        let to_requester = pay_out(changes, &mut escrow, to_provider, EscrowStatus::Refunded)?;
        EscrowEvent::Refunded {
            to_requester,
            cause: SettleCause::Sla,
        }
    } else {
        let to_requester = pay_out(changes, &mut escrow, to_provider, EscrowStatus::Resolved)?;
        EscrowEvent::Resolved {
            to_provider,
            to_requester,
        }
    };
    record(changes, &mut escrow, source, event);
    save(changes, wake_before, &escrow);
    Ok(())
}
