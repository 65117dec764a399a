//! Money as a type. Every operation on an [`Amount`] is checked: overflow is a typed error,
//! never a wrap, a panic or a silent saturation.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::TxError;

/// Basis points in a whole: 10 000 bps = 100 %.
pub const BPS_DENOMINATOR: u16 = 10_000;

/// A quantity of the chain's one token, in its smallest unit.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Amount(pub u64);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Amount) -> Result<Amount, TxError> {
        self.0
            .checked_add(other.0)
            .map(Amount)
            .ok_or(TxError::ArithmeticOverflow)
    }

    pub fn checked_sub(self, other: Amount) -> Result<Amount, TxError> {
        self.0
            .checked_sub(other.0)
            .map(Amount)
            .ok_or(TxError::ArithmeticOverflow)
    }

    /// `⌊self × bps / 10 000⌋`, for `bps ≤ 10 000` (so the result never exceeds `self`).
    pub fn mul_bps_floor(self, bps: u16) -> Result<Amount, TxError> {
        if bps > BPS_DENOMINATOR {
            return Err(TxError::InvalidSplit { provider_bps: bps });
        }
        let product = u128::from(self.0)
            .checked_mul(u128::from(bps))
            .ok_or(TxError::ArithmeticOverflow)?;
        let quotient = product
            .checked_div(u128::from(BPS_DENOMINATOR))
            .ok_or(TxError::ArithmeticOverflow)?;
        u64::try_from(quotient)
            .map(Amount)
            .map_err(|_| TxError::ArithmeticOverflow)
    }
}

impl core::fmt::Display for Amount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}
