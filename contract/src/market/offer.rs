//! Resting offers: posting, cancelling, expiry in the block hook, and the offer-book
//! entries (one per task type) that matching reads lowest ask first, then oldest.

use super::{
    labels_sorted, load_offer, load_provider, MarketCounters, Offer, OfferStatus, MAX_TASK_TYPES,
};
use crate::amount::Amount;
use crate::bounded::{BoundedVec, Label};
use crate::context::Env;
use crate::error::TxError;
use crate::event::{Event, MarketEvent};
use crate::ids::Uuid;
use crate::state::{keys, load, Changes, StateView};

/// Check order: NotRegistered, ReservedId, AlreadyExists, ZeroAmount (ask), ZeroUnits (capacity),
/// InvalidLabels (task types empty, unsorted or repeated), DeadlineNotInFuture (expiry).
pub fn execute_post_offer(
    changes: &mut Changes,
    env: &Env,
    id: &Uuid,
    task_types: &BoundedVec<Label, MAX_TASK_TYPES>,
    ask_per_unit: Amount,
    capacity_units: u64,
    expires_at_ms: u64,
) -> Result<(), TxError> {
    if load_provider(changes, &env.signer)?.is_none() {
        return Err(TxError::NotRegistered);
    }
    if crate::ids::is_reserved_id(id) {
        return Err(TxError::ReservedId);
    }
    if changes.get(&keys::offer(id)).is_some() {
        return Err(TxError::AlreadyExists);
    }
    if ask_per_unit.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    if capacity_units == 0 {
        return Err(TxError::ZeroUnits);
    }
    if task_types.is_empty() || !labels_sorted(task_types.as_slice()) {
        return Err(TxError::InvalidLabels);
    }
    if expires_at_ms <= env.now_ms() {
        return Err(TxError::DeadlineNotInFuture);
    }

    let mut counters =
        load::<MarketCounters>(changes, &keys::market_counters())?.unwrap_or_default();
    let sequence = counters.next_offer_sequence;
    counters.next_offer_sequence = sequence.checked_add(1).ok_or(TxError::ArithmeticOverflow)?;
    let offer = Offer {
        id: *id,
        provider: env.signer,
        task_types: task_types.clone(),
        ask_per_unit,
        capacity_units,
        expires_at_ms,
        sequence,
        status: OfferStatus::Open,
    };
    for task_type in offer.task_types.as_slice() {
        changes.put(
            keys::offer_book(task_type, ask_per_unit.0, sequence, id),
            &(),
        );
    }
    changes.put(keys::deadline(expires_at_ms, keys::TAG_OFFER, id), &());
    changes.put(keys::market_counters(), &counters);
    changes.put(keys::offer(id), &offer);
    changes.emit(Event::Market(MarketEvent::OfferPosted {
        id: *id,
        provider: env.signer,
        ask_per_unit,
        capacity_units,
    }));
    Ok(())
}

/// Check order: NotFound, NotAuthorized (not the offer's provider), NotOpen.
pub fn execute_cancel_offer(changes: &mut Changes, env: &Env, id: &Uuid) -> Result<(), TxError> {
    let mut offer = load_offer(changes, id)?;
    if offer.provider != env.signer {
        return Err(TxError::NotAuthorized);
    }
    if offer.status != OfferStatus::Open {
        return Err(TxError::NotOpen);
    }
    close_offer(changes, &mut offer, OfferStatus::Cancelled);
    Ok(())
}

/// The block hook at an offer's expiry.
pub fn on_offer_expiry(changes: &mut Changes, id: &Uuid, now_ms: u64) -> Result<(), TxError> {
    let mut offer = load_offer(changes, id).map_err(|_| TxError::StateCorrupt)?;
    if offer.status != OfferStatus::Open || offer.expires_at_ms > now_ms {
        return Err(TxError::StateCorrupt);
    }
    close_offer(changes, &mut offer, OfferStatus::Expired);
    Ok(())
}

/// Takes an open offer off the book and out of the deadline index, with its final status.
pub fn close_offer(changes: &mut Changes, offer: &mut Offer, status: OfferStatus) {
    for task_type in offer.task_types.as_slice() {
        changes.delete(keys::offer_book(
            task_type,
            offer.ask_per_unit.0,
            offer.sequence,
            &offer.id,
        ));
    }
    changes.delete(keys::deadline(
        offer.expires_at_ms,
        keys::TAG_OFFER,
        &offer.id,
    ));
    offer.status = status;
    changes.put(keys::offer(&offer.id), &*offer);
    changes.emit(Event::Market(MarketEvent::OfferClosed {
        id: offer.id,
        status,
    }));
}
