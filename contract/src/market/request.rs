//! Requests and their first-accept auctions: posting reserves `bid × units` and matches
//! resting offers at once; providers then accept slices in block order until the request
//! is filled, `max_providers` slices are taken, the window ends, or the requester cancels.
//! Whatever is unassigned at close goes back to the requester.

use alloc::vec::Vec;

use super::execution::index_new;
use super::offer::close_offer;
use super::privacy;
use super::{
    assignment_id, check_qualified, labels_sorted, load_offer, load_provider, load_request, prices,
    settlement_price, Assignment, AssignmentStatus, OfferStatus, Request, RequestStatus, Sla,
    DEFAULT_WINDOW_MS, MAX_OFFERS_SCANNED, MAX_PROVIDERS, MAX_REVIEW_WINDOW_MS, MAX_WINDOW_MS,
};
use crate::action::{PostRequest, MAX_ARBITRATORS};
use crate::amount::Amount;
use crate::bounded::BoundedVec;
use crate::context::Env;
use crate::error::TxError;
use crate::escrow::{open_funded_escrow, AssignmentEscrow};
use crate::event::{Event, MarketEvent};
use crate::ids::{AccountId, Uuid};
use crate::state::{keys, scan, Changes, StateView};
use crate::wallet::{credit, debit};

/// `bid × units`, checked.
fn reservation(bid: Amount, units: u64) -> Result<Amount, TxError> {
    bid.0
        .checked_mul(units)
        .map(Amount)
        .ok_or(TxError::ArithmeticOverflow)
}

/// Check order: ReservedId, AlreadyExists, ZeroUnits, ZeroAmount (bid), InvalidLabels (capabilities),
/// InvalidWindow, InvalidArbitrators, InvalidSla, InvalidPrivacy, ArithmeticOverflow
/// (bid × units), InsufficientFunds.
/// Then reserves the funds and matches the offer book.
pub fn execute_post_request(
    changes: &mut Changes,
    env: &Env,
    post: &PostRequest,
) -> Result<(), TxError> {
    if crate::ids::is_reserved_id(&post.id) {
        return Err(TxError::ReservedId);
    }
    if changes.get(&keys::request(&post.id)).is_some() {
        return Err(TxError::AlreadyExists);
    }
    if post.units == 0 {
        return Err(TxError::ZeroUnits);
    }
    if post.bid_per_unit.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    if !labels_sorted(post.spec.capabilities.as_slice()) {
        return Err(TxError::InvalidLabels);
    }
    let window_ms = post.window_ms.unwrap_or(DEFAULT_WINDOW_MS);
    if window_ms == 0 || window_ms > MAX_WINDOW_MS {
        return Err(TxError::InvalidWindow);
    }
    check_arbitrators(&post.arbitrators, &env.signer)?;
    check_sla(&post.sla, post.spec.max_duration_ms)?;
    privacy::check_privacy(&post.privacy, post.spec.min_reputation, &env.signer)?;
    let reserved = reservation(post.bid_per_unit, post.units)?;
    debit(changes, &env.signer, reserved)?;

    let max_providers = (post.units / 100).clamp(1, MAX_PROVIDERS);
    let window_ends_ms = env
        .now_ms()
        .checked_add(window_ms)
        .ok_or(TxError::ArithmeticOverflow)?;
    let mut request = Request {
        id: post.id,
        requester: env.signer,
        spec: post.spec.clone(),
        bid_per_unit: post.bid_per_unit,
        units: post.units,
        units_assigned: 0,
        reserved,
        window_ends_ms,
        max_providers,
        share_units: post.units.div_ceil(max_providers),
        providers: Vec::new(),
        arbitrators: post.arbitrators.clone(),
        sla: post.sla.clone(),
        privacy: post.privacy.clone(),
        status: RequestStatus::Open,
        created_at_ms: env.now_ms(),
    };
    changes.put(keys::holding(&env.signer, keys::TAG_REQUEST, &post.id), &());
    changes.put(
        keys::deadline(window_ends_ms, keys::TAG_REQUEST, &post.id),
        &(),
    );
    changes.emit(Event::Market(MarketEvent::RequestPosted {
        id: post.id,
        requester: env.signer,
        reserved,
    }));
    match_offer_book(changes, env, &mut request)?;
    changes.put(keys::request(&post.id), &request);
    Ok(())
}

/// Arbitrators for assignment disputes: distinct and not the requester.
fn check_arbitrators(
    arbitrators: &BoundedVec<AccountId, MAX_ARBITRATORS>,
    requester: &AccountId,
) -> Result<(), TxError> {
    let list = arbitrators.as_slice();
    let distinct = list
        .iter()
        .collect::<alloc::collections::BTreeSet<_>>()
        .len()
        == list.len();
    if !distinct || list.contains(requester) {
        return Err(TxError::InvalidArbitrators);
    }
    Ok(())
}

