//! cargo-fuzz target: `agora_fuzz::apply_actions` (the checks are documented there).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| agora_fuzz::apply_actions(data));
