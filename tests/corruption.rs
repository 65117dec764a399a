//! A torn or corrupted data dir, at the file level, against a real `agora-runner` process
//! (docs/durability.md): the write-ahead log cut short or with a flipped byte, and a
//! flipped byte in every table file and in the manifest. For each damaged copy the node
//! must either refuse to start (it exits with a message) or start at a consistent block
//! (every block it serves is byte-identical to the undamaged chain's, and `agora-runner
//! replay` agrees with every root) — or answer a read of damaged data with an error. It
//! must never serve a block, a value or a proof that differs from the undamaged chain.
//! Logical damage that RocksDB's checksums cannot see is in `runner/tests/integrity.rs`.

#[path = "runner_process.rs"]
mod runner_process;

use std::path::{Path, PathBuf};
use std::time::Duration;

use agora_contract::tx::UnsignedTx;
use agora_contract::{Action, Amount, Label};
use agora_e2e::{dev, CHAIN_ID};
use runner_process::*;
use serde_json::{json, Value};

const BLOCKS: u64 = 16;
const PATIENCE: Duration = Duration::from_secs(30);

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

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("db"))
        .expect("read db dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// What the undamaged chain serves.
struct Pristine {
    blocks: Vec<Value>,
    /// (path, answer) of account reads with proofs at several heights.
    reads: Vec<(String, Value)>,
}

fn read_paths() -> Vec<String> {
    let mut paths = Vec::new();
    for height in [1, BLOCKS / 2, BLOCKS] {
        for index in [1u64, 2] {
            paths.push(format!(
                "/v1/accounts/{}?height={height}&prove=true",
                hex::encode(dev(index).account().0)
            ));
        }
    }
    paths
}

/// Builds a chain of [`BLOCKS`] blocks with transfers in a `--manual` devnet and kills it.
async fn build(data_dir: &Path, log: &Path) -> Pristine {
    let mut node = RunnerProcess::spawn(data_dir, log, &["--manual"]);
    node.wait_healthy(PATIENCE).await.expect("healthy");
    let chain = Label::new(CHAIN_ID).expect("chain id");
    let key = dev(1);
    for nonce in 0..BLOCKS * 3 {
        let tx = UnsignedTx {
            chain_id: chain.clone(),
            signer: key.account(),
            nonce,
            valid_until_height: None,
            action: Action::Transfer {
                to: dev(2).account(),
                amount: Amount(100 + nonce),
            },
        }
        .sign(key.signing_key());
        node.client
            .post_json(
                "/v1/txs/batch",
                &json!({ "txs": [hex::encode(tx.to_bytes())] }),
            )
            .await
            .expect("submit");
        if nonce % 3 == 2 {
            node.client
                .post_json("/v1/dev/mine", &json!({ "blocks": 1 }))
                .await
                .expect("mine");
        }
    }
    let mut blocks = Vec::new();
    for height in 0..=BLOCKS {
        blocks.push(node.get(&format!("/v1/blocks/{height}")).await);
    }
    let mut reads = Vec::new();
    for path in read_paths() {
        reads.push((path.clone(), node.get(&path).await));
    }
    node.kill();
    Pristine { blocks, reads }
}

#[derive(Debug, Default)]
struct Outcomes {
    refused: Vec<String>,
    resumed_earlier: Vec<String>,
    served_with_read_errors: Vec<String>,
    served_intact: Vec<String>,
}

/// Starts a node on `dir` and classifies what it does; panics if it serves anything that
/// differs from `pristine`.
async fn judge(name: String, dir: &Path, log: &Path, pristine: &Pristine, outcomes: &mut Outcomes) {
    let mut node = RunnerProcess::spawn(dir, log, &["--manual"]);
    if let Err(why) = node.wait_healthy(PATIENCE).await {
        assert!(
            node.exited().is_some(),
            "{name}: the node neither served nor exited: {why}"
        );
        outcomes.refused.push(name);
        return;
    }
    let head = node.get("/health").await["height"]
        .as_u64()
        .expect("height");
    assert!(head <= BLOCKS, "{name}: head {head} above the chain's");
    let mut read_errors = 0;
    for height in 0..=head {
        match node.client.get_json(&format!("/v1/blocks/{height}")).await {
            Ok(block) => assert_eq!(
                block, pristine.blocks[height as usize],
                "{name}: block {height} differs from the undamaged chain"
            ),
            Err(error) => {
                assert!(
                    matches!(error, agora_sdk::Error::Node { status, .. } if status >= 500),
                    "{name}: block {height}: {error}"
                );
                read_errors += 1;
            }
        }
    }
    for (path, expected) in &pristine.reads {
        let height: u64 = path
            .split("height=")
            .nth(1)
            .and_then(|rest| rest.split('&').next())
            .and_then(|h| h.parse().ok())
            .expect("height in path");
        if height > head {
            continue;
        }
        match node.client.get_json(path).await {
            Ok(answer) => assert_eq!(&answer, expected, "{name}: {path} differs"),
            Err(error) => {
                assert!(
                    matches!(error, agora_sdk::Error::Node { status, .. } if status >= 500),
                    "{name}: {path}: {error}"
                );
                read_errors += 1;
            }
        }
    }
    if head < BLOCKS {
        // Resumed at an earlier block: it must be a consistent one, and the chain goes on.
        node.client
            .post_json("/v1/dev/mine", &json!({ "blocks": 1 }))
            .await
            .unwrap_or_else(|e| panic!("{name}: no block after resuming at {head}: {e}"));
        node.kill();
        let (ok, text) = replay(dir);
        assert!(ok, "{name}: replay after resuming at {head}:\n{text}");
        outcomes
            .resumed_earlier
            .push(format!("{name} (head {head})"));
    } else if read_errors > 0 {
        outcomes
            .served_with_read_errors
            .push(format!("{name} ({read_errors} reads answered 5xx)"));
    } else {
        outcomes.served_intact.push(name);
    }
}

fn damaged_copy(from: &Path, damage: impl FnOnce(&Path)) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("temp dir");
    copy_dir(from, copy.path());
    damage(copy.path());
    copy
}

