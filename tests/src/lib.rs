//! Helpers of the end-to-end tests: find the `agora-runner` and `agora` binaries next to
//! the test executable, start a real `agora-runner devnet` process on a free port with a
//! temporary data dir (killed when dropped), run the CLI against it, and the checks the
//! tests share (light-client verification of escrows and their audit chains).
//!
//! The binaries are not built by `cargo test -p agora-e2e`; build them first with
//! `cargo build -p agora-runner -p agora-sdk` (`cargo test --workspace` builds both).

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use agora_contract::bounded::Label;
use agora_contract::escrow::Escrow;
use agora_contract::event::{EscrowEvent, Event, EventSource};
use agora_contract::ids::{sha256, AccountId, Uuid};
use agora_contract::state::keys;
use agora_contract::tx::SignedTx;
use agora_sdk::{Chain, Client, CommittedTx, Keypair, LightClient};
use serde_json::Value;
use tempfile::TempDir;

/// Longest a helper waits for the node (start-up, a receipt) before failing the test.
pub const PATIENCE: Duration = Duration::from_secs(20);
/// The devnet's chain id.
pub const CHAIN_ID: &str = "agora-devnet";
/// The devnet sequencer's public key, as `docs/genesis.md` lists it.
pub const DEVNET_SEQUENCER_HEX: &str =
    "29d7322e0b41ec2813fc02713a854475daa16729c09a772c33161465c871a50f";
/// Every dev account's genesis balance.
pub const DEV_BALANCE: u64 = 1_000_000_000_000;

/// The directory of the target profile the test executable was built in
/// (`target/debug`): the test binary is in its `deps` folder.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let deps = exe.parent().expect("the test executable is in a directory");
    let dir = if deps.file_name().is_some_and(|name| name == "deps") {
        deps.parent().expect("deps has a parent")
    } else {
        deps
    };
    dir.to_path_buf()
}

