//! `agora-runner replay`: re-executes a data dir's chain from its genesis with full
//! signature checks, in memory, and compares every block's roots with the stored header.

use std::path::Path;

use agora_contract::block::{apply_block, init_chain};
use agora_contract::commit::{list_root, StateTree};
use agora_contract::context::BlockCtx;
use agora_contract::ids::{sha256, Hash};
use agora_contract::state::MemState;

use crate::genesis::GenesisDoc;
use crate::node::db_path;
use crate::store::Store;

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Highest height replayed.
    pub head: u64,
    /// Blocks replayed and compared, including genesis.
    pub blocks_checked: u64,
    /// (height, which root) for every mismatch.
    pub mismatches: Vec<(u64, &'static str)>,
    pub final_state_root: Hash,
}

/// Replays the chain in `data_dir`, opened read-only (a running node may keep going; the
/// replay covers what was committed when it started).
pub fn replay(data_dir: &Path) -> anyhow::Result<ReplayReport> {
    let store = Store::open_read_only(&db_path(data_dir))?;
    let head = store
        .head()?
        .ok_or_else(|| anyhow::anyhow!("the data dir holds no chain"))?;
    let genesis_json = store
        .genesis_json()?
        .ok_or_else(|| anyhow::anyhow!("the data dir holds no genesis document"))?;
    let document = GenesisDoc::from_json(&genesis_json)?;
    let genesis = document.to_contract()?;
    let sequencer = document.sequencer_id()?;
    let mut state = MemState::new();
    let mut tree = StateTree::new();
    let writes = init_chain(&genesis).map_err(|error| anyhow::anyhow!("genesis: {error}"))?;
    state.apply(&writes);
    tree.apply(writes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())));
    let mut report = ReplayReport {
        head,
        blocks_checked: 0,
        mismatches: Vec::new(),
        final_state_root: [0; 32],
    };
    let (root, _) = tree.commit();
    let genesis_block = store
        .block(0)?
        .ok_or_else(|| anyhow::anyhow!("no genesis block"))?;
    if genesis_block.header.header.state_root != root {
        report.mismatches.push((0, "state root"));
    }
    report.blocks_checked += 1;
    let mut previous_hash = genesis_block.header.header.hash();
    if genesis_block
        .header
        .verify(&genesis.chain_id, &sequencer)
        .is_err()
    {
        report.mismatches.push((0, "header signature"));
    }
    for height in 1..=head {
        let block = store
            .block(height)?
            .ok_or_else(|| anyhow::anyhow!("block {height} is missing"))?;
        let header = &block.header.header;
        let ctx = BlockCtx {
            chain_id: header.chain_id.clone(),
            height,
            time_ms: header.time_ms,
            proposer: header.proposer,
        };
        let outcome = apply_block(&state, &ctx, &block.txs)
            .map_err(|error| anyhow::anyhow!("block {height} does not apply: {error}"))?;
        state.apply(&outcome.writes);
        tree.apply(
            outcome
                .writes
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_deref())),
        );
        let (root, _) = tree.commit();
        let tx_hashes: Vec<Hash> = block.txs.iter().map(|tx| sha256(&[tx])).collect();
        let receipts: Vec<Vec<u8>> = outcome
            .receipts
            .iter()
            .map(|receipt| borsh::to_vec(receipt).unwrap_or_default())
            .collect();
        let hook = agora_contract::header::hook_events_hash(&outcome.hook_events);
        let signed = block.header.verify(&genesis.chain_id, &sequencer).is_ok();
        let linked = header.prev_hash == previous_hash;
        previous_hash = header.hash();
        for (ok, what) in [
            (signed, "header signature"),
            (linked, "previous header hash"),
            (
                usize::try_from(header.tx_count) == Ok(block.txs.len()),
                "tx count",
            ),
            (header.state_root == root, "state root"),
            (header.tx_root == list_root(&tx_hashes), "tx root"),
            (
                header.receipts_root == list_root(&receipts),
                "receipts root",
            ),
            (header.hook_events_hash == hook, "hook events hash"),
        ] {
            if !ok {
                report.mismatches.push((height, what));
            }
        }
        report.blocks_checked += 1;
        report.final_state_root = root;
    }
    if head == 0 {
        report.final_state_root = root;
    }
    Ok(report)
}
