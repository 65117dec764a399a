//! The `agora` binary runs and agrees with the library on the dev keys. (Its presence also
//! makes `cargo test --workspace` build the binary the end-to-end tests in `tests/` run.)

use std::process::Command;

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