/// SLA terms: metrics sorted and distinct with minimums ≤ 10 000 bps, response plus
/// duration strictly within the task's maximum duration (so a result on time under the SLA
/// always arrives before the delivery deadline), a review window of 1 ms to 7 days.
fn check_sla(sla: &Sla, max_duration_ms: u64) -> Result<(), TxError> {
    let mins = sla.quality_min.as_slice();
    let sorted = mins
        .windows(2)
        .all(|pair| matches!(pair, [a, b] if a.metric < b.metric));
    let bps_valid = mins
        .iter()
        .all(|m| m.min_bps <= crate::amount::BPS_DENOMINATOR);
    let times_fit = sla
        .max_response_ms
        .checked_add(sla.max_duration_ms)
        .is_some_and(|total| total < max_duration_ms);
    let review_valid = sla.review_window_ms > 0 && sla.review_window_ms <= MAX_REVIEW_WINDOW_MS;
    if sorted && bps_valid && times_fit && review_valid {
        Ok(())
    } else {
        Err(TxError::InvalidSla)
    }
}

/// Assigns slices from resting offers, lowest ask first, then oldest, examining at most
/// `MAX_OFFERS_SCANNED` book entries. Offers whose provider does not qualify, already
/// holds a slice, or would be paid zero are passed over.
fn match_offer_book(
    changes: &mut Changes,
    env: &Env,
    request: &mut Request,
) -> Result<(), TxError> {
    let (start, end) = keys::prefix_range(&keys::offer_book_prefix(&request.spec.task_type));
    let candidates: Vec<Uuid> = scan(changes, &start, &end)
        .take(MAX_OFFERS_SCANNED)
        .map(|(key, _)| keys::parse_offer_book(&key).ok_or(TxError::StateCorrupt))
        .collect::<Result<_, _>>()?;
    for offer_id in candidates {
        if request.status != RequestStatus::Open {
            break;
        }
        let mut offer = load_offer(changes, &offer_id).map_err(|_| TxError::StateCorrupt)?;
        if offer.ask_per_unit > request.bid_per_unit {
            break; // the book is in ask order: nothing further can qualify
        }
        if offer.status != OfferStatus::Open || offer.expires_at_ms <= env.now_ms() {
            continue;
        }
        if request.providers.binary_search(&offer.provider).is_ok() {
            continue;
        }
        let provider = load_provider(changes, &offer.provider)?;
        if check_qualified(provider.as_ref(), request, offer.ask_per_unit).is_err() {
            continue;
        }
        let score = provider.map_or(0, |p| p.score);
        let price = settlement_price(offer.ask_per_unit, request.bid_per_unit, score)?;
        if price.is_zero() {
            continue;
        }
        let units = slice_units(request).min(offer.capacity_units);
        assign(
            changes,
            env,
            request,
            offer.provider,
            Some(offer_id),
            offer.ask_per_unit,
            price,
            units,
        )?;
        offer.capacity_units = offer
            .capacity_units
            .checked_sub(units)
            .ok_or(TxError::StateCorrupt)?;
        if offer.capacity_units == 0 {
            close_offer(changes, &mut offer, OfferStatus::Exhausted);
        } else {
            changes.put(keys::offer(&offer_id), &offer);
        }
    }
    Ok(())
}

/// The units of the next slice: the share, or what remains if less.
fn slice_units(request: &Request) -> u64 {
    let remaining = request.units.saturating_sub(request.units_assigned);
    request.share_units.min(remaining)
}

/// Check order: NotFound, NotOpen, DeadlinePassed (window end), AlreadyAssigned, the
/// qualification rules (NotRegistered, SelfDealing, MissingCapability, ReputationTooLow,
/// NotOnAllowList, AskAboveBid), ZeroAmount (ask), PriceRoundsToZero.
pub fn execute_accept_request(
    changes: &mut Changes,
    env: &Env,
    request_id: &Uuid,
    ask_per_unit: Amount,
) -> Result<(), TxError> {
    let mut request = load_request(changes, request_id)?;
    if request.status != RequestStatus::Open {
        return Err(TxError::NotOpen);
    }
    if env.now_ms() >= request.window_ends_ms {
        let deadline_ms = request.window_ends_ms;
        return Err(TxError::DeadlinePassed {
            deadline_ms,
            now_ms: env.now_ms(),
        });
    }
    if request.providers.binary_search(&env.signer).is_ok() {
        return Err(TxError::AlreadyAssigned);
    }
    let provider = load_provider(changes, &env.signer)?;
    check_qualified(provider.as_ref(), &request, ask_per_unit)?;
    if ask_per_unit.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    let score = provider.map_or(0, |p| p.score);
    let price = settlement_price(ask_per_unit, request.bid_per_unit, score)?;
    if price.is_zero() {
        return Err(TxError::PriceRoundsToZero);
    }
    let units = slice_units(&request);
    assign(
        changes,
        env,
        &mut request,
        env.signer,
        None,
        ask_per_unit,
        price,
        units,
    )?;
    changes.put(keys::request(request_id), &request);
    Ok(())
}

