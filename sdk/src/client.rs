//! The HTTP client for a node's API (docs/api.md). Submitting the same signed bytes again
//! is safe: the node answers the same hash and executes the transaction once.

use std::time::Duration;

use agora_contract::block::Receipt;
use agora_contract::bounded::Label;
use agora_contract::commit::StateProof;
use agora_contract::header::SignedHeader;
use agora_contract::ids::{AccountId, Hash};
use agora_contract::tx::SignedTx;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::chain::{Chain, CommittedTx, ProvenValue};
use crate::error::{Error, Result};
use crate::keys::parse_account;

/// The devnet's default address.
pub const DEFAULT_NODE: &str = "http://127.0.0.1:8545";

/// A client of one node.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    wait_timeout: Duration,
}

/// One message of the event stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEvent {
    /// `event` (one chain event) or `block` (end of a block).
    pub kind: String,
    /// The resume cursor (`height:position:index`) of `event` messages.
    pub id: Option<String>,
    pub data: Value,
}

fn hex32(value: &Value, field: &str) -> Result<[u8; 32]> {
    value
        .get(field)
        .and_then(Value::as_str)
        .and_then(|text| hex::decode(text).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| Error::Protocol(format!("field {field} is not 32 hex bytes")))
}

fn hex_bytes(value: &Value, field: &str) -> Result<Option<Vec<u8>>> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => hex::decode(text)
            .map(Some)
            .map_err(|_| Error::Protocol(format!("field {field} is not hex"))),
        Some(_) => Err(Error::Protocol(format!("field {field} is not a string"))),
    }
}

fn borsh_field<T: borsh::BorshDeserialize>(value: &Value, field: &str) -> Result<T> {
    let bytes =
        hex_bytes(value, field)?.ok_or_else(|| Error::Protocol(format!("missing {field}")))?;
    borsh::from_slice(&bytes).map_err(|error| Error::Protocol(format!("{field}: {error}")))
}

