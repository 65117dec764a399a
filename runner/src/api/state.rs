//! Read routes: blocks, accounts, escrows and their events, market objects, prices and
//! proofs. Object routes take `?height=H` (a past height, served from the versioned
//! history) and `?prove=true` (adds the proof and the signed header it verifies against).

use agora_contract::bounded::Label;
use agora_contract::escrow::Escrow;
use agora_contract::event::audit_head_of;
use agora_contract::header::SignedHeader;
use agora_contract::market::{Assignment, Offer, Provider, Request};
use agora_contract::state::keys;
use agora_contract::wallet::{self, Account};
use agora_contract::AccountId;
use axum::extract::State;
use axum::Json;
use borsh::BorshDeserialize;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiPath, ApiQuery};
use super::{parse_hex32, parse_uuid, to_json, ApiError, ApiResult, Shared};
use crate::app::QueryResult;
use crate::store::StoredBlock;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ObjectParams {
    /// Height to read at (default: latest).
    pub height: Option<u64>,
    /// Include a Merkle proof and the signed header.
    #[serde(default)]
    pub prove: bool,
}

/// A signed header as JSON: every field, its hash, the signature and the borsh bytes a
/// light client verifies.
pub fn header_view(signed: &SignedHeader) -> Value {
    let header = &signed.header;
    json!({
        "version": header.version,
        "chain_id": header.chain_id.as_str(),
        "height": header.height,
        "prev_hash": hex::encode(header.prev_hash),
        "time_ms": header.time_ms,
        "tx_count": header.tx_count,
        "tx_root": hex::encode(header.tx_root),
        "receipts_root": hex::encode(header.receipts_root),
        "hook_events_hash": hex::encode(header.hook_events_hash),
        "state_root": hex::encode(header.state_root),
        "proposer": hex::encode(header.proposer.0),
        "hash": hex::encode(header.hash()),
        "signature": hex::encode(signed.signature),
        "signed_header_borsh": hex::encode(borsh::to_vec(signed).unwrap_or_default()),
    })
}

fn block_view(block: &StoredBlock) -> Value {
    let tx_hashes: Vec<String> = block
        .txs
        .iter()
        .map(|tx| hex::encode(agora_contract::ids::sha256(&[tx])))
        .collect();
    json!({
        "height": block.header.header.height,
        "hash": hex::encode(block.header.header.hash()),
        "header": header_view(&block.header),
        "tx_hashes": tx_hashes,
        "hook_events": to_json(&block.hook_events),
    })
}

/// The latest committed block.
#[utoipa::path(get, path = "/v1/blocks/latest", responses((status = 200, description = "Header, hash, signature, tx hashes")))]
pub async fn latest_block(State(node): State<Shared>) -> ApiResult<Json<Value>> {
    let height = node.store.head()?.unwrap_or(0);
    block_at(&node, height)
}

/// A block by height.
#[utoipa::path(get, path = "/v1/blocks/{height}", params(("height" = u64, Path, description = "block height")),
    responses((status = 200, description = "Header, hash, signature, tx hashes"), (status = 404, description = "No such block")))]
pub async fn block(
    State(node): State<Shared>,
    ApiPath(height): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let height: u64 = height
        .parse()
        .map_err(|_| ApiError::bad_request("height must be a non-negative integer"))?;
    block_at(&node, height)
}

fn block_at(node: &Shared, height: u64) -> ApiResult<Json<Value>> {
    let block = node
        .store
        .block(height)?
        .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    Ok(Json(block_view(&block)))
}

/// Chain id, sequencer key, height, mempool size: what a client needs to start.
#[utoipa::path(get, path = "/v1/status", responses((status = 200, description = "Node status")))]
pub async fn status_info(State(node): State<Shared>) -> ApiResult<Json<Value>> {
    let (pending, pending_bytes) = {
        let mempool = node.mempool.lock().unwrap_or_else(|e| e.into_inner());
        (mempool.len(), mempool.bytes())
    };
    let height = node.height();
    let state_root = node
        .store
        .header(height)?
        .map(|header| hex::encode(header.header.state_root));
    Ok(Json(json!({
        "chain_id": node.chain_id.to_string(),
        "sequencer": hex::encode(node.sequencer_id.0),
        "height": height,
        "state_root": state_root,
        "mempool_txs": pending,
        "mempool_bytes": pending_bytes,
        "dev": node.config.dev,
    })))
}