/// Creates one assignment: moves `price × units` from the reservation into the
/// assignment's escrow, returns `(bid − price) × units` to the requester, records the
/// price, and closes the request when it is filled.
#[allow(clippy::too_many_arguments)]
fn assign(
    changes: &mut Changes,
    env: &Env,
    request: &mut Request,
    provider: AccountId,
    offer_id: Option<Uuid>,
    ask_per_unit: Amount,
    price_per_unit: Amount,
    units: u64,
) -> Result<(), TxError> {
    let id = assignment_id(&request.id, &provider);
    let reserved_part = reservation(request.bid_per_unit, units)?;
    let cost = reservation(price_per_unit, units)?;
    let returned = reserved_part.checked_sub(cost)?;
    let delivery_deadline_ms = env
        .now_ms()
        .checked_add(request.spec.max_duration_ms)
        .ok_or(TxError::ArithmeticOverflow)?;
    // Disputes stay possible until the review window after the latest delivery closes.
    let escrow_deadline_ms = delivery_deadline_ms
        .checked_add(request.sla.review_window_ms)
        .ok_or(TxError::ArithmeticOverflow)?;
    open_funded_escrow(
        changes,
        env,
        AssignmentEscrow {
            id,
            requester: request.requester,
            provider,
            amount: cost,
            arbitrators: request.arbitrators.clone(),
            deadline_ms: escrow_deadline_ms,
            job_ref: crate::ids::sha256(&[request.id.as_bytes()]),
        },
    )?;
    request.reserved = request.reserved.checked_sub(reserved_part)?;
    if !returned.is_zero() {
        credit(changes, &request.requester, returned)?;
    }
    request.units_assigned = request
        .units_assigned
        .checked_add(units)
        .ok_or(TxError::ArithmeticOverflow)?;
    match request.providers.binary_search(&provider) {
        Ok(_) => return Err(TxError::AlreadyAssigned),
        Err(index) => request.providers.insert(index, provider),
    }
    let assignment = Assignment {
        id,
        request_id: request.id,
        requester: request.requester,
        provider,
        offer_id,
        units,
        ask_per_unit,
        price_per_unit,
        cost,
        sla: request.sla.clone(),
        assigned_at_ms: env.now_ms(),
        delivery_deadline_ms,
        started_at_ms: None,
        submitted_at_ms: None,
        result_hash: None,
        review_ends_ms: None,
        dispute_check_ms: None,
        status: AssignmentStatus::Assigned,
        violations: 0,
        penalty_charged: Amount::ZERO,
    };
    index_new(changes, &assignment);
    prices::record(
        changes,
        &request.spec.task_type,
        env.now_ms(),
        price_per_unit,
        units,
    )?;
    changes.emit(Event::Market(MarketEvent::Assigned {
        assignment_id: id,
        request_id: request.id,
        provider,
        units,
        price_per_unit,
        returned,
    }));
    let filled = request.units_assigned >= request.units
        || u64::try_from(request.providers.len()).map_or(true, |n| n >= request.max_providers);
    if filled {
        close_request(changes, request, RequestStatus::Filled)?;
    }
    Ok(())
}

/// Check order: NotFound, NotAuthorized (not the requester), NotOpen.
pub fn execute_cancel_request(changes: &mut Changes, env: &Env, id: &Uuid) -> Result<(), TxError> {
    let mut request = load_request(changes, id)?;
    if request.requester != env.signer {
        return Err(TxError::NotAuthorized);
    }
    if request.status != RequestStatus::Open {
        return Err(TxError::NotOpen);
    }
    close_request(changes, &mut request, RequestStatus::Cancelled)?;
    changes.put(keys::request(id), &request);
    Ok(())
}

/// The block hook at a request's window end.
pub fn on_request_window_end(changes: &mut Changes, id: &Uuid, now_ms: u64) -> Result<(), TxError> {
    let mut request = load_request(changes, id).map_err(|_| TxError::StateCorrupt)?;
    if request.status != RequestStatus::Open || request.window_ends_ms > now_ms {
        return Err(TxError::StateCorrupt);
    }
    close_request(changes, &mut request, RequestStatus::Expired)?;
    changes.put(keys::request(id), &request);
    Ok(())
}

/// Closes the auction: returns the unassigned reservation and clears the indexes.
fn close_request(
    changes: &mut Changes,
    request: &mut Request,
    status: RequestStatus,
) -> Result<(), TxError> {
    let returned = request.reserved;
    if !returned.is_zero() {
        credit(changes, &request.requester, returned)?;
    }
    request.reserved = Amount::ZERO;
    request.status = status;
    changes.delete(keys::holding(
        &request.requester,
        keys::TAG_REQUEST,
        &request.id,
    ));
    changes.delete(keys::deadline(
        request.window_ends_ms,
        keys::TAG_REQUEST,
        &request.id,
    ));
    changes.emit(Event::Market(MarketEvent::RequestClosed {
        id: request.id,
        status,
        returned,
    }));
    Ok(())
}