fn flip_byte(file: &Path, at: u64) {
    let mut bytes = std::fs::read(file).expect("read");
    let at = (at as usize).min(bytes.len() - 1);
    bytes[at] ^= 0x5a;
    std::fs::write(file, bytes).expect("write");
}

fn truncate(file: &Path, len: u64) {
    let handle = std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .expect("open");
    handle.set_len(len).expect("truncate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_and_corrupted_files_are_refused_or_resumed_never_served_wrong() {
    let work = tempfile::Builder::new()
        .prefix("agora-corruption-")
        .tempdir()
        .expect("temp dir");
    let log = new_log(&work.path().join("runner.log"));
    let chain = work.path().join("chain");
    let pristine = build(&chain, &log).await;

    // Killed right after the blocks: they are in the write-ahead log only.
    let in_log = work.path().join("in-log");
    copy_dir(&chain, &in_log);
    // Started once more and stopped with Ctrl-C: the clean shutdown flushes everything
    // into table files.
    let mut node = RunnerProcess::spawn(&chain, &log, &["--manual"]);
    node.wait_healthy(PATIENCE).await.expect("healthy");
    assert!(
        node.interrupt(PATIENCE),
        "the runner did not stop on SIGINT"
    );
    let in_tables = work.path().join("in-tables");
    copy_dir(&chain, &in_tables);

    let mut outcomes = Outcomes::default();
    let wal = files_ending(&in_log, ".log")
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a write-ahead log");
    let wal_len = std::fs::metadata(&wal).expect("metadata").len();
    assert!(
        wal_len > 4096,
        "the blocks should be in the log ({wal_len} bytes)"
    );
    let wal_name = wal.file_name().expect("name").to_owned();
    for (label, len) in [
        ("log cut inside its last record", wal_len - 7),
        ("log cut at 90%", wal_len * 9 / 10),
        ("log cut at 50%", wal_len / 2),
        ("log cut at 10%", wal_len / 10),
    ] {
        let copy = damaged_copy(&in_log, |dir| {
            truncate(&dir.join("db").join(&wal_name), len)
        });
        judge(label.into(), copy.path(), &log, &pristine, &mut outcomes).await;
    }
    for (label, at) in [
        ("log byte flipped at 25%", wal_len / 4),
        ("log byte flipped at 60%", wal_len * 3 / 5),
        ("log byte flipped in its last record", wal_len - 20),
    ] {
        let copy = damaged_copy(&in_log, |dir| {
            flip_byte(&dir.join("db").join(&wal_name), at)
        });
        judge(label.into(), copy.path(), &log, &pristine, &mut outcomes).await;
    }
    let tables = files_ending(&in_tables, ".sst");
    assert!(
        !tables.is_empty(),
        "recovery should have written table files"
    );
    for table in &tables {
        let len = std::fs::metadata(table).expect("metadata").len();
        let name = table.file_name().expect("name").to_owned();
        for (place, at) in [
            ("middle", len / 2),
            ("first quarter", len / 4),
            ("footer", len - 8),
        ] {
            let copy = damaged_copy(&in_tables, |dir| flip_byte(&dir.join("db").join(&name), at));
            let label = format!("table {} byte flipped ({place})", name.to_string_lossy());
            judge(label, copy.path(), &log, &pristine, &mut outcomes).await;
        }
    }
    for manifest in files_ending(&in_tables, "")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("MANIFEST"))
    {
        let len = std::fs::metadata(&manifest).expect("metadata").len();
        let name = manifest.file_name().expect("name").to_owned();
        let copy = damaged_copy(&in_tables, |dir| {
            flip_byte(&dir.join("db").join(&name), len / 2)
        });
        let label = format!("manifest {} byte flipped", name.to_string_lossy());
        judge(label, copy.path(), &log, &pristine, &mut outcomes).await;
    }
    let total = outcomes.refused.len()
        + outcomes.resumed_earlier.len()
        + outcomes.served_with_read_errors.len()
        + outcomes.served_intact.len();
    println!(
        "corruption result: {total} damaged copies; refused to start {}; resumed at an \
         earlier consistent block {}; served, damaged reads answered 5xx {}; served \
         intact {}; served wrong data 0\n{outcomes:#?}",
        outcomes.refused.len(),
        outcomes.resumed_earlier.len(),
        outcomes.served_with_read_errors.len(),
        outcomes.served_intact.len()
    );
    assert!(total >= 7 + 3 * tables.len());
}
