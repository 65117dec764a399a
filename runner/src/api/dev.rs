//! Devnet-only controls: mine blocks now, move block time forward, snapshot and revert,
//! and the dev accounts with their keys. Answer 403 (code 615) on a node started without
//! dev controls.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::ApiBody;
use super::{codes, ApiError, ApiResult, Shared};
use crate::genesis::{dev_accounts, DEV_ACCOUNTS};
use crate::sequencer::Command;

fn require_dev(node: &Shared) -> ApiResult<()> {
    if node.config.dev {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            codes::DEV_DISABLED,
            "DevDisabled",
            "dev controls are only available on a devnet",
        ))
    }
}

/// Parses an optional JSON body (empty means defaults).
fn optional_json<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> ApiResult<T> {
    if body.iter().all(|byte| byte.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("bad JSON: {error}")))
}

fn sequencer_error(message: String) -> ApiError {
    ApiError::bad_request(message)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MineBody {
    blocks: Option<u32>,
}

/// Produces blocks now (default 1, at most 1 000) with whatever the mempool holds.
#[utoipa::path(post, path = "/v1/dev/mine", request_body(content = String, description = "optional JSON {\"blocks\": n}", content_type = "application/json"), responses((status = 200, description = "Heights mined")))]
pub async fn mine(State(node): State<Shared>, ApiBody(body): ApiBody) -> ApiResult<Json<Value>> {
    require_dev(&node)?;
    let request: MineBody = optional_json(&body)?;
    let blocks = request.blocks.unwrap_or(1);
    if blocks == 0 || blocks > 1_000 {
        return Err(ApiError::bad_request("blocks must be 1 to 1000"));
    }
    let heights = node
        .command(|reply| Command::Mine { blocks, reply })
        .await
        .map_err(sequencer_error)?;
    Ok(Json(json!({ "heights": heights })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeBody {
    advance_ms: u64,
}

/// Moves block time forward: every later block is at least `advance_ms` later than the
/// wall clock alone would make it. Answers the earliest time of the next block.
#[utoipa::path(post, path = "/v1/dev/time", request_body(content = String, description = "JSON {\"advance_ms\": n}", content_type = "application/json"), responses((status = 200, description = "Next block time")))]
pub async fn advance_time(
    State(node): State<Shared>,
    ApiBody(body): ApiBody,
) -> ApiResult<Json<Value>> {
    require_dev(&node)?;
    let request: TimeBody = serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad_request(format!("expected {{\"advance_ms\": N}}: {error}"))
    })?;
    let next = node
        .command(|reply| Command::AdvanceTime {
            ms: request.advance_ms,
            reply,
        })
        .await
        .map_err(sequencer_error)?;
    Ok(Json(json!({ "next_block_time_ms": next })))
}

/// Remembers the current height; answers a snapshot id for `/v1/dev/revert`.
#[utoipa::path(post, path = "/v1/dev/snapshot", responses((status = 200, description = "Snapshot id")))]
pub async fn snapshot(State(node): State<Shared>) -> ApiResult<Json<Value>> {
    require_dev(&node)?;
    let id = node
        .command(|reply| Command::Snapshot { reply })
        .await
        .map_err(sequencer_error)?;
    Ok(Json(json!({ "id": id, "height": node.height() })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevertBody {
    id: u64,
}

/// Undoes every block after a snapshot (state, blocks, receipts, tx index) and empties the
/// mempool. The snapshot and later ones are used up.
#[utoipa::path(post, path = "/v1/dev/revert", request_body(content = String, description = "JSON {\"id\": n}", content_type = "application/json"), responses((status = 200, description = "Height reverted to")))]
pub async fn revert(State(node): State<Shared>, ApiBody(body): ApiBody) -> ApiResult<Json<Value>> {
    require_dev(&node)?;
    let request: RevertBody = serde_json::from_slice(&body)
        .map_err(|error| ApiError::bad_request(format!("expected {{\"id\": N}}: {error}")))?;
    let height = node
        .command(|reply| Command::Revert {
            id: request.id,
            reply,
        })
        .await
        .map_err(sequencer_error)?;
    Ok(Json(json!({ "height": height })))
}

/// The prefunded dev accounts with their (public) secret keys.
#[utoipa::path(get, path = "/v1/dev/accounts", responses((status = 200, description = "Dev accounts")))]
pub async fn accounts(State(node): State<Shared>) -> ApiResult<Json<Value>> {
    require_dev(&node)?;
    Ok(Json(json!({ "accounts": dev_accounts(DEV_ACCOUNTS) })))
}
