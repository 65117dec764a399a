//! Hostile and malformed input to the HTTP API, beyond the cases of `http.rs` ("8.
//! hostile input", which this file does not repeat): media types in every spelling,
//! malformed JSON (deep nesting, invalid UTF-8, duplicate keys), every truncation and every
//! single-byte corruption of a signed transaction, huge length prefixes, bodies over the
//! limit announced or streamed in chunks, overlong URIs and headers, garbage request
//! lines, wrong methods, out-of-range ids and parameters, bad dev commands, nonces at and
//! past the window, replays, expired transactions. Each answer must be the expected 4xx
//! with the typed error code (or, for what the HTTP layer refuses before the router, the
//! HTTP status alone); nothing may be admitted or change; and the node must keep producing
//! blocks throughout. The test prints the table of every case (docs/reliability.md).

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use agora_contract::{Action, Amount};
use agora_runner::api::{serve, ServeLimits};
use agora_runner::genesis::{devnet_genesis, devnet_sequencer_key};
use agora_runner::node::{BlockMode, Node, NodeConfig};
use serde_json::{json, Value};

use support::*;

/// One row of the table: what was sent and what came back.
struct Row {
    name: String,
    status: u16,
    code: Option<u64>,
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
}

impl Table {
    /// Records an answer and checks its status and typed code (`None`: no code expected,
    /// the HTTP layer answered before the router).
    #[track_caller]
    fn check(&mut self, name: impl Into<String>, answer: &Answer, status: u16, code: Option<u16>) {
        let name = name.into();
        assert_eq!(
            answer.status.as_u16(),
            status,
            "{name}: expected {status}, got {} {}",
            answer.status,
            answer.text
        );
        if let Some(code) = code {
            answer.assert_error(status, code);
        }
        self.rows.push(Row {
            name,
            status,
            code: answer.json["code"].as_u64(),
        });
    }

    #[track_caller]
    fn check_raw(
        &mut self,
        name: impl Into<String>,
        answer: &RawAnswer,
        status: u16,
        code: Option<u16>,
    ) {
        let name = name.into();
        assert_eq!(answer.status, status, "{name}: {}", answer.head);
        if let Some(code) = code {
            assert_eq!(
                answer.code,
                Some(u64::from(code)),
                "{name}: {}",
                answer.head
            );
        }
        self.rows.push(Row {
            name,
            status,
            code: answer.code,
        });
    }
}

/// An answer read from a raw socket.
struct RawAnswer {
    status: u16,
    code: Option<u64>,
    head: String,
}

