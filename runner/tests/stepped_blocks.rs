//! A block executed in many steps commits exactly what the same block executed at once
//! commits: the same roots and every receipt in the store, although the steps stage the
//! whole receipt entries (256 receipts each) and only the rest goes into the commit's
//! batch. A stepped block that is dropped, or cut off by a crash, leaves no receipt.

mod support;

use std::path::Path;
use std::sync::Arc;

use agora_contract::block::TxStatus;
use agora_contract::commit::list_root;
use agora_contract::tx::account_of;
use agora_contract::AccountId;
use agora_runner::app::{AgoraApp, Application, ProposedBlock};
use agora_runner::genesis::{devnet_genesis, devnet_sequencer_key};
use agora_runner::sequencer::header_for;
use agora_runner::store::{encode_receipts, Store, RECEIPTS_PER_ENTRY};
use support::{chain_id, dev_id, now_ms, transfer};

/// Transactions of the test block: more than two receipt entries' worth.
const TXS: u64 = 600;
/// Step sizes: entry boundaries fall inside steps, and the last entry is partial.
const STEPS: [usize; 4] = [100, 200, 250, 50];

/// One test block: its genesis time, its time and proposer, its transactions.
struct Fixture {
    genesis_time_ms: u64,
    time_ms: u64,
    proposer: AccountId,
    txs: Vec<Arc<[u8]>>,
}

impl Fixture {
    fn new() -> Self {
        let genesis_time_ms = now_ms();
        Self {
            genesis_time_ms,
            time_ms: genesis_time_ms + 1_000,
            proposer: account_of(&devnet_sequencer_key()),
            txs: block_txs(),
        }
    }

    /// A chain at genesis in `dir`.
    fn app(&self, dir: &Path) -> (Arc<Store>, AgoraApp) {
        app_at_genesis(dir, self.genesis_time_ms)
    }

    /// Opens block 1 (`later_ms` after its time) and delivers the transactions in steps.
    fn build_in_steps(&self, app: &mut AgoraApp, later_ms: u64) {
        app.begin_block(1, self.time_ms + later_ms, self.proposer)
            .expect("block opens");
        deliver_in_steps(app, &self.txs);
    }
}

fn app_at_genesis(dir: &Path, genesis_time_ms: u64) -> (Arc<Store>, AgoraApp) {
    let store = Arc::new(Store::open(&dir.join("db")).expect("store opens"));
    let mut app = AgoraApp::open(store.clone(), chain_id()).expect("app opens");
    let genesis = devnet_genesis(genesis_time_ms)
        .to_contract()
        .expect("devnet genesis");
    let finalized = app.init_chain(&genesis).expect("genesis executes");
    let header = header_for(&app.info(), &finalized, 0, &devnet_sequencer_key());
    app.commit(header).expect("genesis commits");
    (store, app)
}

/// Transfers among the dev accounts, each sender's nonces in order.
fn block_txs() -> Vec<Arc<[u8]>> {
    (0..TXS)
        .map(|i| {
            let from = i % 10;
            Arc::from(transfer(from, i / 10, dev_id((from + 1) % 10), 1 + i).as_slice())
        })
        .collect()
}

/// Delivers `txs` into the open block in the steps of [`STEPS`].
fn deliver_in_steps(app: &mut AgoraApp, txs: &[Arc<[u8]>]) {
    let mut rest = txs;
    for size in STEPS {
        let (step, after) = rest.split_at(size);
        let receipts = app.deliver_txs(step).expect("step executes");
        assert_eq!(receipts.len(), size);
        rest = after;
    }
    assert!(rest.is_empty());
}

#[test]
fn a_block_built_in_steps_commits_every_receipt_and_the_roots_of_one_built_at_once() {
    assert!(TXS as usize > 2 * RECEIPTS_PER_ENTRY);
    let block = Fixture::new();

    let at_once_dir = tempfile::tempdir().expect("temp dir");
    let (_, mut at_once) = block.app(at_once_dir.path());
    let expected = at_once
        .finalize_block(&ProposedBlock {
            height: 1,
            time_ms: block.time_ms,
            proposer: block.proposer,
            txs: block.txs.clone(),
        })
        .expect("block executes at once");

    let dir = tempfile::tempdir().expect("temp dir");
    let (store, mut app) = block.app(dir.path());
    block.build_in_steps(&mut app, 0);
    let finalized = app.end_block().expect("block closes");
    assert_eq!(finalized.state_root, expected.state_root);
    assert_eq!(finalized.tx_root, expected.tx_root);
    assert_eq!(finalized.receipts_root, expected.receipts_root);
    assert_eq!(finalized.receipts, expected.receipts);
    assert!(finalized
        .receipts
        .iter()
        .all(|receipt| receipt.status == TxStatus::Success));
    assert_eq!(
        finalized.receipts_root,
        list_root(&encode_receipts(&finalized.receipts))
    );

    let header = header_for(
        &app.info(),
        &finalized,
        finalized.receipts.len(),
        &devnet_sequencer_key(),
    );
    app.commit(header).expect("block commits");
    let stored = store.receipts(1).expect("receipts read");
    assert_eq!(stored.as_slice(), &*finalized.receipts);
    drop(app);
    drop(store);
    // And after a restart, whose integrity check reads the receipts against the header.
    let store = Arc::new(Store::open(&dir.path().join("db")).expect("store reopens"));
    let report = agora_runner::integrity::check_store(&store).expect("integrity check");
    assert_eq!(report.head, Some(1));
    assert_eq!(
        store.receipts(1).expect("receipts read").len(),
        TXS as usize
    );
}

#[test]
fn a_stepped_block_dropped_or_cut_off_leaves_no_receipt_entry() {
    let block = Fixture::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, mut app) = block.app(dir.path());

    // Dropped (as a dev time advance drops the open block), then opened again; opening
    // it deletes what the dropped one staged.
    block.build_in_steps(&mut app, 0);
    app.abandon_block();
    app.begin_block(1, block.time_ms + 5, block.proposer)
        .expect("block opens again");
    assert!(store.receipts(1).expect("receipts read").is_empty());

    // Cut off by a crash: opening the store deletes what the steps staged.
    block.build_in_steps(&mut app, 10);
    drop(app);
    drop(store);
    let store = Store::open(&dir.path().join("db")).expect("store reopens");
    assert!(store.receipts(1).expect("receipts read").is_empty());
    assert_eq!(store.head().expect("head"), Some(0));
}
