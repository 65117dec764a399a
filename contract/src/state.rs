//! State as an ordered map of keys to borsh values, read through [`StateView`] and changed
//! only through [`Changes`], a write buffer that is either merged whole or dropped whole.
//!
//! Keys are a namespace byte followed by big-endian ids, so key order is id order and a
//! namespace is one contiguous range.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec::{decode_canonical, encode};
use crate::error::TxError;
use crate::event::Event;
use crate::ids::{AccountId, Uuid};

/// Read access to committed state. The runner backs it with RocksDB, tests with a
/// `BTreeMap`. Reads are infallible here: a store that cannot read must stop the node
/// rather than let a transition see a wrong answer.
pub trait StateView {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// The first entry, in key order, whose key is in `[start, end)`.
    fn first_in_range(&self, start: &[u8], end: &[u8]) -> Option<(Vec<u8>, Vec<u8>)>;
}

/// A pending write: `Some(value)` to set, `None` to delete.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The key layout: one namespace byte, then fixed-width big-endian fields.
pub mod keys {
    use super::*;

    pub const NS_META: u8 = 0x00;
    pub const NS_ACCOUNT: u8 = 0x01;
    pub const NS_ESCROW: u8 = 0x02;
    /// Deadline index: `wake_ms ‖ object tag ‖ id` → empty, read by the block hook.
    pub const NS_DEADLINE: u8 = 0x03;
    /// Holdings index: `owner ‖ object tag ‖ id` → empty, for the account view's `locked`.
    pub const NS_HOLDING: u8 = 0x04;

    pub const NS_PROVIDER: u8 = 0x05;
    pub const NS_OFFER: u8 = 0x06;
    /// Offer book: `task type ‖ ask ‖ sequence ‖ offer id` → empty (lowest ask, then oldest).
    pub const NS_OFFER_BOOK: u8 = 0x07;
    pub const NS_REQUEST: u8 = 0x08;
    pub const NS_ASSIGNMENT: u8 = 0x09;
    /// Price buckets: `task type ‖ hour` → aggregate of that hour's assignments.
    pub const NS_PRICE: u8 = 0x0a;
    /// Confidential payloads delivered to an assignment's provider.
    pub const NS_PAYLOAD: u8 = 0x0b;

    /// Object tags inside the deadline and holdings indexes.
    pub const TAG_ESCROW: u8 = 0x01;
    pub const TAG_REQUEST: u8 = 0x02;
    pub const TAG_OFFER: u8 = 0x03;
    pub const TAG_ASSIGNMENT: u8 = 0x04;

    /// The market's counters (offer sequence numbers).
    pub fn market_counters() -> Vec<u8> {
        alloc::vec![NS_META, 0x04]
    }

    /// A label as a fixed 32-byte field: zero-padded, so key order is label order.
    pub fn label_field(label: &crate::bounded::Label) -> [u8; 32] {
        let mut field = [0u8; 32];
        for (slot, byte) in field.iter_mut().zip(label.as_str().bytes()) {
            *slot = byte;
        }
        field
    }

    pub fn provider(account: &AccountId) -> Vec<u8> {
        let mut key = alloc::vec![NS_PROVIDER];
        key.extend_from_slice(&account.0);
        key
    }

    pub fn offer(id: &Uuid) -> Vec<u8> {
        let mut key = alloc::vec![NS_OFFER];
        key.extend_from_slice(id.as_bytes());
        key
    }

    pub fn offer_book_prefix(task_type: &crate::bounded::Label) -> Vec<u8> {
        let mut key = alloc::vec![NS_OFFER_BOOK];
        key.extend_from_slice(&label_field(task_type));
        key
    }

    pub fn offer_book(
        task_type: &crate::bounded::Label,
        ask_per_unit: u64,
        sequence: u64,
        id: &Uuid,
    ) -> Vec<u8> {
        let mut key = offer_book_prefix(task_type);
        key.extend_from_slice(&ask_per_unit.to_be_bytes());
        key.extend_from_slice(&sequence.to_be_bytes());
        key.extend_from_slice(id.as_bytes());
        key
    }

    /// The offer id at the end of an offer-book key.
    pub fn parse_offer_book(key: &[u8]) -> Option<Uuid> {
        let start = key.len().checked_sub(16)?;
        Uuid::from_slice(key.get(start..)?).ok()
    }

    pub fn request(id: &Uuid) -> Vec<u8> {
        let mut key = alloc::vec![NS_REQUEST];
        key.extend_from_slice(id.as_bytes());
        key
    }

    pub fn delivered_payload(assignment: &Uuid) -> Vec<u8> {
        let mut key = alloc::vec![NS_PAYLOAD];
        key.extend_from_slice(assignment.as_bytes());
        key
    }

