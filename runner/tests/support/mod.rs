//! Shared helpers of the runner's HTTP tests: an in-process node on an ephemeral port in a
//! temporary data dir, a small JSON client, and signing with the devnet's dev keys.

#![allow(dead_code)]

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agora_contract::bounded::Label;
use agora_contract::tx::{account_of, UnsignedTx};
use agora_contract::{AccountId, Action, Amount};
use agora_runner::genesis::{dev_key, devnet_genesis, devnet_sequencer_key, DEVNET_CHAIN_ID};
use agora_runner::node::{BlockMode, Node, NodeConfig};
use ed25519_dalek::SigningKey;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::task::JoinHandle;

/// Longest any helper waits for the node before failing the test.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Current unix time in milliseconds.
pub fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("time fits u64")
}

/// The devnet chain id.
pub fn chain_id() -> Label {
    Label::new(DEVNET_CHAIN_ID).expect("valid chain id")
}

/// The account the light client trusts.
pub fn sequencer_id() -> AccountId {
    account_of(&devnet_sequencer_key())
}

/// Dev account `index`'s key and id.
pub fn dev(index: u64) -> SigningKey {
    dev_key(index)
}

pub fn dev_id(index: u64) -> AccountId {
    account_of(&dev_key(index))
}

pub fn hex_id(id: &AccountId) -> String {
    hex::encode(id.0)
}

/// Signs `action` by `key` on the devnet chain.
pub fn sign(key: &SigningKey, nonce: u64, action: Action) -> Vec<u8> {
    sign_full(key, &chain_id(), nonce, None, action)
}

/// Signs with every envelope field explicit.
pub fn sign_full(
    key: &SigningKey,
    chain: &Label,
    nonce: u64,
    valid_until_height: Option<u64>,
    action: Action,
) -> Vec<u8> {
    UnsignedTx {
        chain_id: chain.clone(),
        signer: account_of(key),
        nonce,
        valid_until_height,
        action,
    }
    .sign(key)
    .to_bytes()
}

/// A signed transfer from dev account `from` to `to`.
pub fn transfer(from: u64, nonce: u64, to: AccountId, amount: u64) -> Vec<u8> {
    sign(
        &dev(from),
        nonce,
        Action::Transfer {
            to,
            amount: Amount(amount),
        },
    )
}

/// The tx hash as the API reports it.
pub fn tx_hash(bytes: &[u8]) -> String {
    hex::encode(agora_contract::ids::sha256(&[bytes]))
}

/// An HTTP answer: status and the body parsed as JSON (`Value::Null` if it is not JSON,
/// with the raw text kept).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub json: Value,
    pub text: String,
    pub headers: HeaderMap,
}

impl Answer {
    /// Asserts an API error answer: the status and the typed code in `{code,name,message}`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected status {status}, got {} with body {}",
            self.status,
            self.text
        );
        assert_eq!(
            self.json["code"].as_u64(),
            Some(u64::from(code)),
            "expected error code {code}, body {}",
            self.text
        );
        assert!(
            self.json["name"].is_string() && self.json["message"].is_string(),
            "error body lacks name/message: {}",
            self.text
        );
        self
    }

    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success(),
            "expected success, got {} with body {}",
            self.status,
            self.text
        );
        self.json
    }
}

