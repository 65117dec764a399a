//! The HTTP API (axum): routes, the shared error shape, limits and the OpenAPI document.
//! Every error answers `{ "code", "name", "message" }` with a 4xx status for bad input
//! (5xx only for the node's own failures); codes are those of docs/errors.md.
//!
//! JSON conventions: every byte string (hashes, account ids, signatures, payloads, keys) is
//! one lowercase hex string whatever its length; amounts and heights are JSON numbers; ids
//! are UUID strings.

mod dev;
mod extract;
mod serve;
mod state;
mod stream;
mod txs;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use tower_http::timeout::TimeoutLayer;

use crate::node::Node;

pub use serve::{serve, ServeLimits};

/// Largest request body: a batch of up to [`MAX_BATCH`] hex-encoded transactions fits.
pub const MAX_BODY_BYTES: usize = 32 << 20;
/// Most transactions in one batch submission.
pub const MAX_BATCH: usize = 20_000;
/// Requests that take longer are answered 408 (waits for receipts have their own bound).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// API error codes of the node itself (the contract's are 1xx–4xx and 900; the
/// mempool's 600–606).
pub mod codes {
    pub const BAD_REQUEST: u16 = 610;
    pub const UNSUPPORTED_MEDIA_TYPE: u16 = 611;
    pub const PAYLOAD_TOO_LARGE: u16 = 612;
    pub const NOT_FOUND: u16 = 613;
    pub const HEIGHT_UNAVAILABLE: u16 = 614;
    pub const DEV_DISABLED: u16 = 615;
    pub const WAIT_TIMEOUT: u16 = 616;
    pub const TOO_MANY: u16 = 617;
    pub const INTERNAL: u16 = 620;
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u16,
    pub name: &'static str,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable numeric code (docs/errors.md).
    pub code: u16,
    pub name: String,
    pub message: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: u16,
        name: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            name,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            codes::BAD_REQUEST,
            "BadRequest",
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, "NotFound", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "Internal",
            message,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            name: self.name.to_string(),
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                codes::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "expected Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(_) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                format!("request body larger than {MAX_BODY_BYTES} bytes"),
            ),
            other => ApiError::bad_request(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::internal(error.to_string())
    }
}

impl From<crate::app::AppError> for ApiError {
    fn from(error: crate::app::AppError) -> Self {
        match error {
            crate::app::AppError::Store(crate::store::StoreError::MissingHeight(height)) => {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    codes::HEIGHT_UNAVAILABLE,
                    "HeightUnavailable",
                    format!("height {height} is not available"),
                )
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<agora_contract::TxError> for ApiError {
    fn from(error: agora_contract::TxError) -> Self {
        let status = match error {
            agora_contract::TxError::NotFound => StatusCode::NOT_FOUND,
            agora_contract::TxError::StateCorrupt => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, error.code(), error.name(), error.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The router's shared state.
pub type Shared = Arc<Node>;

/// The JSON value of a contract type. Its byte strings (hashes, account ids, payloads,
/// proof keys) are already lowercase hex: the contract's `serde` feature writes them so by
/// type, whatever their length.
pub fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Parses a 32-byte hex value from a path segment.
pub fn parse_hex32(what: &str, text: &str) -> ApiResult<[u8; 32]> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| ApiError::bad_request(format!("{what} must be 64 hex characters")))
}

/// Parses a UUID from a path segment.
pub fn parse_uuid(text: &str) -> ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|_| ApiError::bad_request("id must be a UUID"))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Agora node API",
        description = "Single-sequencer devnet: transactions, blocks, state, proofs, events."
    ),
    paths(
        txs::submit,
        txs::submit_batch,
        txs::status,
        state::latest_block,
        state::block,
        state::account,
        state::escrow,
        state::escrow_events,
        state::request,
        state::offer,
        state::assignment,
        state::provider,
        state::prices,
        state::proof,
        state::status_info,
        stream::events,
        dev::mine,
        dev::advance_time,
        dev::snapshot,
        dev::revert,
        dev::accounts,
        health,
        metrics,
    ),
    components(schemas(ErrorBody))
)]
pub struct ApiDoc;

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <ApiDoc as utoipa::OpenApi>::openapi()
}

/// Liveness: answers 200 with the committed height.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "The node is up")))]
pub async fn health(axum::extract::State(node): axum::extract::State<Shared>) -> Response {
    if node.sequencer_alive() {
        Json(serde_json::json!({ "status": "ok", "height": node.height() })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "sequencer stopped", "height": node.height() })),
        )
            .into_response()
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text")))]
pub async fn metrics(axum::extract::State(node): axum::extract::State<Shared>) -> Response {
    let text = node.metrics.render();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::BAD_REQUEST,
        "MethodNotAllowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

async fn unknown_path(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

/// The whole API.
pub fn router(node: Shared) -> Router {
    let mut api = Router::new()
        .route("/v1/txs", post(txs::submit))
        .route("/v1/txs/batch", post(txs::submit_batch))
        .route("/v1/txs/{hash}", get(txs::status))
        .route("/v1/blocks/latest", get(state::latest_block))
        .route("/v1/blocks/{height}", get(state::block))
        .route("/v1/status", get(state::status_info))
        .route("/v1/accounts/{pubkey}", get(state::account))
        .route("/v1/escrows/{id}", get(state::escrow))
        .route("/v1/escrows/{id}/events", get(state::escrow_events))
        .route("/v1/market/requests/{id}", get(state::request))
        .route("/v1/market/offers/{id}", get(state::offer))
        .route("/v1/market/assignments/{id}", get(state::assignment))
        .route("/v1/market/providers/{id}", get(state::provider))
        .route("/v1/market/prices/{task_type}", get(state::prices))
        .route("/v1/proofs/{key}", get(state::proof))
        .route("/v1/events", get(stream::events))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json));
    api = api
        .route("/v1/dev/mine", post(dev::mine))
        .route("/v1/dev/time", post(dev::advance_time))
        .route("/v1/dev/snapshot", post(dev::snapshot))
        .route("/v1/dev/revert", post(dev::revert))
        .route("/v1/dev/accounts", get(dev::accounts));
    api.fallback(unknown_path)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(node)
}