/// Sends `request` on a fresh connection (writing in its own thread, so a node that
/// answers before reading everything is not a deadlock) and reads the answer.
async fn raw(address: SocketAddr, request: Vec<u8>) -> RawAnswer {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut writer = stream.try_clone().expect("clone");
        let sender = std::thread::spawn(move || {
            for chunk in request.chunks(64 * 1024) {
                if writer.write_all(chunk).is_err() {
                    break;
                }
            }
        });
        let mut answer = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&answer);
                    // One answer is enough: stop at the end of its body.
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break;
                        }
                    }
                }
            }
        }
        drop(stream);
        let _ = sender.join();
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        let code = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["code"].as_u64());
        RawAnswer {
            status,
            code,
            head: text.lines().next().unwrap_or("").to_string(),
        }
    })
    .await
    .expect("raw client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_requests_get_typed_4xx_change_nothing_and_blocks_keep_coming() {
    // Served as `agora-runner devnet` serves it: `api::serve` with the default limits.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = NodeConfig::devnet(dir.path().to_path_buf());
    config.mode = BlockMode::Interval { block_time_ms: 100 };
    let node =
        Node::start(config, devnet_genesis(now_ms()), devnet_sequencer_key()).expect("node starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address: SocketAddr = listener.local_addr().expect("address");
    let router = agora_runner::api::router(node.clone());
    tokio::spawn(serve(
        listener,
        router,
        ServeLimits::default(),
        std::future::pending(),
    ));
    let client = Client::new(&format!("http://{address}"));
    let c = &client;
    // Set-up: one committed transfer (for the replays).
    let committed = transfer(1, 0, dev_id(2), 100);
    c.submit_commit(&committed).await;
    let start_height = c.height().await;
    let balances = c.dev_balances().await;
    let mut nonces = Vec::new();
    for index in 0..10 {
        nonces.push(c.nonce(&dev_id(index)).await);
    }
    let valid = transfer(3, 0, dev_id(4), 1);
    let mut t = Table::default();

    // ---- media types ----
    for (media, status, code) in [
        ("application/octet-stream; charset=binary", 400, 101),
        ("APPLICATION/OCTET-STREAM", 400, 101),
        ("multipart/form-data; boundary=x", 415, 611),
        ("application/x-www-form-urlencoded", 415, 611),
        ("text/json", 415, 611),
        ("application/borsh", 415, 611),
    ] {
        let answer = c.post_raw("/v1/txs", Some(media), b"junk".to_vec()).await;
        t.check(
            format!("submit, Content-Type {media}"),
            &answer,
            status,
            Some(code),
        );
    }
    let answer = c
        .post_raw(
            "/v1/txs",
            Some("Application/JSON; charset=UTF-8"),
            br#"{"tx":"00"}"#.to_vec(),
        )
        .await;
    t.check(
        "submit JSON, Content-Type Application/JSON; charset=UTF-8",
        &answer,
        400,
        Some(101),
    );
    let answer = c
        .post_raw(
            "/v1/txs/batch",
            Some("text/plain"),
            br#"{"txs":[]}"#.to_vec(),
        )
        .await;
    t.check("batch, Content-Type text/plain", &answer, 415, Some(611));

    // ---- malformed JSON ----
    let deep = format!("{{\"tx\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let long_junk = format!("{{\"tx\": \"{}\"}}", "zz".repeat(500_000));
    let json_cases: Vec<(&str, Vec<u8>, u16, u16)> = vec![
        ("tx is null", br#"{"tx": null}"#.to_vec(), 400, 610),
        ("body is an array", b"[]".to_vec(), 400, 610),
        ("body is a string", br#""tx""#.to_vec(), 400, 610),
        ("body is empty", Vec::new(), 400, 610),
        ("arrays nested 10 000 deep", deep.into_bytes(), 400, 610),
        (
            "invalid UTF-8",
            b"{\"tx\": \"\xff\xfe\"}".to_vec(),
            400,
            610,
        ),
        (
            "duplicate key",
            br#"{"tx": "00", "tx": "11"}"#.to_vec(),
            400,
            610,
        ),
        ("odd-length hex", br#"{"tx": "abc"}"#.to_vec(), 400, 610),
        ("empty hex after 0x", br#"{"tx": "0x"}"#.to_vec(), 400, 101),
        ("1 MB of non-hex", long_junk.into_bytes(), 400, 610),
        ("1 MB of whitespace", vec![b' '; 1 << 20], 400, 610),
    ];
    for (name, body, status, code) in json_cases {
        let answer = c.post_raw("/v1/txs", Some("application/json"), body).await;
        t.check(format!("submit JSON: {name}"), &answer, status, Some(code));
    }
    for (name, body) in [
        ("txs is a string", json!({ "txs": "00" })),
        ("txs holds null", json!({ "txs": [null] })),
        ("txs holds a number", json!({ "txs": [12] })),
        ("no txs field", json!({ "tx": "00" })),
    ] {
        let answer = c.post_json("/v1/txs/batch", &body).await;
        t.check(format!("batch JSON: {name}"), &answer, 400, Some(610));
    }

    // ---- malformed borsh: every truncation and every single-byte corruption ----
    for len in 0..valid.len() {
        let answer = c.submit_raw(&valid[..len]).await;
        t.check(
            format!("tx truncated to {len} bytes"),
            &answer,
            400,
            Some(101),
        );
    }
    let mut corruption_codes = std::collections::BTreeMap::new();
    for at in 0..valid.len() {
        let mut bytes = valid.clone();
        bytes[at] ^= 0xff;
        let answer = c.submit_raw(&bytes).await;
        let code = answer.json["code"].as_u64().unwrap_or(0);
        assert_eq!(
            answer.status.as_u16(),
            400,
            "byte {at} flipped: {}",
            answer.text
        );
        assert!(
            [101, 102, 103, 104].contains(&code),
            "byte {at} flipped: code {code}"
        );
        *corruption_codes.entry(code).or_insert(0) += 1;
        t.check(format!("tx with byte {at} flipped"), &answer, 400, None);
    }
    let mut trailing = valid.clone();
    trailing.extend(vec![0u8; 1024]);
    t.check(
        "tx with 1 KiB of trailing bytes",
        &c.submit_raw(&trailing).await,
        400,
        Some(101),
    );
    let mut huge_prefix = valid.clone();
    huge_prefix[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    t.check(
        "chain id length prefix 2^32 - 1",
        &c.submit_raw(&huge_prefix).await,
        400,
        Some(101),
    );
    t.check(
        "64 KiB of zero bytes",
        &c.submit_raw(&vec![0u8; 64 * 1024]).await,
        400,
        Some(101),
    );

    // ---- bodies over the limit, announced or streamed ----
    let mut announced = format!(
        "POST /v1/txs HTTP/1.1\r\nHost: node\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\n\r\n",
        40 << 20
    )
    .into_bytes();
    announced.extend(vec![b'a'; 33 << 20]);
    let answer = raw(address, announced).await;
    t.check_raw(
        "Content-Length 40 MiB announced, 33 MiB sent",
        &answer,
        413,
        Some(612),
    );
    let mut chunked =
        b"POST /v1/txs HTTP/1.1\r\nHost: node\r\nContent-Type: application/octet-stream\r\n\
        Transfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..33 {
        chunked.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend(&chunk);
        chunked.extend(b"\r\n");
    }
    chunked.extend(b"0\r\n\r\n");
    let answer = raw(address, chunked).await;
    t.check_raw("33 MiB streamed in chunks", &answer, 413, Some(612));

    // ---- the HTTP layer ----
    let long_uri = format!(
        "GET /v1/{} HTTP/1.1\r\nHost: node\r\n\r\n",
        "a".repeat(100_000)
    );
    let answer = raw(address, long_uri.into_bytes()).await;
    assert!(
        answer.status >= 400 && answer.status < 500,
        "{}",
        answer.head
    );
    t.check_raw("URI of 100 000 bytes", &answer, answer.status, None);
    let big_header = format!(
        "GET /health HTTP/1.1\r\nHost: node\r\nX-Big: {}\r\n\r\n",
        "b".repeat(200_000)
    );
    let answer = raw(address, big_header.into_bytes()).await;
    t.check_raw("a 200 000-byte header", &answer, 431, None);
    let answer = raw(address, b"HELLO THERE\r\n\r\n".to_vec()).await;
    t.check_raw("garbage request line", &answer, 400, None);
    let answer = raw(
        address,
        b"POST /v1/txs HTTP/1.1\r\nHost: node\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello".to_vec(),
    )
    .await;
    t.check_raw("two different Content-Length headers", &answer, 400, None);

    // ---- methods, paths, ids, parameters ----
    for (method, path) in [
        (reqwest::Method::DELETE, "/v1/txs"),
        (reqwest::Method::PUT, "/v1/blocks/1"),
        (reqwest::Method::PATCH, "/v1/status"),
        (reqwest::Method::GET, "/v1/dev/mine"),
    ] {
        let response = c
            .http
            .request(method.clone(), c.url(path))
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (status, body["code"].as_u64()),
            (405, Some(610)),
            "{method} {path}"
        );
        t.rows.push(Row {
            name: format!("{method} {path}"),
            status,
            code: body["code"].as_u64(),
        });
    }
    let uuid = "6f1c1d3e-6b7a-4c8e-9a55-0c1f6f2b9e11";
    let account = hex_id(&dev_id(1));
    let get_cases: Vec<(String, u16, u16)> = vec![
        ("/v1/txs/".into(), 404, 613),
        ("/V1/status".into(), 404, 613),
        ("/v1/status/extra".into(), 404, 613),
        ("/v1/blocks/18446744073709551616".into(), 400, 610),
        ("/v1/blocks/18446744073709551615".into(), 404, 613),
        ("/v1/blocks/-1".into(), 400, 610),
        ("/v1/blocks/0x10".into(), 400, 610),
        (format!("/v1/market/requests/{uuid}"), 404, 300),
        (format!("/v1/market/offers/{uuid}"), 404, 300),
        (format!("/v1/market/assignments/{uuid}"), 404, 300),
        (format!("/v1/escrows/{uuid}/events"), 404, 300),
        ("/v1/market/offers/not-a-uuid".into(), 400, 610),
        ("/v1/market/providers/zz".into(), 400, 610),
        ("/v1/market/prices/UPPER".into(), 400, 610),
        (format!("/v1/market/prices/{}", "a".repeat(33)), 400, 610),
        (format!("/v1/accounts/{account}?height=-1"), 400, 610),
        (format!("/v1/accounts/{account}?height=abc"), 400, 610),
        (format!("/v1/accounts/{account}?prove=maybe"), 400, 610),
        (
            format!("/v1/accounts/{account}?height=18446744073709551615"),
            404,
            614,
        ),
        (format!("/v1/accounts/{}", "0".repeat(66)), 400, 610),
        (format!("/v1/proofs/{}", "ab".repeat(1025)), 400, 610),
        ("/v1/proofs/0".into(), 400, 610),
        ("/v1/events?from=abc".into(), 400, 610),
    ];
    for (path, status, code) in get_cases {
        let answer = c.get(&path).await;
        t.check(format!("GET {path}"), &answer, status, Some(code));
    }

    // ---- dev commands ----
    for (path, body) in [
        ("/v1/dev/mine", json!({ "blocks": 0 })),
        ("/v1/dev/mine", json!({ "blocks": 1001 })),
        ("/v1/dev/mine", json!({ "blocks": -1 })),
        ("/v1/dev/mine", json!({ "blocks": "x" })),
        ("/v1/dev/mine", json!({ "blocks": 1, "extra": true })),
        ("/v1/dev/time", json!({})),
        ("/v1/dev/time", json!({ "advance_ms": u64::MAX })),
        ("/v1/dev/time", json!({ "advance_ms": -5 })),
        ("/v1/dev/revert", json!({ "id": "x" })),
        ("/v1/dev/revert", json!({ "id": u64::MAX })),
    ] {
        let answer = c.post_json(path, &body).await;
        t.check(format!("POST {path} {body}"), &answer, 400, Some(610));
    }

    // ---- nonces, replays, expiry ----
    let at = |nonce: u64| transfer(3, nonce, dev_id(4), 1);
    t.check(
        "nonce 1 024 ahead of the committed nonce",
        &c.submit_raw(&at(1_024)).await,
        400,
        Some(605),
    );
    t.check(
        "nonce u64::MAX",
        &c.submit_raw(&at(u64::MAX)).await,
        400,
        Some(605),
    );
    let replay_other_bytes = transfer(1, 0, dev_id(2), 101);
    t.check(
        "replay: the committed nonce re-signed with other bytes",
        &c.submit_raw(&replay_other_bytes).await,
        400,
        Some(105),
    );
    let head = c.height().await;
    for (name, until) in [
        ("valid_until_height 0", 0),
        ("valid_until_height = head - 1", head - 1),
    ] {
        let expired = sign_full(
            &dev(3),
            &chain_id(),
            0,
            Some(until),
            Action::Transfer {
                to: dev_id(4),
                amount: Amount(1),
            },
        );
        t.check(
            format!("expired, {name}"),
            &c.submit_raw(&expired).await,
            400,
            Some(106),
        );
    }
    // The exact bytes again: idempotent by design (docs/api.md), not an error.
    let again = c.submit_raw(&committed).await;
    assert_eq!(again.status.as_u16(), 202);
    assert_eq!(again.json["status"], "committed");
    t.rows.push(Row {
        name: "replay: the committed bytes again (answered 202 committed; nothing runs)".into(),
        status: 202,
        code: None,
    });
    let batch_again = c
        .post_json(
            "/v1/txs/batch",
            &json!({ "txs": [hex::encode(&committed)] }),
        )
        .await
        .ok();
    assert_eq!(batch_again["results"][0]["status"], "committed");

    // ---- nothing changed, and blocks kept coming ----
    assert_eq!(c.get("/v1/status").await.ok()["mempool_txs"], 0);
    assert_eq!(c.dev_balances().await, balances);
    for index in 0..10 {
        assert_eq!(c.nonce(&dev_id(index)).await, nonces[index as usize]);
    }
    let end_height = c.height().await;
    assert!(
        end_height > start_height,
        "blocks kept coming: {start_height} -> {end_height}"
    );
    for height in start_height + 1..=end_height {
        assert_eq!(
            c.block(height).await["tx_hashes"],
            json!([]),
            "block {height}"
        );
    }
    // And the node still takes a good transaction.
    let receipt = c.submit_commit(&valid).await;
    assert_eq!(receipt["success"], true);

    println!("| # | case | status | code |");
    println!("| --- | --- | --- | --- |");
    for (number, row) in t.rows.iter().enumerate() {
        let code = row
            .code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "—".into());
        println!(
            "| {} | {} | {} | {code} |",
            number + 1,
            row.name,
            row.status
        );
    }
    println!(
        "hostile result: {} cases, all 4xx (one 202 replay by design); single-byte \
         corruptions answered by code: {corruption_codes:?}; blocks {start_height} -> \
         {end_height} during the test",
        t.rows.len()
    );
}