/// A small JSON client over one base URL.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("reqwest client"),
            base: base.to_string(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            json,
            text,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        Self::answer(response).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Answer {
        let response = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST {path}: {error}"));
        Self::answer(response).await
    }

    /// POSTs raw bytes with the given content type (`None`: no content type).
    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Answer {
        let mut request = self.http.post(self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header(
                CONTENT_TYPE,
                HeaderValue::from_str(content_type).expect("header value"),
            );
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST {path}: {error}"));
        Self::answer(response).await
    }

    /// Submits borsh bytes; the answer as is.
    pub async fn submit_raw(&self, bytes: &[u8]) -> Answer {
        self.post_raw("/v1/txs", Some("application/octet-stream"), bytes.to_vec())
            .await
    }

    /// Submits borsh bytes and expects admission (202); returns the hash.
    pub async fn submit(&self, bytes: &[u8]) -> String {
        let answer = self.submit_raw(bytes).await;
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "submit refused: {}",
            answer.text
        );
        let hash = answer.json["hash"].as_str().expect("hash").to_string();
        assert_eq!(hash, tx_hash(bytes));
        hash
    }

    /// Submits with `?wait=commit` and returns the receipt (200).
    pub async fn submit_commit(&self, bytes: &[u8]) -> Value {
        let answer = self
            .post_raw(
                "/v1/txs?wait=commit",
                Some("application/octet-stream"),
                bytes.to_vec(),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "submit with wait refused: {}",
            answer.text
        );
        answer.json
    }

    pub async fn tx_status(&self, hash: &str) -> Value {
        self.get(&format!("/v1/txs/{hash}")).await.ok()
    }

    /// Polls until the transaction is committed; returns its receipt.
    pub async fn wait_committed(&self, hash: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = self.tx_status(hash).await;
            if status["status"] == "committed" {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tx {hash} not committed in time: {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn account(&self, id: &AccountId) -> Value {
        self.get(&format!("/v1/accounts/{}", hex_id(id))).await.ok()
    }

    pub async fn available(&self, id: &AccountId) -> u64 {
        self.account(id).await["available"]
            .as_u64()
            .expect("available is a number")
    }

    pub async fn nonce(&self, id: &AccountId) -> u64 {
        self.account(id).await["nonce"]
            .as_u64()
            .expect("nonce is a number")
    }

    /// Balances (available) of the ten dev accounts.
    pub async fn dev_balances(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for index in 0..agora_runner::genesis::DEV_ACCOUNTS {
            out.push(self.available(&dev_id(index)).await);
        }
        out
    }

    pub async fn latest(&self) -> Value {
        self.get("/v1/blocks/latest").await.ok()
    }

    pub async fn block(&self, height: u64) -> Value {
        self.get(&format!("/v1/blocks/{height}")).await.ok()
    }

    pub async fn height(&self) -> u64 {
        self.latest().await["height"].as_u64().expect("height")
    }

    /// Mines `blocks` blocks (dev control); returns their heights.
    pub async fn mine(&self, blocks: u32) -> Vec<u64> {
        let answer = self
            .post_json("/v1/dev/mine", &json!({ "blocks": blocks }))
            .await
            .ok();
        answer["heights"]
            .as_array()
            .expect("heights")
            .iter()
            .map(|height| height.as_u64().expect("height"))
            .collect()
    }

    /// Waits until the chain is at least at `height`.
    pub async fn wait_height(&self, height: u64) {
        let deadline = Instant::now() + PATIENCE;
        while self.height().await < height {
            assert!(Instant::now() < deadline, "height {height} not reached");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// An in-process node serving the API on 127.0.0.1 and an ephemeral port.
pub struct TestNode {
    pub dir: TempDir,
    pub node: Arc<Node>,
    pub server: JoinHandle<()>,
    pub client: Client,
    pub mode: BlockMode,
}

impl TestNode {
    /// A fresh devnet in a new temporary data dir.
    pub async fn start(mode: BlockMode) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        TestNode::start_in(dir, mode).await
    }

    /// A node over `dir` (a new chain if empty, the stored one otherwise).
    pub async fn start_in(dir: TempDir, mode: BlockMode) -> TestNode {
        let mut config = NodeConfig::devnet(dir.path().to_path_buf());
        config.mode = mode;
        let node = Node::start(config, devnet_genesis(now_ms()), devnet_sequencer_key())
            .expect("node starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("local address");
        let router = agora_runner::api::router(node.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).into_future().await;
        });
        TestNode {
            dir,
            node,
            server,
            client: Client::new(&format!("http://{address}")),
            mode,
        }
    }

    /// Stops the node and releases the data dir (RocksDB's lock): shuts the sequencer
    /// down, stops serving, closes the client's connections and waits until every other
    /// handle on the node is gone. Returns the data dir.
    pub async fn stop(self) -> TempDir {
        let TestNode {
            dir,
            node,
            server,
            client,
            ..
        } = self;
        node.shutdown();
        server.abort();
        let _ = server.await;
        drop(client);
        // Connection tasks of the server hold router clones until their sockets close.
        let deadline = Instant::now() + PATIENCE;
        while Arc::strong_count(&node) > 1 {
            assert!(
                Instant::now() < deadline,
                "node handles still alive after stop"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(node);
        dir
    }

    /// Stops and starts again over the same data dir.
    pub async fn restart(self, mode: BlockMode) -> TestNode {
        let dir = self.stop().await;
        TestNode::start_in(dir, mode).await
    }
}

/// One server-sent event.
#[derive(Clone, Debug, Default)]
pub struct SseMessage {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// Reads an SSE response incrementally.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens `GET path` with optional `Last-Event-ID`.
    pub async fn open(client: &Client, path: &str, last_event_id: Option<&str>) -> SseReader {
        let mut request = client.http.get(client.url(path));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("SSE request");
        assert_eq!(response.status(), StatusCode::OK, "SSE request refused");
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(
            content_type.starts_with("text/event-stream"),
            "SSE content type is {content_type:?}"
        );
        SseReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next message, or `None` if none arrives within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let normalized = self.buffer.replace("\r\n", "\n");
            if normalized.len() != self.buffer.len() {
                self.buffer = normalized;
            }
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer[..end].to_string();
                self.buffer.drain(..end + 2);
                let mut message = SseMessage {
                    event: "message".into(),
                    ..SseMessage::default()
                };
                let mut any_field = false;
                for line in block.lines() {
                    if line.starts_with(':') {
                        continue;
                    }
                    let (field, value) = match line.split_once(':') {
                        Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                        None => (line, ""),
                    };
                    any_field = true;
                    match field {
                        "event" => message.event = value.to_string(),
                        "id" => message.id = Some(value.to_string()),
                        "data" => {
                            if !message.data.is_empty() {
                                message.data.push('\n');
                            }
                            message.data.push_str(value);
                        }
                        _ => {}
                    }
                }
                if any_field {
                    return Some(message);
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return None,
            }
        }
    }
}

/// A deterministic shuffle (xorshift64*), so failures reproduce.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let random = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let j = usize::try_from(random % (i as u64 + 1)).expect("index fits");
        items.swap(i, j);
    }
}