    pub fn assignment(id: &Uuid) -> Vec<u8> {
        let mut key = alloc::vec![NS_ASSIGNMENT];
        key.extend_from_slice(id.as_bytes());
        key
    }

    pub fn price_bucket(task_type: &crate::bounded::Label, hour: u64) -> Vec<u8> {
        let mut key = alloc::vec![NS_PRICE];
        key.extend_from_slice(&label_field(task_type));
        key.extend_from_slice(&hour.to_be_bytes());
        key
    }

    pub fn chain_config() -> Vec<u8> {
        alloc::vec![NS_META, 0x01]
    }

    pub fn supply() -> Vec<u8> {
        alloc::vec![NS_META, 0x02]
    }

    pub fn chain_head() -> Vec<u8> {
        alloc::vec![NS_META, 0x03]
    }

    pub fn account(id: &AccountId) -> Vec<u8> {
        let mut key = alloc::vec![NS_ACCOUNT];
        key.extend_from_slice(&id.0);
        key
    }

    pub fn escrow(id: &Uuid) -> Vec<u8> {
        let mut key = alloc::vec![NS_ESCROW];
        key.extend_from_slice(id.as_bytes());
        key
    }

    pub fn deadline(wake_ms: u64, tag: u8, id: &Uuid) -> Vec<u8> {
        let mut key = alloc::vec![NS_DEADLINE];
        key.extend_from_slice(&wake_ms.to_be_bytes());
        key.push(tag);
        key.extend_from_slice(id.as_bytes());
        key
    }

    /// Splits a deadline-index key into its object tag and id.
    pub fn parse_deadline(key: &[u8]) -> Option<(u8, Uuid)> {
        match key {
            [NS_DEADLINE, _, _, _, _, _, _, _, _, tag, id @ ..] => {
                Some((*tag, Uuid::from_slice(id).ok()?))
            }
            _ => None,
        }
    }

    pub fn holding(owner: &AccountId, tag: u8, id: &Uuid) -> Vec<u8> {
        let mut key = alloc::vec![NS_HOLDING];
        key.extend_from_slice(&owner.0);
        key.push(tag);
        key.extend_from_slice(id.as_bytes());
        key
    }

    /// The prefix of every holdings-index key of `owner`.
    pub fn holdings_of(owner: &AccountId) -> Vec<u8> {
        let mut key = alloc::vec![NS_HOLDING];
        key.extend_from_slice(&owner.0);
        key
    }

    /// The half-open key range of one namespace.
    pub fn namespace(ns: u8) -> (Vec<u8>, Vec<u8>) {
        (alloc::vec![ns], alloc::vec![ns.saturating_add(1)])
    }

    /// The half-open key range of every key that starts with `prefix`.
    pub fn prefix_range(prefix: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut end = Vec::from(prefix);
        while let Some(last) = end.pop() {
            if last < 0xff {
                end.push(last.saturating_add(1));
                return (Vec::from(prefix), end);
            }
        }
        // Only an all-0xff prefix gets here; no key of ours is this long.
        (Vec::from(prefix), alloc::vec![0xff; 256])
    }
}

/// The smallest key strictly after `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = Vec::from(key);
    next.push(0);
    next
}

/// Iterates `[start, end)` of a view in key order, one `first_in_range` call per entry.
pub fn scan<'a>(
    view: &'a dyn StateView,
    start: &[u8],
    end: &[u8],
) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a {
    let mut cursor = Vec::from(start);
    let end = Vec::from(end);
    core::iter::from_fn(move || {
        let (key, value) = view.first_in_range(&cursor, &end)?;
        cursor = successor(&key);
        Some((key, value))
    })
}

/// Reads and decodes a value; a stored value that does not decode is `StateCorrupt`.
pub fn load<T: BorshDeserialize + BorshSerialize>(
    view: &dyn StateView,
    key: &[u8],
) -> Result<Option<T>, TxError> {
    decode_record(view.get(key).as_deref())
}

/// A stored record decoded as [`load`] decodes it (`None` for an absent key), for callers
/// that read many values at once.
pub fn decode_record<T: BorshDeserialize + BorshSerialize>(
    record: Option<&[u8]>,
) -> Result<Option<T>, TxError> {
    match record {
        None => Ok(None),
        Some(bytes) => decode_canonical(bytes)
            .map(Some)
            .map_err(|_| TxError::StateCorrupt),
    }
}

/// A write buffer over a view: reads see the buffer first, then the view. Dropping it
/// discards everything, so a transition that returns an error has written nothing.
pub struct Changes<'a> {
    base: &'a dyn StateView,
    writes: WriteSet,
    events: Vec<Event>,
}

