//! Reputation events (SPEC §6), applied once per assignment when it settles, with the
//! score clamped to 0..=1000.

use super::{load_provider, MAX_SCORE};
use crate::error::TxError;
use crate::event::{Event, MarketEvent};
use crate::ids::AccountId;
use crate::state::{keys, Changes};

pub const COMPLETED_WITHIN_SLA: i32 = 10;
pub const SLA_VIOLATED: i32 = -20;
pub const FAST_RESPONSE: i32 = 2;
pub const SLOW_RESPONSE: i32 = -1;
pub const DISPUTE_WON: i32 = 15;
pub const DISPUTE_LOST: i32 = -25;
/// A response faster than this earns `FAST_RESPONSE`; slower than `SLOW_RESPONSE_MS`
/// costs `SLOW_RESPONSE`.
pub const FAST_RESPONSE_MS: u64 = 60_000;
pub const SLOW_RESPONSE_MS: u64 = 300_000;

/// The response-time adjustment for a start `response_ms` after assignment.
pub fn response_delta(response_ms: Option<u64>) -> i32 {
    match response_ms {
        Some(ms) if ms < FAST_RESPONSE_MS => FAST_RESPONSE,
        Some(ms) if ms > SLOW_RESPONSE_MS => SLOW_RESPONSE,
        _ => 0,
    }
}

/// Adds `delta` to the provider's score, clamped, and reports the change.
pub fn adjust(changes: &mut Changes, who: &AccountId, delta: i32) -> Result<(), TxError> {
    let mut provider = load_provider(changes, who)?.ok_or(TxError::StateCorrupt)?;
    let from = provider.score;
    let moved = i32::from(from)
        .saturating_add(delta)
        .clamp(0, i32::from(MAX_SCORE));
    provider.score = u16::try_from(moved).map_err(|_| TxError::ArithmeticOverflow)?;
    changes.put(keys::provider(who), &provider);
    changes.emit(Event::Market(MarketEvent::ReputationChanged {
        provider: *who,
        from,
        to: provider.score,
    }));
    Ok(())
}