/// Reads `key` per the params and returns (query result, decoded value).
fn read_object<T: BorshDeserialize>(
    node: &Shared,
    key: &[u8],
    params: &ObjectParams,
) -> ApiResult<(QueryResult, Option<T>)> {
    let result = node.app.query(key, params.height, params.prove)?;
    let value = match &result.value {
        None => None,
        Some(bytes) => Some(
            borsh::from_slice::<T>(bytes)
                .map_err(|_| ApiError::internal("stored value does not decode"))?,
        ),
    };
    Ok((result, value))
}

/// Adds `height`, and with `prove` the proof and header, to an object answer.
fn with_proof(mut view: Value, key: &[u8], result: &QueryResult, prove: bool) -> Value {
    if let Value::Object(map) = &mut view {
        map.insert("height".into(), json!(result.height));
        if prove {
            map.insert("proof".into(), proof_view(key, result));
        }
    }
    view
}

fn proof_view(key: &[u8], result: &QueryResult) -> Value {
    json!({
        "key": hex::encode(key),
        "height": result.height,
        "value": result.value.as_ref().map(hex::encode),
        "proof": result.proof.as_ref().map(|proof| hex::encode(proof.to_bytes())),
        "proof_json": result.proof.as_ref().map(to_json),
        "header": header_view(&result.header),
    })
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        agora_contract::TxError::NotFound.code(),
        "NotFound",
        format!("no {what} {id}"),
    )
}

/// An account: available and locked funds and the nonce. With `?height` or `?prove`, the
/// account record at that height (available and nonce; `locked` is only given for the
/// latest height).
#[utoipa::path(get, path = "/v1/accounts/{pubkey}", params(("pubkey" = String, Path, description = "account public key, hex"), ObjectParams),
    responses((status = 200, description = "Account")))]
pub async fn account(
    State(node): State<Shared>,
    ApiPath(pubkey): ApiPath<String>,
    ApiQuery(params): ApiQuery<ObjectParams>,
) -> ApiResult<Json<Value>> {
    let id = AccountId(parse_hex32("account", &pubkey)?);
    let key = keys::account(&id);
    let (result, record) = read_object::<Account>(&node, &key, &params)?;
    let record = record.unwrap_or_default();
    let mut view = json!({
        "account": hex::encode(id.0),
        "available": record.available.0,
        "nonce": record.nonce,
        "exists": result.value.is_some(),
    });
    if params.height.is_none() {
        let account_view = wallet::account_view(&node.store.view(), &id)?;
        if let Value::Object(map) = &mut view {
            map.insert("locked".into(), json!(account_view.locked.0));
        }
    }
    Ok(Json(with_proof(view, &key, &result, params.prove)))
}

/// An escrow.
#[utoipa::path(get, path = "/v1/escrows/{id}", params(("id" = String, Path, description = "escrow UUID"), ObjectParams),
    responses((status = 200, description = "Escrow"), (status = 404, description = "Unknown escrow")))]
pub async fn escrow(
    State(node): State<Shared>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<ObjectParams>,
) -> ApiResult<Json<Value>> {
    let uuid = parse_uuid(&id)?;
    let key = keys::escrow(&uuid);
    let (result, escrow) = read_object::<Escrow>(&node, &key, &params)?;
    match escrow {
        Some(escrow) => Ok(Json(with_proof(
            to_json(&escrow),
            &key,
            &result,
            params.prove,
        ))),
        None if params.prove => Ok(Json(with_proof(
            json!({ "id": id, "exists": false }),
            &key,
            &result,
            true,
        ))),
        None => Err(not_found("escrow", &id)),
    }
}

/// Every event of an escrow in order with its source, and the audit head recomputed from
/// them next to the one the escrow stores.
#[utoipa::path(get, path = "/v1/escrows/{id}/events", params(("id" = String, Path, description = "escrow UUID")),
    responses((status = 200, description = "Events and audit heads")))]
