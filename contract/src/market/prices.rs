//! Price discovery per task type over a trailing 24 h window of hourly buckets of block
//! time. Each assignment adds to the bucket of its hour; a query sums the 24 buckets that
//! end with the current hour. VWAP = ⌊Σ(price × units) / Σ units⌋, mean =
//! ⌊Σ price / count⌋ (per assignment); an empty window reports nothing.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::amount::Amount;
use crate::bounded::Label;
use crate::error::TxError;
use crate::state::{keys, load, Changes, StateView};

pub const HOUR_MS: u64 = 60 * 60 * 1000;
pub const WINDOW_HOURS: u64 = 24;

/// One hour of one task type's assignments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PriceBucket {
    pub volume_units: u64,
    /// Σ price × units.
    pub notional: u128,
    /// Σ price per unit, one term per assignment.
    pub price_sum: u128,
    pub count: u64,
    pub min_price: Amount,
    pub max_price: Amount,
}

/// The trailing 24 h figures for a task type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PriceStats {
    pub vwap: Amount,
    pub mean_price: Amount,
    pub min_price: Amount,
    pub max_price: Amount,
    pub volume_units: u64,
    pub count: u64,
}

impl PriceBucket {
    /// A bucket holding one assignment of `units` at `price`.
    fn single(price: Amount, units: u64) -> Result<PriceBucket, TxError> {
        let notional = u128::from(price.0)
            .checked_mul(u128::from(units))
            .ok_or(TxError::ArithmeticOverflow)?;
        Ok(PriceBucket {
            volume_units: units,
            notional,
            price_sum: u128::from(price.0),
            count: 1,
            min_price: price,
            max_price: price,
        })
    }

    /// The aggregate of two buckets.
    fn merge(self, other: PriceBucket) -> Result<PriceBucket, TxError> {
        let overflow = || TxError::ArithmeticOverflow;
        Ok(PriceBucket {
            volume_units: self
                .volume_units
                .checked_add(other.volume_units)
                .ok_or_else(overflow)?,
            notional: self
                .notional
                .checked_add(other.notional)
                .ok_or_else(overflow)?,
            price_sum: self
                .price_sum
                .checked_add(other.price_sum)
                .ok_or_else(overflow)?,
            count: self.count.checked_add(other.count).ok_or_else(overflow)?,
            min_price: self.min_price.min(other.min_price),
            max_price: self.max_price.max(other.max_price),
        })
    }
}

/// Adds one assignment to its hour's bucket.
pub fn record(
    changes: &mut Changes,
    task_type: &Label,
    now_ms: u64,
    price: Amount,
    units: u64,
) -> Result<(), TxError> {
    let hour = now_ms
        .checked_div(HOUR_MS)
        .ok_or(TxError::ArithmeticOverflow)?;
    let key = keys::price_bucket(task_type, hour);
    let added = PriceBucket::single(price, units)?;
    let bucket = match load::<PriceBucket>(changes, &key)? {
        None => added,
        Some(old) => old.merge(added)?,
    };
    changes.put(key, &bucket);
    Ok(())
}

/// The figures over the 24 hourly buckets ending with the hour of `now_ms`, or `None` if
/// no assignment fell in them.
pub fn price_stats(
    view: &dyn StateView,
    task_type: &Label,
    now_ms: u64,
) -> Result<Option<PriceStats>, TxError> {
    let current = now_ms
        .checked_div(HOUR_MS)
        .ok_or(TxError::ArithmeticOverflow)?;
    let first = current.saturating_sub(WINDOW_HOURS.saturating_sub(1));
    let mut total: Option<PriceBucket> = None;
    for hour in first..=current {
        let Some(bucket) = load::<PriceBucket>(view, &keys::price_bucket(task_type, hour))? else {
            continue;
        };
        total = Some(match total {
            None => bucket,
            Some(sum) => sum.merge(bucket)?,
        });
    }
    let Some(sum) = total else { return Ok(None) };
    let floor_div = |numerator: u128, denominator: u64| {
        numerator
            .checked_div(u128::from(denominator))
            .and_then(|q| u64::try_from(q).ok())
            .map(Amount)
            .ok_or(TxError::ArithmeticOverflow)
    };
    Ok(Some(PriceStats {
        vwap: floor_div(sum.notional, sum.volume_units)?,
        mean_price: floor_div(sum.price_sum, sum.count)?,
        min_price: sum.min_price,
        max_price: sum.max_price,
        volume_units: sum.volume_units,
        count: sum.count,
    }))
}
