//! cargo-fuzz target: `agora_fuzz::tx_decode` (the checks are documented there).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| agora_fuzz::tx_decode(data));
