//! Slow, stalled and idle clients cannot hold the node (`runner/src/api/serve.rs`): with
//! every connection slot taken by a client trickling its headers, a client that never
//! sends anything, an idle keep-alive connection and a client that pipelines requests but
//! never reads the answers, a new client is still served within the header timeout, each
//! of the four is closed by the node, and blocks keep coming. Without the limits the new
//! client would wait forever and this test would fail on its timeout.

mod support;

use std::time::{Duration, Instant};

use agora_runner::api::{serve, ServeLimits};
use agora_runner::genesis::{devnet_genesis, devnet_sequencer_key};
use agora_runner::node::{BlockMode, Node, NodeConfig};
use std::io::{Read, Write};
use std::net::TcpStream;

use tokio::net::TcpSocket;

use support::*;

const LIMITS: ServeLimits = ServeLimits {
    max_connections: 4,
    header_read_timeout: Duration::from_millis(600),
    write_stall_timeout: Duration::from_millis(600),
};

/// Reads until the peer closes (`Ok(bytes)`), or `Err(bytes)` if it is still open after
/// `patience`. Blocking: the raw clients use std sockets.
async fn read_until_closed(stream: TcpStream, patience: Duration) -> Result<Vec<u8>, Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let mut stream = stream;
        let deadline = Instant::now() + patience;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(out);
            }
            stream.set_read_timeout(Some(left)).expect("read timeout");
            match stream.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(out)
                }
                Err(_) => return Ok(out),
            }
        }
    })
    .await
    .expect("reader thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_idle_and_stalled_clients_are_cut_and_others_are_still_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = NodeConfig::devnet(dir.path().to_path_buf());
    config.mode = BlockMode::Interval { block_time_ms: 50 };
    let node =
        Node::start(config, devnet_genesis(now_ms()), devnet_sequencer_key()).expect("node starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let router = agora_runner::api::router(node.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router, LIMITS, async {
        let _ = stop_rx.await;
    }));
    let client = Client::new(&format!("http://{address}"));
    let height_before = client.height().await;
    // The reqwest client's pooled connection must not count against the four slots.
    drop(client);

    // 1. Trickles its headers, one line every 100 ms, never finishing.
    let mut trickler = TcpStream::connect(address).expect("connect");
    trickler
        .write_all(b"GET /health HTTP/1.1\r\nHost: node\r\n")
        .expect("write");
    let trickle = std::thread::spawn(move || {
        for i in 0..100 {
            if trickler
                .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                .is_err()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        trickler
    });
    // 2. Connects and sends nothing.
    let silent = TcpStream::connect(address).expect("connect");
    // 3. One request, then an idle keep-alive connection.
    let mut idle = TcpStream::connect(address).expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: node\r\n\r\n")
        .expect("write");
    let mut first = vec![0u8; 4096];
    let n = idle.read(&mut first).expect("first answer");
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    // 4. Pipelines many requests with a tiny receive window and never reads.
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let stalled = socket.connect(address).await.expect("connect");
    let mut stalled = stalled.into_std().expect("std socket");
    stalled.set_nonblocking(false).expect("blocking");
    const PIPELINED: usize = 600;
    let request = b"GET /openapi.json HTTP/1.1\r\nHost: node\r\n\r\n".repeat(PIPELINED);
    stalled
        .write_all(&request)
        .expect("write pipelined requests");

    // Every slot is taken; a new client is served once the node cuts the holders.
    let started = Instant::now();
    let fresh = Client::new(&format!("http://{address}"));
    let health = tokio::time::timeout(Duration::from_secs(10), fresh.get("/health"))
        .await
        .expect("a new client is served while slow clients hold every slot");
    assert_eq!(health.status.as_u16(), 200);
    let waited = started.elapsed();

    assert!(
        read_until_closed(silent, Duration::from_secs(5))
            .await
            .is_ok(),
        "a client that sends nothing is disconnected"
    );
    let idle_rest = read_until_closed(idle, Duration::from_secs(5)).await;
    assert!(idle_rest.is_ok(), "an idle keep-alive connection is closed");
    let trickler = trickle.join().expect("trickle thread");
    let answer = read_until_closed(trickler, Duration::from_secs(5))
        .await
        .expect("a client trickling its headers is disconnected");
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "the trickled request was never answered"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answered = read_until_closed(stalled, Duration::from_secs(10))
        .await
        .expect("a client that stops reading is disconnected");
    let responses = String::from_utf8_lossy(&answered)
        .matches("HTTP/1.1 200")
        .count();
    assert!(
        responses < PIPELINED,
        "the stalled client got all {responses} answers: it was never cut"
    );

    let fresh = Client::new(&format!("http://{address}"));
    let height_after = fresh.height().await;
    assert!(
        height_after > height_before + 10,
        "blocks kept coming: {height_before} -> {height_after}"
    );
    eprintln!(
        "slow clients: new client served after {} ms with 4/4 slots held; the stalled \
         reader got {responses} of {PIPELINED} answers before it was cut; height \
         {height_before} -> {height_after}",
        waited.as_millis()
    );

    // Graceful shutdown ends with an idle connection still open.
    let _keep = TcpStream::connect(address).expect("connect");
    drop(fresh);
    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns after shutdown")
        .expect("serve task")
        .expect("serve result");
    node.shutdown();
}