impl Client {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:8545`).
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
            wait_timeout: Duration::from_secs(30),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn answer<T: DeserializeOwned>(response: reqwest::Response) -> Result<T> {
        let status = response.status();
        let bytes = response.bytes().await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|error| Error::Protocol(format!("bad JSON from the node: {error}")));
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Err(Error::Node {
            status: status.as_u16(),
            code: body
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(0),
            name: body
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("Unknown")
                .to_string(),
            message: body
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned()),
        })
    }

    /// GET a JSON document.
    pub async fn get_json(&self, path: &str) -> Result<Value> {
        Self::answer(self.http.get(self.url(path)).send().await?).await
    }

    /// POST a JSON document.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        Self::answer(self.http.post(self.url(path)).json(body).send().await?).await
    }

    /// POST borsh bytes (`application/octet-stream`).
    async fn post_bytes(&self, path: &str, body: Vec<u8>) -> Result<reqwest::Response> {
        Ok(self
            .http
            .post(self.url(path))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await?)
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<Value> {
        self.get_json("/v1/status").await
    }

    /// A block (`None`: the latest) as the node's JSON.
    pub async fn block(&self, height: Option<u64>) -> Result<Value> {
        match height {
            Some(height) => self.get_json(&format!("/v1/blocks/{height}")).await,
            None => self.get_json("/v1/blocks/latest").await,
        }
    }

    /// A block's signed header, decoded.
    pub async fn header(&self, height: Option<u64>) -> Result<SignedHeader> {
        let block = self.block(height).await?;
        let header = block.get("header").cloned().unwrap_or(Value::Null);
        borsh_field(&header, "signed_header_borsh")
    }

    /// `GET /v1/txs/{hash}` as JSON.
    pub async fn tx(&self, hash: &Hash) -> Result<Value> {
        self.get_json(&format!("/v1/txs/{}", hex::encode(hash)))
            .await
    }

    fn committed_from(view: &Value) -> Result<CommittedTx> {
        Ok(CommittedTx {
            hash: hex32(view, "hash")?,
            height: view
                .get("height")
                .and_then(Value::as_u64)
                .ok_or_else(|| Error::Protocol("no height".into()))?,
            index: view
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| Error::Protocol("no index".into()))?,
            receipt: borsh_field::<Receipt>(view, "receipt_borsh")?,
        })
    }

    /// Submits many transactions in one request (`POST /v1/txs/batch`, as borsh
    /// `Vec<Vec<u8>>`); answers the node's per-transaction results.
    pub async fn submit_batch(&self, txs: &[SignedTx]) -> Result<Value> {
        let bytes: Vec<Vec<u8>> = txs.iter().map(SignedTx::to_bytes).collect();
        let body = borsh::to_vec(&bytes).map_err(|error| Error::Protocol(error.to_string()))?;
        Self::answer(self.post_bytes("/v1/txs/batch", body).await?).await
    }

    /// Follows `GET /v1/events` from block `from` (or after the cursor `resume`).
    pub async fn events(
        &self,
        from: Option<u64>,
        resume: Option<&str>,
    ) -> Result<impl futures_util::Stream<Item = Result<StreamEvent>>> {
        let mut request = self.http.get(self.url("/v1/events"));
        if let Some(from) = from {
            request = request.query(&[("from", from)]);
        }
        if let Some(cursor) = resume {
            request = request.header("Last-Event-ID", cursor);
        }
        let response = request.send().await?;
        if !response.status().is_success() {
            return Err(Self::answer::<Value>(response)
                .await
                .err()
                .unwrap_or_else(|| Error::Protocol("stream refused".into())));
        }
        let mut buffer = String::new();
        let stream = response.bytes_stream().flat_map(move |chunk| {
            let mut out: Vec<Result<StreamEvent>> = Vec::new();
            match chunk {
                Err(error) => out.push(Err(error.into())),
                Ok(bytes) => {
                    buffer.push_str(&String::from_utf8_lossy(&bytes));
                    while let Some(end) = buffer.find("\n\n") {
                        let message: String = buffer.drain(..end + 2).collect();
                        if let Some(event) = parse_sse(&message) {
                            out.push(Ok(event));
                        }
                    }
                }
            }
            futures_util::stream::iter(out)
        });
        Ok(stream)
    }

    /// Dev accounts of a devnet (`GET /v1/dev/accounts`).
    pub async fn dev_accounts(&self) -> Result<Vec<AccountId>> {
        let answer = self.get_json("/v1/dev/accounts").await?;
        answer
            .get("accounts")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Protocol("no accounts".into()))?
            .iter()
            .map(|entry| parse_account(entry.get("account").and_then(Value::as_str).unwrap_or("")))
            .collect()
    }

    /// `POST /v1/dev/snapshot`; answers the snapshot id.
    pub async fn snapshot(&self) -> Result<u64> {
        let answer = self.post_json("/v1/dev/snapshot", &Value::Null).await?;
        answer
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::Protocol("no id".into()))
    }

    /// `POST /v1/dev/revert`.
    pub async fn revert(&self, id: u64) -> Result<u64> {
        let answer = self
            .post_json("/v1/dev/revert", &serde_json::json!({ "id": id }))
            .await?;
        answer
            .get("height")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::Protocol("no height".into()))
    }
}

fn parse_sse(message: &str) -> Option<StreamEvent> {
    let mut kind = String::from("message");
    let mut id = None;
    let mut data = String::new();
    for line in message.lines() {
        if let Some(rest) = line.strip_prefix("event:") {
            kind = rest.trim().to_string();
        } else if let Some(rest) = line.strip_prefix("id:") {
            id = Some(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("data:") {
            data.push_str(rest.trim_start());
        }
    }
    if data.is_empty() {
        return None;
    }
    Some(StreamEvent {
        kind,
        id,
        data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
    })
}

impl Chain for Client {
    async fn chain_id(&self) -> Result<Label> {
        let status = self.status().await?;
        let text = status.get("chain_id").and_then(Value::as_str).unwrap_or("");
        Label::new(text).ok_or_else(|| Error::Protocol(format!("bad chain id {text:?}")))
    }

    async fn sequencer(&self) -> Result<AccountId> {
        let status = self.status().await?;
        parse_account(
            status
                .get("sequencer")
                .and_then(Value::as_str)
                .unwrap_or(""),
        )
    }

    async fn height(&self) -> Result<u64> {
        let status = self.status().await?;
        status
            .get("height")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::Protocol("no height".into()))
    }

    async fn submit(&self, tx: &SignedTx) -> Result<Hash> {
        let response = self.post_bytes("/v1/txs", tx.to_bytes()).await?;
        let answer: Value = Self::answer(response).await?;
        hex32(&answer, "hash")
    }

    async fn wait(&self, hash: &Hash) -> Result<CommittedTx> {
        let deadline = tokio::time::Instant::now() + self.wait_timeout;
        loop {
            let view = self.tx(hash).await?;
            match view.get("status").and_then(Value::as_str) {
                Some("committed") => return Self::committed_from(&view),
                Some("unknown") => {
                    return Err(Error::Protocol(format!(
                        "transaction {} is neither pending nor committed",
                        hex::encode(hash)
                    )))
                }
                _ => {}
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Protocol(format!(
                    "transaction {} still pending",
                    hex::encode(hash)
                )));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn submit_and_wait(&self, tx: &SignedTx) -> Result<CommittedTx> {
        let response = self
            .post_bytes("/v1/txs?wait=commit", tx.to_bytes())
            .await?;
        let view: Value = Self::answer(response).await?;
        Self::committed_from(&view)
    }

    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let answer = self
            .get_json(&format!("/v1/proofs/{}", hex::encode(key)))
            .await?;
        hex_bytes(&answer, "value")
    }

    async fn prove(&self, key: &[u8], height: Option<u64>) -> Result<ProvenValue> {
        let path = match height {
            Some(height) => format!("/v1/proofs/{}?height={height}", hex::encode(key)),
            None => format!("/v1/proofs/{}", hex::encode(key)),
        };
        let answer = self.get_json(&path).await?;
        let proof_bytes =
            hex_bytes(&answer, "proof")?.ok_or_else(|| Error::Protocol("no proof".into()))?;
        let header = answer.get("header").cloned().unwrap_or(Value::Null);
        Ok(ProvenValue {
            key: key.to_vec(),
            height: answer
                .get("height")
                .and_then(Value::as_u64)
                .ok_or_else(|| Error::Protocol("no height".into()))?,
            value: hex_bytes(&answer, "value")?,
            proof: StateProof::decode(&proof_bytes)
                .map_err(|error| Error::Protocol(error.to_string()))?,
            header: borsh_field(&header, "signed_header_borsh")?,
        })
    }

    async fn mine(&self, blocks: u32) -> Result<()> {
        self.post_json("/v1/dev/mine", &serde_json::json!({ "blocks": blocks }))
            .await?;
        Ok(())
    }

    async fn advance_time(&self, ms: u64) -> Result<()> {
        self.post_json("/v1/dev/time", &serde_json::json!({ "advance_ms": ms }))
            .await?;
        Ok(())
    }
}