/// The path of a workspace binary next to the test executable; panics with the build
/// command when it is missing.
pub fn binary(name: &str) -> PathBuf {
    let path = profile_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p agora-runner -p agora-sdk` (with the same \
         profile and CARGO_TARGET_DIR as the tests) before `cargo test -p agora-e2e`",
        path.display()
    );
    path
}

/// A port nobody listens on right now (bind port 0, read it, close it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// How the devnet produces blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocks {
    /// `--block-time-ms N`.
    Every(u64),
    /// `--instant`: a block as soon as transactions wait.
    Instant,
    /// `--manual`: blocks only on `POST /v1/dev/mine`.
    Manual,
}

/// What a CLI run printed and how it exited.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Stdout parsed as JSON (the output of `--json`).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "CLI stdout is not JSON ({error}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A running `agora-runner devnet` process in a temporary data dir. Dropping it kills the
/// process and deletes the directory.
pub struct Devnet {
    child: Child,
    dir: TempDir,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub client: Client,
}

impl Devnet {
    /// Starts a devnet and waits until `GET /health` answers 200 (at most [`PATIENCE`]).
    /// If the process exits during start-up (the free port was taken in the meantime,
    /// say), it is started again on another port, three times at most.
    pub async fn start(blocks: Blocks) -> Devnet {
        let runner = binary("agora-runner");
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("agora-e2e-")
                .tempdir()
                .expect("temporary directory");
            let port = free_port();
            let url = format!("http://127.0.0.1:{port}");
            let mut command = Command::new(&runner);
            command
                .arg("devnet")
                .arg("--data-dir")
                .arg(dir.path().join("chain"))
                .arg("--http")
                .arg(format!("127.0.0.1:{port}"));
            match blocks {
                Blocks::Every(ms) => command.arg("--block-time-ms").arg(ms.to_string()),
                Blocks::Instant => command.arg("--instant"),
                Blocks::Manual => command.arg("--manual"),
            };
            let stdout = File::create(dir.path().join("runner.out")).expect("log file");
            let stderr = File::create(dir.path().join("runner.err")).expect("log file");
            let child = command
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|error| panic!("spawn {}: {error}", runner.display()));
            let mut devnet = Devnet {
                child,
                dir,
                client: Client::new(&url),
                url,
            };
            match devnet.wait_healthy().await {
                Ok(()) => return devnet,
                Err(log) => last_log = log,
            }
        }
        panic!("the devnet did not start in three attempts; last log:\n{last_log}");
    }

    /// Polls `/health` until it answers; `Err(log)` if the process exited first. Panics
    /// when the node neither answers nor exits within [`PATIENCE`].
    async fn wait_healthy(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the runner") {
                return Err(format!("runner exited with {status}:\n{}", self.log()));
            }
            if let Ok(health) = self.client.get_json("/health").await {
                if health["status"] == "ok" {
                    return Ok(());
                }
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the devnet at {} did not become healthy within {PATIENCE:?}; log:\n{}",
                self.url,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asserts the process still runs and its sequencer still produces blocks (`/health`
    /// answers 503 once the sequencer thread stopped on a failed block).
    pub async fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().expect("poll the runner") {
            panic!("the runner exited with {status}; log:\n{}", self.log());
        }
        let health = self.client.get_json("/health").await;
        assert!(
            matches!(&health, Ok(body) if body["status"] == "ok"),
            "the devnet is not healthy: {health:?}; log:\n{}",
            self.log()
        );
    }

    /// The temporary directory (data dir `chain/`, logs `runner.out`, `runner.err`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the runner printed so far (stdout, then stderr).
    pub fn log(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("runner.out"), read("runner.err"))
    }

    /// Runs `agora --node URL ARGS…` and collects its exit status and output.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        let output = tokio::process::Command::new(binary("agora"))
            .arg("--node")
            .arg(&self.url)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run the agora CLI");
        CliOutput {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs the CLI, asserts it succeeded, and parses its stdout as JSON (pass `--json`).
    #[track_caller]
    pub fn cli_json<'a>(
        &'a self,
        args: &'a [&'a str],
    ) -> impl std::future::Future<Output = Value> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let output = self.cli(args).await;
            assert!(
                output.success(),
                "`agora {}` failed ({}) at {caller}:\nstdout:\n{}\nstderr:\n{}",
                args.join(" "),
                output.status,
                output.stdout,
                output.stderr
            );
            output.json()
        }
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- keys and trust ----

/// Devnet dev account `index`.
pub fn dev(index: u64) -> Keypair {
    Keypair::dev(index)
}

pub fn hex_account(account: &AccountId) -> String {
    hex::encode(account.0)
}

/// The sequencer key a light client trusts, derived as `docs/genesis.md` says (seed
/// sha256("agora-devnet-sequencer")), not taken from the node.
pub fn devnet_sequencer() -> AccountId {
    Keypair::from_seed(sha256(&[b"agora-devnet-sequencer"])).account()
}

pub fn chain_label() -> Label {
    Label::new(CHAIN_ID).expect("valid chain id")
}

/// A light client trusting only the devnet's chain id and sequencer key.
pub fn light_client() -> LightClient {
    LightClient::new(chain_label(), devnet_sequencer())
}

// ---- chain helpers ----

/// The block time of the latest block (the clock escrow deadlines are measured in).
pub async fn chain_time_ms(client: &Client) -> u64 {
    client
        .header(None)
        .await
        .expect("latest header")
        .header
        .time_ms
}

/// An account's available balance.
pub async fn available(client: &Client, account: &AccountId) -> u64 {
    client.account(account).await.expect("account").available.0
}

/// Submits `tx`, waits for its receipt, and asserts the action succeeded.
#[track_caller]
pub fn ok<'a>(
    client: &'a Client,
    log: &'a mut EscrowLog,
    tx: SignedTx,
) -> impl std::future::Future<Output = CommittedTx> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let action = tx.tx.action.name();
        let committed = client.submit_and_wait(&tx).await.unwrap_or_else(|error| {
            panic!("{action} at {caller}: not committed: {error}");
        });
        assert!(
            committed.success(),
            "{action} at {caller} failed: {:?}",
            committed.error()
        );
        log.record(&committed);
        committed
    }
}

/// Submits `tx`, waits for its receipt, and asserts the action failed with error `code`.
#[track_caller]
pub fn fails<'a>(
    client: &'a Client,
    log: &'a mut EscrowLog,
    tx: SignedTx,
    code: u16,
) -> impl std::future::Future<Output = CommittedTx> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let action = tx.tx.action.name();
        let committed = client.submit_and_wait(&tx).await.unwrap_or_else(|error| {
            panic!("{action} at {caller}: not committed: {error}");
        });
        let error = committed
            .error()
            .unwrap_or_else(|| panic!("{action} at {caller} succeeded, expected error {code}"));
        assert_eq!(error.code(), code, "{action} at {caller}: {error}");
        log.record(&committed);
        committed
    }
}

/// Every escrow event seen in receipts (and hook events the test expects), with its
/// source, so the test recomputes each audit chain without trusting the node.
#[derive(Debug, Default)]
pub struct EscrowLog {
    events: BTreeMap<Uuid, Vec<(EventSource, EscrowEvent)>>,
}

impl EscrowLog {
    pub fn new() -> EscrowLog {
        EscrowLog::default()
    }

    /// Adds the escrow events of a committed transaction.
    pub fn record(&mut self, committed: &CommittedTx) {
        let source = EventSource::Tx {
            hash: committed.receipt.tx_hash,
        };
        for event in &committed.receipt.events {
            if let Event::Escrow { id, event } = event {
                self.events
                    .entry(*id)
                    .or_default()
                    .push((source, event.clone()));
            }
        }
    }

    /// Adds an event the block hook of `height` is expected to have produced.
    pub fn hook(&mut self, id: Uuid, height: u64, event: EscrowEvent) {
        self.events
            .entry(id)
            .or_default()
            .push((EventSource::BlockHook { height }, event));
    }

    pub fn of(&self, id: &Uuid) -> &[(EventSource, EscrowEvent)] {
        self.events.get(id).map(Vec::as_slice).unwrap_or_default()
    }
}

/// `GET /v1/escrows/{id}/events`.
pub async fn escrow_events(client: &Client, id: &Uuid) -> Value {
    client
        .get_json(&format!("/v1/escrows/{id}/events"))
        .await
        .expect("escrow events")
}

/// The height of the block hook that produced the escrow's last event (panics if the
/// last event came from a transaction).
pub async fn last_hook_height(client: &Client, id: &Uuid) -> u64 {
    let events = escrow_events(client, id).await;
    let last = events["events"]
        .as_array()
        .and_then(|list| list.last())
        .cloned()
        .expect("at least one event");
    last["source"]["BlockHook"]["height"]
        .as_u64()
        .unwrap_or_else(|| panic!("last event of {id} is not from the block hook: {last}"))
}

/// Proves the escrow at the latest height and verifies it with the light client, then
/// checks its audit chain three ways: the node's stored head equals the head it
/// recomputes from the event list, equals the proven record's head, and the test's own
/// event log (from receipts and expected hook events) recomputes to the proven head.
pub async fn verified_escrow(client: &Client, log: &EscrowLog, id: &Uuid) -> Escrow {
    let light = light_client();
    let proven = client.prove(&keys::escrow(id), None).await.expect("prove");
    let escrow = light
        .verify_escrow(id, &proven)
        .expect("escrow proof verifies")
        .unwrap_or_else(|| panic!("escrow {id} is proven absent"));
    let events = escrow_events(client, id).await;
    let proven_head = hex::encode(escrow.audit_head);
    assert_eq!(
        events["audit_head"], events["recomputed_audit_head"],
        "{events}"
    );
    // The events route reads the latest state; the proof was taken just before, and no
    // test changes an escrow concurrently with this check.
    assert_eq!(
        events["audit_head"].as_str(),
        Some(proven_head.as_str()),
        "{events}"
    );
    let node_events = events["events"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(
        node_events,
        log.of(id).len(),
        "the node lists {node_events} events of {id}, the test saw {:?}",
        log.of(id)
    );
    light
        .verify_audit_chain(&escrow, log.of(id))
        .expect("audit chain recomputed from the receipts matches the proven head");
    escrow
}
