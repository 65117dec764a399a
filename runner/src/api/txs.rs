//! Transaction routes: submit one or many (borsh bytes or hex in JSON), optionally wait
//! for the committed receipt, and look a transaction up by hash.

use std::time::Duration;

use agora_contract::block::{Receipt, TxStatus};
use agora_contract::ids::Hash;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiBody, ApiPath, ApiQuery};
use super::{codes, parse_hex32, to_json, ApiError, ApiResult, Shared, MAX_BATCH};
use crate::node::{Admission, SubmitError};
use crate::store::TxLocation;

/// Longest `?wait=commit` wait.
const MAX_WAIT: Duration = Duration::from_secs(25);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SubmitParams {
    /// `commit` waits until the transaction is in a committed block.
    pub wait: Option<String>,
    /// Longest wait in milliseconds (default and maximum 25 000).
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct HexTx {
    tx: String,
}

#[derive(Debug, Deserialize)]
struct HexBatch {
    txs: Vec<String>,
}

/// The media type of the body, lower-cased (media types are case-insensitive), without
/// parameters such as `charset`.
fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or("").trim())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn unsupported() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        codes::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        "send application/octet-stream (borsh bytes) or application/json",
    )
}

fn decode_hex_tx(text: &str) -> ApiResult<Vec<u8>> {
    hex::decode(text.trim_start_matches("0x"))
        .map_err(|_| ApiError::bad_request("tx must be hex-encoded signed transaction bytes"))
}

fn submit_error(error: SubmitError) -> ApiError {
    let status = match &error {
        SubmitError::Mempool(crate::mempool::MempoolError::PoolFull { .. })
        | SubmitError::Mempool(crate::mempool::MempoolError::SenderQueueFull { .. }) => {
            StatusCode::TOO_MANY_REQUESTS
        }
        SubmitError::Mempool(crate::mempool::MempoolError::NonceTaken { .. }) => {
            StatusCode::CONFLICT
        }
        SubmitError::Tx(agora_contract::TxError::StateCorrupt) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, error.code(), error.name(), error.to_string())
}

fn admission_name(admission: Admission) -> &'static str {
    match admission {
        Admission::Accepted => "pending",
        Admission::AlreadyPending => "pending",
        Admission::AlreadyCommitted => "committed",
    }
}

/// Submits one signed transaction: `application/octet-stream` with its borsh bytes, or
/// `application/json` `{ "tx": "<hex>" }`. Answers the hash at once (202), or with
/// `?wait=commit` the committed receipt (200).
#[utoipa::path(post, path = "/v1/txs", params(SubmitParams),
    request_body(content((Vec<u8> = "application/octet-stream"), (String = "application/json")), description = "borsh SignedTx bytes (application/octet-stream), or JSON {\"tx\": hex}"),
    responses((status = 202, description = "Admitted; pending"), (status = 200, description = "Committed receipt (wait=commit)"),
              (status = 400, description = "Rejected, with the typed error code", body = super::ErrorBody)))]
pub async fn submit(
    State(node): State<Shared>,
    ApiQuery(params): ApiQuery<SubmitParams>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult<Response> {
    let bytes = match content_type(&headers).as_str() {
        "application/octet-stream" => body.to_vec(),
        "application/json" => {
            let parsed: HexTx = serde_json::from_slice(&body)
                .map_err(|error| ApiError::bad_request(format!("bad JSON: {error}")))?;
            decode_hex_tx(&parsed.tx)?
        }
        _ => return Err(unsupported()),
    };
    let wait = match params.wait.as_deref() {
        None | Some("none") => false,
        Some("commit") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown wait mode {other:?}"
            )))
        }
    };
    let submit_node = node.clone();
    let (hash, result) = tokio::task::spawn_blocking(move || submit_node.submit(&bytes))
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let admission = result.map_err(submit_error)?;
    if !wait {
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "hash": hex::encode(hash), "status": admission_name(admission) })),
        )
            .into_response());
    }
    let timeout = params
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(MAX_WAIT)
        .min(MAX_WAIT);
    match wait_for_commit(&node, &hash, timeout).await? {
        Some(location) => Ok(Json(receipt_json(&node, &hash, location)?).into_response()),
        None => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            codes::WAIT_TIMEOUT,
            "WaitTimeout",
            format!(
                "transaction {} is still pending after {} ms",
                hex::encode(hash),
                timeout.as_millis()
            ),
        )),
    }
}

/// Waits until `hash` is committed or `timeout` passes.
pub async fn wait_for_commit(
    node: &Shared,
    hash: &Hash,
    timeout: Duration,
) -> ApiResult<Option<TxLocation>> {
    let mut committed = node.committed.clone();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(location) = node.store.tx_location(hash)? {
            return Ok(Some(location));
        }
        match tokio::time::timeout_at(deadline, committed.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return Ok(node.store.tx_location(hash)?),
        }
    }
}

fn too_many() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::TOO_MANY,
        "TooManyTransactions",
        format!("at most {MAX_BATCH} transactions per batch"),
    )
}

