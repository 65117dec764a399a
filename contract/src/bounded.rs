//! Bounded and validated containers for decoded data. A length prefix above the bound, or a
//! string outside its alphabet, fails decoding, so oversize or invalid values never reach a
//! transition or the state.

use alloc::string::String;
use alloc::vec::Vec;
use borsh::io::{Error, ErrorKind, Read, Write};
use borsh::{BorshDeserialize, BorshSerialize};

/// A vector of at most `N` elements, encoded like a borsh `Vec` (u32 length, then items).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BoundedVec<T, const N: u32>(Vec<T>);

impl<T, const N: u32> BoundedVec<T, N> {
    /// Wraps `items`, or gives them back if there are more than `N`.
    pub fn new(items: Vec<T>) -> Result<Self, Vec<T>> {
        match u32::try_from(items.len()) {
            Ok(len) if len <= N => Ok(Self(items)),
            _ => Err(items),
        }
    }

    pub fn empty() -> Self {
        Self(Vec::new())
    }

    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<T> {
        self.0
    }

    /// Appends `item` unless the vector is full; returns whether it was added.
    pub fn try_push(&mut self, item: T) -> bool {
        match u32::try_from(self.0.len()) {
            Ok(len) if len < N => {
                self.0.push(item);
                true
            }
            _ => false,
        }
    }
}

impl<T, const N: u32> AsRef<[T]> for BoundedVec<T, N> {
    fn as_ref(&self) -> &[T] {
        &self.0
    }
}

impl<T, const N: u32> Default for BoundedVec<T, N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<T: BorshSerialize, const N: u32> BorshSerialize for BoundedVec<T, N> {
    fn serialize<W: Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        let len = u32::try_from(self.0.len())
            .map_err(|_| Error::new(ErrorKind::InvalidData, "vector too long"))?;
        len.serialize(writer)?;
        for item in &self.0 {
            item.serialize(writer)?;
        }
        Ok(())
    }
}

impl<T: BorshDeserialize, const N: u32> BorshDeserialize for BoundedVec<T, N> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> borsh::io::Result<Self> {
        let len = u32::deserialize_reader(reader)?;
        if len > N {
            return Err(Error::new(
                ErrorKind::InvalidData,
                "vector longer than its bound",
            ));
        }
        let mut items = Vec::new();
        for _ in 0..len {
            items.push(T::deserialize_reader(reader)?);
        }
        Ok(Self(items))
    }
}

/// A short name: 1 to 32 bytes of ASCII `[a-z0-9_-]`. Used for the chain id, and for task
/// types and capabilities.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Label(String);

impl Label {
    pub const MAX_BYTES: usize = 32;

    pub fn new(text: &str) -> Option<Self> {
        Self::is_valid(text).then(|| Self(String::from(text)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_valid(text: &str) -> bool {
        !text.is_empty()
            && text.len() <= Self::MAX_BYTES
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    }
}

impl core::fmt::Display for Label {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl BorshSerialize for Label {
    fn serialize<W: Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        self.0.serialize(writer)
    }
}

impl BorshDeserialize for Label {
    fn deserialize_reader<R: Read>(reader: &mut R) -> borsh::io::Result<Self> {
        let bytes = BoundedVec::<u8, 32>::deserialize_reader(reader)?.into_vec();
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::new(ErrorKind::InvalidData, "label is not UTF-8"))?;
        Self::new(&text).ok_or_else(|| Error::new(ErrorKind::InvalidData, "invalid label"))
    }
}

/// A content identifier for evidence: 1 to 128 bytes of printable ASCII without spaces
/// (IPFS CIDs, URLs, hashes in hex all fit).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Cid(String);

impl Cid {
    pub const MAX_BYTES: usize = 128;

    pub fn new(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.len() <= Self::MAX_BYTES
            && text.bytes().all(|b| b.is_ascii_graphic());
        valid.then(|| Self(String::from(text)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl BorshSerialize for Cid {
    fn serialize<W: Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        self.0.serialize(writer)
    }
}

impl BorshDeserialize for Cid {
    fn deserialize_reader<R: Read>(reader: &mut R) -> borsh::io::Result<Self> {
        let bytes = BoundedVec::<u8, 128>::deserialize_reader(reader)?.into_vec();
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::new(ErrorKind::InvalidData, "cid is not UTF-8"))?;
        Self::new(&text).ok_or_else(|| Error::new(ErrorKind::InvalidData, "invalid cid"))
    }
}
