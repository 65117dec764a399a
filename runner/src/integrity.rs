//! The start-up consistency check of the store (docs/durability.md). RocksDB already
//! guarantees that a block's one `WriteBatch` is applied entirely or not at all, recovers
//! a torn write-ahead log to its last whole record, and checks a checksum on every block
//! of every table file it reads. This module checks what RocksDB cannot know: that what
//! the store holds is one chain. Before the node serves anything it verifies
//!
//! * the head record and the blocks agree: no block above the head, every block of the
//!   last [`RECENT_BLOCKS`] heights and the genesis block present;
//! * each of those blocks: it decodes, its header is at its height, names the chain and
//!   the sequencer of the genesis block's header, is signed by that sequencer and links to
//!   the previous header, and its tx count matches;
//! * for the genesis block and the last [`RECENT_FULL_BLOCKS`] (where an interrupted or
//!   damaged write would show), also the contents: tx root, receipts (count, hashes,
//!   receipts root) and hook-events hash match the header, and the tx index points at
//!   each transaction (this costs a few µs per transaction, so it is not done for all
//!   256: at 20 000 transactions a block that would take seconds);
//! * the chain-head record in state equals the head block's height and time.
//!
//! `AgoraApp::open` then rebuilds the state tree from every state entry (which reads, and
//! so checksums, the whole state) and refuses to start unless its root equals the head
//! header's state root. Older blocks are checked by `agora-runner replay`, and by RocksDB's
//! checksums whenever they are read: a corrupt one is answered as an error, never served.
//!
//! A failure is a [`StoreError::Corrupt`] whose message names the height and what is
//! wrong; the node then refuses to start.

use agora_contract::block::Receipt;
use agora_contract::bounded::Label;
use agora_contract::commit::list_root;
use agora_contract::ids::{sha256, AccountId, Hash};

use crate::store::{block_heights, Store, StoreError, StoreResult, StoredBlock, TxLocation};

/// How many of the latest blocks are verified in full at every start.
pub const RECENT_BLOCKS: u64 = 256;

/// How many of the latest blocks also have their contents (transactions, receipts, tx
/// index) checked at every start.
pub const RECENT_FULL_BLOCKS: u64 = 8;

/// What the check verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Last committed height, `None` for a store without a chain.
    pub head: Option<u64>,
    /// Blocks verified in full.
    pub blocks_checked: u64,
}

fn corrupt(height: u64, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!(
        "inconsistent at height {height}: {what}; the node refuses to start on this data \
         dir (restore it from a copy, or inspect it with `agora-runner replay`)"
    ))
}

/// Checks the store before the node starts.
pub fn check_store(store: &Store) -> StoreResult<IntegrityReport> {
    check_store_depth(store, RECENT_BLOCKS)
}

/// A deep check (`depth` beyond [`RECENT_BLOCKS`]) checks every block it reads in full.
fn depth_full(depth: u64) -> u64 {
    if depth > RECENT_BLOCKS {
        depth
    } else {
        0
    }
}