impl<'a> Changes<'a> {
    pub fn new(base: &'a dyn StateView) -> Self {
        Self::with_writes(base, WriteSet::new())
    }

    /// A buffer over `base` that already holds `writes`: resumes one that was taken apart
    /// with [`Changes::into_parts`] (a block executed in several steps).
    pub fn with_writes(base: &'a dyn StateView, writes: WriteSet) -> Self {
        Changes {
            base,
            writes,
            events: Vec::new(),
        }
    }

    pub fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        self.writes.insert(key, Some(encode(value)));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Moves an object's deadline-index entry from `wake_before` to `wake_after` (either
    /// may be none): the one place index entries are added and removed for objects whose
    /// wake time is computed from their state.
    pub fn move_deadline(
        &mut self,
        tag: u8,
        id: &Uuid,
        wake_before: Option<u64>,
        wake_after: Option<u64>,
    ) {
        if wake_before == wake_after {
            return;
        }
        if let Some(wake_ms) = wake_before {
            self.delete(keys::deadline(wake_ms, tag, id));
        }
        if let Some(wake_ms) = wake_after {
            self.put(keys::deadline(wake_ms, tag, id), &());
        }
    }

    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    pub fn writes(&self) -> &WriteSet {
        &self.writes
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The buffered writes and events, for merging into an outer buffer or committing.
    pub fn into_parts(self) -> (WriteSet, Vec<Event>) {
        (self.writes, self.events)
    }

    /// Adds the writes of an inner buffer (its events are the caller's to keep); a later
    /// write of a key replaces this buffer's.
    pub fn absorb(&mut self, mut writes: WriteSet) {
        // Few writes go in one by one (a search each); many are merged in one pass over
        // both maps, as `BTreeMap::append` does, which also keeps the later value.
        if writes.len() >= self.writes.len() / 8 {
            self.writes.append(&mut writes);
        } else {
            self.writes.extend(writes);
        }
    }
}

impl StateView for Changes<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.writes.get(key) {
            Some(pending) => pending.clone(),
            None => self.base.get(key),
        }
    }

    fn first_in_range(&self, start: &[u8], end: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        if start >= end {
            return None;
        }
        // The first live buffered entry in range.
        let buffered = self
            .writes
            .range::<[u8], _>((
                core::ops::Bound::Included(start),
                core::ops::Bound::Excluded(end),
            ))
            .find_map(|(key, value)| value.as_ref().map(|value| (key.clone(), value.clone())));
        // The first base entry in range that the buffer does not overwrite or delete.
        let mut cursor = Vec::from(start);
        let base = loop {
            match self.base.first_in_range(&cursor, end) {
                None => break None,
                Some((key, value)) => {
                    if self.writes.contains_key(&key) {
                        cursor = successor(&key);
                    } else {
                        break Some((key, value));
                    }
                }
            }
        };
        match (buffered, base) {
            (Some(b), Some(s)) => Some(if b.0 <= s.0 { b } else { s }),
            (b, s) => b.or(s),
        }
    }
}

/// State in memory: the test backend, and the SDK's in-process chain later.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemState {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemState {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&mut self, writes: &WriteSet) {
        for (key, value) in writes {
            match value {
                Some(value) => self.entries.insert(key.clone(), value.clone()),
                None => self.entries.remove(key),
            };
        }
    }

    pub fn entries(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.entries
    }
}

impl StateView for MemState {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.entries.get(key).cloned()
    }

    fn first_in_range(&self, start: &[u8], end: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        if start >= end {
            return None;
        }
        self.entries
            .range::<[u8], _>((
                core::ops::Bound::Included(start),
                core::ops::Bound::Excluded(end),
            ))
            .next()
            .map(|(key, value)| (key.clone(), value.clone()))
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::vec;

    fn writes(range: core::ops::Range<u16>, tag: u8) -> WriteSet {
        range
            .map(|key| {
                let value = (key % 7 != 0).then(|| vec![tag]);
                (key.to_be_bytes().to_vec(), value)
            })
            .collect()
    }

    /// Absorbed writes replace the buffer's for the same key and keep the rest, whether
    /// they go in one by one (few) or merged (many); deletions are kept as `None`.
    #[test]
    fn absorb_keeps_the_later_write_of_each_key() {
        let base = MemState::new();
        for (held, absorbed) in [(0..1000, 990..1010), (0..100, 50..400), (0..0, 0..10)] {
            let mut changes = Changes::with_writes(&base, writes(held.clone(), 1));
            changes.absorb(writes(absorbed.clone(), 2));
            let mut expected = writes(held, 1);
            expected.extend(writes(absorbed, 2));
            assert_eq!(changes.into_parts().0, expected);
        }
    }
}
