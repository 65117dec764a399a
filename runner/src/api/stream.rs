//! `GET /v1/events`: server-sent events of committed blocks' events, resumable. Each SSE
//! message is one event with id `height:position:index` (position 0 is the block's
//! timeout hook, i + 1 its transaction i), and each block ends with a `block` message
//! whose id `height:4294967295:4294967295` sorts after all of its events; `?from=H` starts
//! at block H, and a `Last-Event-ID` header resumes just after that message.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::json;

use super::extract::ApiQuery;
use super::{to_json, ApiError, ApiResult, Shared};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventParams {
    /// First block height to stream (default: the next block).
    pub from: Option<u64>,
}

/// A cursor: (height, position, index) of the last message delivered.
type Cursor = (u64, u32, u32);

/// The cursor of a block's closing `block` message: after every event of the block.
fn block_end(height: u64) -> Cursor {
    (height, u32::MAX, u32::MAX)
}

fn parse_cursor(text: &str) -> Option<Cursor> {
    let mut parts = text.split(':');
    let cursor = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    parts.next().is_none().then_some(cursor)
}

/// The event stream.
#[utoipa::path(get, path = "/v1/events", params(EventParams),
    responses((status = 200, description = "text/event-stream of committed events")))]
pub async fn events(
    State(node): State<Shared>,
    ApiQuery(params): ApiQuery<EventParams>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let resume =
        match headers.get("last-event-id").map(|value| value.to_str()) {
            None => None,
            Some(Ok(text)) => Some(parse_cursor(text).ok_or_else(|| {
                ApiError::bad_request("Last-Event-ID must be height:position:index")
            })?),
            Some(Err(_)) => return Err(ApiError::bad_request("Last-Event-ID is not text")),
        };
    let start = match (resume, params.from) {
        (Some((height, _, _)), _) => height,
        (None, Some(from)) => from,
        (None, None) => node.height().saturating_add(1),
    };
    let stream = event_stream(node, start, resume);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn event_stream(
    node: Shared,
    start: u64,
    resume: Option<Cursor>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let committed = node.committed.clone();
    futures_util::stream::unfold(
        (
            node,
            committed,
            start,
            resume,
            std::collections::VecDeque::new(),
        ),
        |(node, mut committed, mut next, resume, mut queue)| async move {
            loop {
                if let Some(event) = queue.pop_front() {
                    return Some((Ok(event), (node, committed, next, resume, queue)));
                }
                if next <= node.height() {
                    queue.extend(block_events(&node, next, resume));
                    next = next.saturating_add(1);
                    continue;
                }
                if committed.changed().await.is_err() {
                    return None;
                }
            }
        },
    )
}

/// The SSE messages of one block, skipping those at or before `resume`.
fn block_events(node: &Shared, height: u64, resume: Option<Cursor>) -> Vec<SseEvent> {
    let Ok(Some(block)) = node.store.block(height) else {
        return Vec::new();
    };
    let receipts = node.store.receipts(height).unwrap_or_default();
    let mut out = Vec::new();
    let hook = std::iter::once((0u32, None, &block.hook_events));
    let txs = receipts.iter().enumerate().map(|(index, receipt)| {
        (
            u32::try_from(index).unwrap_or(u32::MAX).saturating_add(1),
            Some(receipt.tx_hash),
            &receipt.events,
        )
    });
    for (position, tx_hash, events) in hook.chain(txs) {
        for (index, event) in events.iter().enumerate() {
            let cursor = (height, position, u32::try_from(index).unwrap_or(u32::MAX));
            if resume.is_some_and(|after| cursor <= after) {
                continue;
            }
            let data = json!({
                "height": height,
                "time_ms": block.header.header.time_ms,
                "tx_hash": tx_hash.map(hex::encode),
                "event": to_json(event),
            });
            out.push(
                SseEvent::default()
                    .id(format!("{}:{}:{}", cursor.0, cursor.1, cursor.2))
                    .event("event")
                    .data(data.to_string()),
            );
        }
    }
    let end = block_end(height);
    if resume.is_none_or(|after| end > after) {
        out.push(
            SseEvent::default()
                .id(format!("{}:{}:{}", end.0, end.1, end.2))
                .event("block")
                .data(
                    json!({ "height": height, "hash": hex::encode(block.header.header.hash()) })
                        .to_string(),
                ),
        );
    }
    out
}