pub async fn escrow_events(
    State(node): State<Shared>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let uuid = parse_uuid(&id)?;
    let escrow = agora_contract::escrow::load_escrow(&node.store.view(), &uuid)?;
    let events = node.store.escrow_events(&uuid)?;
    let chain: Vec<_> = events
        .iter()
        .map(|(_, source, event)| (*source, event.clone()))
        .collect();
    let items: Vec<Value> = events
        .iter()
        .map(|(height, source, event)| {
            json!({ "height": height, "source": to_json(source), "event": to_json(event) })
        })
        .collect();
    Ok(Json(json!({
        "id": id,
        "events": items,
        "audit_head": hex::encode(escrow.audit_head),
        "recomputed_audit_head": hex::encode(audit_head_of(&uuid, &chain)),
    })))
}

macro_rules! market_route {
    ($name:ident, $path:literal, $what:literal, $ty:ty, $key:expr) => {
        #[doc = concat!("A market ", $what, ".")]
        #[utoipa::path(get, path = $path, params(("id" = String, Path, description = "id"), ObjectParams),
            responses((status = 200, description = $what), (status = 404, description = "Unknown id")))]
        pub async fn $name(
            State(node): State<Shared>,
            ApiPath(id): ApiPath<String>,
            ApiQuery(params): ApiQuery<ObjectParams>,
        ) -> ApiResult<Json<Value>> {
            let key = ($key)(&id)?;
            let (result, value) = read_object::<$ty>(&node, &key, &params)?;
            match value {
                Some(value) => Ok(Json(with_proof(to_json(&value), &key, &result, params.prove))),
                None if params.prove => Ok(Json(with_proof(json!({ "id": id, "exists": false }), &key, &result, true))),
                None => Err(not_found($what, &id)),
            }
        }
    };
}

market_route!(
    request,
    "/v1/market/requests/{id}",
    "request",
    Request,
    |id: &str| { Ok::<_, ApiError>(keys::request(&parse_uuid(id)?)) }
);
market_route!(
    offer,
    "/v1/market/offers/{id}",
    "offer",
    Offer,
    |id: &str| { Ok::<_, ApiError>(keys::offer(&parse_uuid(id)?)) }
);
market_route!(
    assignment,
    "/v1/market/assignments/{id}",
    "assignment",
    Assignment,
    |id: &str| { Ok::<_, ApiError>(keys::assignment(&parse_uuid(id)?)) }
);
market_route!(
    provider,
    "/v1/market/providers/{id}",
    "provider",
    Provider,
    |id: &str| { Ok::<_, ApiError>(keys::provider(&AccountId(parse_hex32("provider", id)?))) }
);

/// Price figures of a task type over the last 24 hourly buckets (VWAP, mean, min, max,
/// volume, count), as of the latest block time.
#[utoipa::path(get, path = "/v1/market/prices/{task_type}", params(("task_type" = String, Path, description = "task type label")),
    responses((status = 200, description = "Price statistics, null when no trades")))]
pub async fn prices(
    State(node): State<Shared>,
    ApiPath(task_type): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let label = Label::new(&task_type)
        .ok_or_else(|| ApiError::bad_request("task type must be 1–32 characters of [a-z0-9_-]"))?;
    let now_ms = node
        .store
        .chain_head()?
        .map(|head| head.time_ms)
        .unwrap_or(0);
    let stats = agora_contract::market::prices::price_stats(&node.store.view(), &label, now_ms)?;
    Ok(Json(
        json!({ "task_type": task_type, "as_of_ms": now_ms, "stats": stats.as_ref().map(to_json) }),
    ))
}

/// The value of any state key (hex) at a height, or its absence, with the proof and the
/// signed header it verifies against.
#[utoipa::path(get, path = "/v1/proofs/{key}", params(("key" = String, Path, description = "state key, hex"), ObjectParams),
    responses((status = 200, description = "Value or absence, proof, header")))]
pub async fn proof(
    State(node): State<Shared>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(params): ApiQuery<ObjectParams>,
) -> ApiResult<Json<Value>> {
    let key = hex::decode(&key).map_err(|_| ApiError::bad_request("key must be hex"))?;
    if key.is_empty() || key.len() > agora_contract::commit::MAX_KEY_BYTES {
        return Err(ApiError::bad_request("key must be 1 to 1024 bytes"));
    }
    let result = node.app.query(&key, params.height, true)?;
    Ok(Json(proof_view(&key, &result)))
}