/// A batch body of `application/json` `{ "txs": ["<hex>", ...] }`.
fn json_batch(body: &[u8]) -> ApiResult<Vec<Vec<u8>>> {
    let parsed: HexBatch = serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("bad JSON: {error}")))?;
    if parsed.txs.len() > MAX_BATCH {
        return Err(too_many());
    }
    parsed.txs.iter().map(|text| decode_hex_tx(text)).collect()
}

/// A batch body of `application/octet-stream`: the borsh encoding of `Vec<Vec<u8>>` (a
/// u32 LE count, then each transaction as a u32 LE length and its bytes), nothing after.
fn borsh_batch(body: &[u8]) -> ApiResult<Vec<Vec<u8>>> {
    let count = body
        .get(..4)
        .and_then(|bytes| bytes.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| ApiError::bad_request("a borsh batch starts with a u32 count"))?;
    if usize::try_from(count).map_or(true, |count| count > MAX_BATCH) {
        return Err(too_many());
    }
    borsh::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!(
            "a borsh batch is Vec<Vec<u8>> with nothing after it: {error}"
        ))
    })
}

/// Submits many transactions at once (at most 20 000): `application/json`
/// `{ "txs": ["<hex>", ...] }`, or `application/octet-stream` with the borsh encoding of
/// `Vec<Vec<u8>>`, each element a signed transaction's bytes. Signatures are verified in
/// parallel. Answers one result per transaction in order; the request itself succeeds
/// even when some are rejected.
#[utoipa::path(post, path = "/v1/txs/batch",
    request_body(content((String = "application/json"), (Vec<u8> = "application/octet-stream")), description = "JSON {\"txs\": [hex, ...]} (application/json), or borsh Vec<Vec<u8>> of signed transactions (application/octet-stream)"),
    responses((status = 200, description = "One result per transaction")))]
pub async fn submit_batch(
    State(node): State<Shared>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult<Json<Value>> {
    let txs = match content_type(&headers).as_str() {
        "application/json" => json_batch(&body)?,
        "application/octet-stream" => borsh_batch(&body)?,
        _ => return Err(unsupported()),
    };
    let results = tokio::task::spawn_blocking(move || node.submit_batch(&txs))
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let mut accepted = 0u64;
    let items: Vec<Value> = results
        .into_iter()
        .map(|(hash, result)| match result {
            Ok(admission) => {
                accepted += 1;
                json!({ "hash": hex::encode(hash), "status": admission_name(admission) })
            }
            Err(error) => json!({
                "hash": hex::encode(hash),
                "status": "rejected",
                "error": { "code": error.code(), "name": error.name(), "message": error.to_string() },
            }),
        })
        .collect();
    Ok(Json(json!({ "accepted": accepted, "results": items })))
}

/// A receipt as JSON.
pub fn receipt_view(receipt: &Receipt) -> Value {
    let (success, error) = match &receipt.status {
        TxStatus::Success => (true, Value::Null),
        TxStatus::Failed(error) => (
            false,
            json!({ "code": error.code(), "name": error.name(), "message": error.to_string() }),
        ),
    };
    json!({
        "success": success,
        "error": error,
        "nonce_consumed": receipt.nonce_consumed,
        "events": to_json(&receipt.events),
        "receipt_borsh": hex::encode(borsh::to_vec(receipt).unwrap_or_default()),
    })
}

fn receipt_json(node: &Shared, hash: &Hash, location: TxLocation) -> ApiResult<Value> {
    let receipt = node
        .store
        .receipt(location)?
        .ok_or_else(|| ApiError::internal("tx index points at a missing receipt"))?;
    if &receipt.tx_hash != hash {
        return Err(ApiError::internal(
            "tx index points at another transaction's receipt",
        ));
    }
    let mut view = receipt_view(&receipt);
    if let Value::Object(map) = &mut view {
        map.insert("hash".into(), json!(hex::encode(hash)));
        map.insert("status".into(), json!("committed"));
        map.insert("height".into(), json!(location.height));
        map.insert("index".into(), json!(location.index));
    }
    Ok(view)
}

/// A transaction's status: `committed` (height, index, success or typed error, events),
/// `pending` (in the mempool) or `unknown`.
#[utoipa::path(get, path = "/v1/txs/{hash}", params(("hash" = String, Path, description = "tx hash, hex")),
    responses((status = 200, description = "Status and receipt")))]
pub async fn status(
    State(node): State<Shared>,
    ApiPath(hash): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let hash = parse_hex32("tx hash", &hash)?;
    // Mempool first, then the store: a block reaches the tx index before the mempool
    // forgets its transactions, so a transaction is never missed by both.
    let pending = node
        .mempool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&hash);
    if let Some(location) = node.store.tx_location(&hash)? {
        return Ok(Json(receipt_json(&node, &hash, location)?));
    }
    Ok(Json(json!({
        "hash": hex::encode(hash),
        "status": if pending { "pending" } else { "unknown" },
    })))
}
