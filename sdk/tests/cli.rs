//! The `agora` binary runs and agrees with the library on the dev keys, and its `--json`
//! output writes byte strings as hex like the node's API. (Its presence also makes
//! `cargo test --workspace` build the binary the end-to-end tests in `tests/` run.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

use agora_contract::tx::SignedTx;
use agora_sdk::{Chain, Keypair, TestChain};
use serde_json::{json, Value};

#[test]
fn keys_dev_prints_the_library_account() {
    let output = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["keys", "dev", "1", "--json"])
        .output()
        .expect("run the agora binary");
    assert!(output.status.success(), "{output:?}");
    let printed: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    let key = agora_sdk::Keypair::dev(1);
    assert_eq!(printed["account"], hex::encode(key.account().0));
    assert_eq!(printed["secret_key"], hex::encode(key.seed()));
}

/// A committed transfer printed with `--wait --json` shows its event's account ids as hex
/// strings, and its amount as a number.
#[test]
fn wait_json_prints_event_account_ids_as_hex() {
    let node = serve(TestChain::devnet());
    let to = Keypair::dev(2).account();
    let output = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args([
            "--node", &node, "--dev", "1", "--wait", "--json", "transfer",
        ])
        .args(["--to", &hex::encode(to.0), "--amount", "250"])
        .output()
        .expect("run the agora binary");
    assert!(output.status.success(), "{output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    assert_eq!(printed["success"], true, "{printed}");
    assert_eq!(
        printed["events"],
        json!([{ "Transferred": {
            "from": hex::encode(Keypair::dev(1).account().0),
            "to": hex::encode(to.0),
            "amount": 250,
        } }]),
        "{printed}"
    );
}

/// Serves the few routes `agora --wait transfer` calls from `chain`, on a free local port,
/// one request per connection; answers the node's URL.
fn serve(chain: TestChain) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            runtime.block_on(answer(&chain, stream));
        }
    });
    url
}

async fn answer(chain: &TestChain, mut stream: TcpStream) {
    let (request_line, body) = read_request(&stream);
    let mut parts = request_line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, reply) = match (method, path) {
        ("GET", "/v1/status") => (200, json!({ "chain_id": "agora-devnet" })),
        ("GET", key) if key.starts_with("/v1/proofs/") => {
            let key = hex::decode(&key["/v1/proofs/".len()..]).expect("hex key");
            let value = chain.get(&key).await.expect("read state");
            (200, json!({ "value": value.map(hex::encode) }))
        }
        ("POST", "/v1/txs?wait=commit") => {
            let tx = SignedTx::decode(&body).expect("a signed transaction");
            let committed = chain.submit_and_wait(&tx).await.expect("committed");
            let receipt = borsh::to_vec(&committed.receipt).expect("encode receipt");
            let reply = json!({
                "hash": hex::encode(committed.hash),
                "status": "committed",
                "height": committed.height,
                "index": committed.index,
                "receipt_borsh": hex::encode(receipt),
            });
            (200, reply)
        }
        _ => (
            404,
            json!({ "code": 613, "name": "NotFound", "message": path }),
        ),
    };
    let text = reply.to_string();
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        text.len()
    );
    stream
        .write_all(format!("{head}{text}").as_bytes())
        .expect("reply");
}

/// The request line and the body of one HTTP/1.1 request.
fn read_request(stream: &TcpStream) -> (String, Vec<u8>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).expect("request line");
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("content length");
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (request_line.trim().to_string(), body)
}
