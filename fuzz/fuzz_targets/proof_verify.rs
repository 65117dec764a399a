//! cargo-fuzz target: `agora_fuzz::proof_verify` (the checks are documented there).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| agora_fuzz::proof_verify(data));