/// [`check_store`] verifying the last `depth` blocks (`u64::MAX`: every block; a depth
/// beyond [`RECENT_BLOCKS`] checks the contents of every block it reads).
pub fn check_store_depth(store: &Store, depth: u64) -> StoreResult<IntegrityReport> {
    let Some(head) = store.head()? else {
        if let Some(height) = block_heights(store, 0).next() {
            return Err(corrupt(height, "a block is stored but no head height"));
        }
        return Ok(IntegrityReport {
            head: None,
            blocks_checked: 0,
        });
    };
    // The chain's identity is the genesis block's: every later header must name the same
    // chain and sequencer and carry that sequencer's signature.
    let genesis_block = store
        .block(0)
        .map_err(|error| corrupt(0, format!("block does not read: {error}")))?
        .ok_or_else(|| corrupt(0, "the genesis block is missing"))?;
    let chain_id = genesis_block.header.header.chain_id.clone();
    let sequencer = genesis_block.header.header.proposer;
    if let Some(above) = block_heights(store, head.saturating_add(1)).next() {
        return Err(corrupt(
            above,
            format!("a block is stored above the head height {head}"),
        ));
    }
    let first = head.saturating_sub(depth.saturating_sub(1)).max(1);
    let mut heights = vec![0];
    heights.extend(first..=head);
    let mut previous: Option<(u64, Hash)> = None;
    let mut checked = 0u64;
    for height in heights {
        let block = store
            .block(height)
            .map_err(|error| corrupt(height, format!("block does not read: {error}")))?
            .ok_or_else(|| corrupt(height, "block is missing"))?;
        let full =
            height == 0 || head.saturating_sub(height) < RECENT_FULL_BLOCKS.max(depth_full(depth));
        check_block(store, &chain_id, &sequencer, height, &block, full)?;
        if let Some((previous_height, previous_hash)) = previous {
            if previous_height.saturating_add(1) == height
                && block.header.header.prev_hash != previous_hash
            {
                return Err(corrupt(height, "previous header hash does not link"));
            }
        }
        previous = Some((height, block.header.header.hash()));
        checked = checked.saturating_add(1);
        if height == head {
            let chain_head = store
                .chain_head()
                .map_err(|error| corrupt(height, format!("chain head record: {error}")))?
                .ok_or_else(|| corrupt(height, "chain head record is missing"))?;
            if chain_head.height != height || chain_head.time_ms != block.header.header.time_ms {
                return Err(corrupt(
                    height,
                    format!(
                        "state is at height {} time {}, the head block at time {}",
                        chain_head.height, chain_head.time_ms, block.header.header.time_ms
                    ),
                ));
            }
        }
    }
    Ok(IntegrityReport {
        head: Some(head),
        blocks_checked: checked,
    })
}

/// One block against its own header and the store's receipts and tx index.
fn check_block(
    store: &Store,
    chain_id: &Label,
    sequencer: &AccountId,
    height: u64,
    block: &StoredBlock,
    full: bool,
) -> StoreResult<()> {
    let header = &block.header.header;
    if header.height != height {
        return Err(corrupt(
            height,
            format!("the block stored here has height {}", header.height),
        ));
    }
    block
        .header
        .verify(chain_id, sequencer)
        .map_err(|error| corrupt(height, format!("header: {error}")))?;
    if usize::try_from(header.tx_count) != Ok(block.txs.len()) {
        return Err(corrupt(height, "tx count differs from the header"));
    }
    if !full {
        return Ok(());
    }
    let tx_hashes: Vec<Hash> = block.txs.iter().map(|tx| sha256(&[tx])).collect();
    if list_root(&tx_hashes) != header.tx_root {
        return Err(corrupt(height, "transactions do not match the tx root"));
    }
    let hook = agora_contract::header::hook_events_hash(&block.hook_events);
    if hook != header.hook_events_hash {
        return Err(corrupt(height, "hook events do not match the header"));
    }
    let receipts: Vec<Receipt> = store
        .receipts(height)
        .map_err(|error| corrupt(height, format!("receipts do not read: {error}")))?;
    if receipts.len() != block.txs.len() {
        return Err(corrupt(
            height,
            format!("{} receipts for {} txs", receipts.len(), block.txs.len()),
        ));
    }
    let encoded: Vec<Vec<u8>> = receipts
        .iter()
        .map(|receipt| borsh::to_vec(receipt).unwrap_or_default())
        .collect();
    if list_root(&encoded) != header.receipts_root {
        return Err(corrupt(height, "receipts do not match the receipts root"));
    }
    for (index, (receipt, hash)) in receipts.iter().zip(&tx_hashes).enumerate() {
        if &receipt.tx_hash != hash {
            return Err(corrupt(
                height,
                format!("receipt {index} is for another tx"),
            ));
        }
        let here = TxLocation {
            height,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        };
        match store.tx_location(hash)? {
            Some(location) if location == here => {}
            // The same bytes may have been included again after an envelope failure;
            // the index then points at the other inclusion, which must hold them too.
            Some(location) if holds(store, location, hash)? => {}
            _ => {
                return Err(corrupt(
                    height,
                    format!("tx index does not point at tx {index}"),
                ))
            }
        }
    }
    Ok(())
}

fn holds(store: &Store, location: TxLocation, hash: &Hash) -> StoreResult<bool> {
    let Some(block) = store.block(location.height)? else {
        return Ok(false);
    };
    Ok(usize::try_from(location.index)
        .ok()
        .and_then(|index| block.txs.get(index))
        .is_some_and(|tx| &sha256(&[tx]) == hash))
}
