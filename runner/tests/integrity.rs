//! The start-up consistency check (`runner/src/integrity.rs`, docs/durability.md): a store
//! whose contents were damaged behind RocksDB's back — a flipped byte in a stored block,
//! receipt or state value, a missing block, a head record that disagrees with the blocks,
//! a tx index entry that is gone — makes `Node::start` refuse with a message naming the
//! height, instead of serving wrong state. Each case damages a fresh copy of one pristine
//! data dir through RocksDB itself (so RocksDB's own checksums pass and only our check can
//! notice). File-level damage (torn log, flipped byte in a table file) is tested against a
//! real process in `tests/corruption.rs`.

mod support;

use std::path::Path;

use agora_runner::genesis::{devnet_genesis, devnet_sequencer_key};
use agora_runner::node::{db_path, BlockMode, Node, NodeConfig};
use agora_runner::store::Store;
use rocksdb::{Options, DB};
use serde_json::Value;

use support::*;

/// Blocks in the pristine chain, each with transactions.
const BLOCKS: u64 = 12;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// A chain of [`BLOCKS`] blocks with two transfers each, cleanly stopped; returns its
/// data dir and every block as the API served it.
async fn pristine() -> (tempfile::TempDir, Vec<Value>) {
    let node = TestNode::start(BlockMode::Manual).await;
    let c = node.client.clone();
    let mut nonce = 0;
    for _ in 0..BLOCKS {
        for _ in 0..2 {
            c.submit(&transfer(1, nonce, dev_id(2), 10 + nonce)).await;
            nonce += 1;
        }
        c.mine(1).await;
    }
    let mut blocks = Vec::new();
    for height in 0..=BLOCKS {
        blocks.push(c.block(height).await);
    }
    drop(c);
    (node.stop().await, blocks)
}

fn open_raw(data_dir: &Path) -> DB {
    let path = db_path(data_dir);
    let families = DB::list_cf(&Options::default(), &path).expect("list column families");
    DB::open_cf(&Options::default(), &path, families).expect("open the store raw")
}

fn start(data_dir: &Path) -> Result<std::sync::Arc<Node>, String> {
    let mut config = NodeConfig::devnet(data_dir.to_path_buf());
    config.mode = BlockMode::Manual;
    Node::start(config, devnet_genesis(now_ms()), devnet_sequencer_key())
        .map_err(|error| error.to_string())
}

/// Damages a copy of `pristine` with `damage` and returns why the node refused to start.
#[track_caller]
fn refused_after(pristine: &Path, damage: impl FnOnce(&DB)) -> String {
    let copy = tempfile::tempdir().expect("temp dir");
    copy_dir(pristine, copy.path());
    {
        let db = open_raw(copy.path());
        damage(&db);
        db.flush().expect("flush");
    }
    match start(copy.path()) {
        Ok(node) => {
            node.shutdown();
            panic!("the node started on a damaged store")
        }
        Err(message) => message,
    }
}

