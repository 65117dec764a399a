//! Canonical decoding. Everything that crosses a trust boundary (transactions, stored
//! values) is decoded here: trailing bytes, unknown enum tags, oversize vectors and any
//! encoding that does not re-encode to the same bytes are rejected.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

/// Why bytes were not accepted as the canonical encoding of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a valid encoding: short input, unknown tag, oversize vector, trailing bytes.
    #[error("malformed encoding")]
    Malformed,
    /// Decodes, but re-encoding gives different bytes (for example an unsorted set).
    #[error("non-canonical encoding")]
    NonCanonical,
}

/// Decodes `bytes` as `T`, accepting only the one canonical encoding of the value.
pub fn decode_canonical<T: BorshDeserialize + BorshSerialize>(
    bytes: &[u8],
) -> Result<T, DecodeError> {
    let value = borsh::from_slice::<T>(bytes).map_err(|_| DecodeError::Malformed)?;
    let again = encode(&value);
    if again.as_slice() != bytes {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

/// The borsh bytes of `value`. Writing to a `Vec` cannot fail, and no type in this crate
/// returns an error from `serialize` for a value it could construct.
pub fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec never fails; an error here would leave `out` partial, which a
    // caller comparing bytes would then reject.
    let _ = value.serialize(&mut out);
    out
}
