#!/usr/bin/env bash
# Coverage-guided fuzzing of the contract with cargo-fuzz (libFuzzer), on stable Rust.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Targets: tx_decode, apply_actions, proof_verify (fuzz/src/lib.rs says what each checks).
# scripts/test.sh runs the smoke size (25 s per target); a longer run is e.g.
# `scripts/fuzz.sh 600`. New inputs go to a scratch corpus unless AGORA_FUZZ_SAVE=1, which
# adds them to the committed corpus (fuzz/corpus/<target>; minimise it afterwards with
# `cargo fuzz cmin`). A crash fails the script; libFuzzer writes the input to
# fuzz/artifacts/<target>/ — fix the bug, then add the input to the corpus, where
# runner/tests/fuzz_corpus.rs replays it in every `cargo test --workspace`.
#
# Built without AddressSanitizer (`-s none`): the contract and every crate of ours forbid
# `unsafe`, and the sanitizer costs a factor of ten in executions. Debug assertions and
# overflow checks are on.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-25}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(tx_decode apply_actions proof_verify)
fi

# cargo-fuzz passes -Z flags to rustc; a stable rustc accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/../target}/fuzz"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
flags=(-s none -O --debug-assertions)
cargo fuzz build "${flags[@]}"

summary=()
for target in "${targets[@]}"; do
    scratch=$(mktemp -d)
    log=$(mktemp)
    corpora=("$scratch" "corpus/$target")
    if [ "${AGORA_FUZZ_SAVE:-0}" = 1 ]; then
        corpora=("corpus/$target")
    fi
    set +e
    cargo fuzz run "${flags[@]}" "$target" "${corpora[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1
    status=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ "$status" != 0 ]; then
        tail -60 "$log"
        echo "fuzz: $target FAILED (exit $status); the input is in fuzz/artifacts/$target/"
        exit 1
    fi
    summary+=("$target: ${execs:-?} executions (${per_second:-?}/s) in ${seconds} s, 0 crashes")
    rm -rf "$scratch" "$log"
done
for line in "${summary[@]}"; do
    echo "fuzz: $line"
done