fn flip(db: &DB, family: &str, key: &[u8], at: impl Fn(usize) -> usize) {
    let cf = db.cf_handle(family).expect("column family");
    let mut value = db.get_cf(cf, key).expect("read").expect("value present");
    let index = at(value.len());
    value[index] ^= 0x01;
    db.put_cf(cf, key, value).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn damaged_stores_are_refused_at_start_with_the_height_named() {
    let (dir, blocks) = pristine().await;
    let pristine = dir.path();
    let head = BLOCKS;
    assert_eq!(
        blocks[head as usize]["tx_hashes"].as_array().map(Vec::len),
        Some(2)
    );

    // The undamaged store passes, shallow and deep.
    {
        let store = Store::open(&db_path(pristine)).expect("open");
        let report = agora_runner::integrity::check_store(&store).expect("pristine passes");
        assert_eq!(report.head, Some(head));
        assert_eq!(report.blocks_checked, head + 1);
        let deep = agora_runner::integrity::check_store_depth(&store, u64::MAX).expect("deep");
        assert_eq!(deep.blocks_checked, head + 1);
    }
    let copy = tempfile::tempdir().expect("temp dir");
    copy_dir(pristine, copy.path());
    start(copy.path())
        .expect("the pristine copy starts")
        .shutdown();

    let height_key = |h: u64| h.to_be_bytes().to_vec();
    let mut cases: Vec<(&str, String, String)> = Vec::new();

    // A flipped byte in the head block, in an older block, at every region of the value.
    for (name, height, at) in [
        ("head block, last byte", head, usize::MAX),
        ("head block, middle byte", head, usize::MAX / 2),
        ("older block, first byte", head - 3, 0),
        ("older block, middle byte", head - 4, usize::MAX / 2),
        ("genesis block, middle byte", 0, usize::MAX / 2),
    ] {
        let message = refused_after(pristine, |db| {
            flip(db, "blocks", &height_key(height), |len| match at {
                usize::MAX => len - 1,
                0 => 0,
                _ => len / 2,
            })
        });
        cases.push((name, format!("at height {height}"), message));
    }
    // A flipped byte in a receipt (the last byte of the block's first receipt entry).
    let message = refused_after(pristine, |db| {
        let mut key = height_key(head - 2);
        key.extend(0u32.to_be_bytes());
        flip(db, "receipts", &key, |len| len - 1)
    });
    cases.push(("receipt", format!("at height {}", head - 2), message));
    // A block's transactions (staged by its one step, part 1): a flipped byte, a lost part.
    let part_key = |h: u64| {
        let mut key = height_key(h);
        key.extend(1u32.to_be_bytes());
        key
    };
    let message = refused_after(pristine, |db| {
        flip(db, "block_txs", &part_key(head - 1), |len| len - 1)
    });
    cases.push((
        "block transactions, last byte",
        format!("at height {}", head - 1),
        message,
    ));
    let message = refused_after(pristine, |db| {
        db.delete_cf(db.cf_handle("block_txs").expect("cf"), part_key(head))
            .expect("delete")
    });
    cases.push((
        "block transactions missing",
        format!("at height {head}"),
        message,
    ));
    // A block is missing.
    let message = refused_after(pristine, |db| {
        db.delete_cf(db.cf_handle("blocks").expect("cf"), height_key(head - 5))
            .expect("delete")
    });
    cases.push(("missing block", format!("at height {}", head - 5), message));
    // A block stored at another height.
    let message = refused_after(pristine, |db| {
        let cf = db.cf_handle("blocks").expect("cf");
        let older = db
            .get_cf(cf, height_key(head - 1))
            .expect("read")
            .expect("block");
        db.put_cf(cf, height_key(head - 6), older).expect("write")
    });
    cases.push((
        "block at a wrong height",
        format!("at height {}", head - 6),
        message,
    ));
    // The head record behind the blocks (a block above the head) and ahead of them.
    let message = refused_after(pristine, |db| {
        let cf = db.cf_handle("meta").expect("cf");
        db.put_cf(cf, b"head", (head - 1).to_be_bytes())
            .expect("write")
    });
    cases.push((
        "head record behind the blocks",
        format!("at height {head}"),
        message,
    ));
    let message = refused_after(pristine, |db| {
        let cf = db.cf_handle("meta").expect("cf");
        db.put_cf(cf, b"head", (head + 1).to_be_bytes())
            .expect("write")
    });
    cases.push(("head record ahead of the blocks", String::new(), message));
    // A tx index entry removed.
    let tx = blocks[(head - 1) as usize]["tx_hashes"][0]
        .as_str()
        .expect("tx hash")
        .to_string();
    let message = refused_after(pristine, |db| {
        let cf = db.cf_handle("txs").expect("cf");
        db.delete_cf(cf, hex::decode(&tx).expect("hex"))
            .expect("delete")
    });
    cases.push((
        "tx index entry removed",
        format!("at height {}", head - 1),
        message,
    ));
    // A flipped byte in a state value: the rebuilt root differs from the head header's.
    let account = agora_contract::state::keys::account(&dev_id(2));
    let message = refused_after(pristine, |db| flip(db, "state", &account, |len| len / 2));
    cases.push(("state value", "state root".to_string(), message));
    // A state value removed.
    let message = refused_after(pristine, |db| {
        db.delete_cf(db.cf_handle("state").expect("cf"), &account)
            .expect("delete")
    });
    cases.push(("state value removed", "state root".to_string(), message));

    for (name, expected, message) in &cases {
        assert!(
            message.contains(expected.as_str()),
            "{name}: the refusal does not say {expected:?}: {message}"
        );
        eprintln!("refused ({name}): {message}");
    }
    assert_eq!(cases.len(), 15);
}
