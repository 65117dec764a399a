#!/usr/bin/env bash
# The whole test suite, with its own set-up: what README.md calls "run the tests" and what
# .ci/run executes. Safe to run repeatedly; every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== set-up: system packages (RocksDB builds from source and needs libclang)"
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclang-dev >/dev/null
fi

echo "== set-up: toolchain components and the no_std target"
rustup component add rustfmt clippy >/dev/null
rustup target add thumbv7m-none-eabi >/dev/null

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== no_std build of the contract (thumbv7m-none-eabi)"
cargo build -p agora-contract --target thumbv7m-none-eabi --locked

echo "== fuzz smoke: cargo-fuzz, 25 s per target (scripts/fuzz.sh; longer: scripts/fuzz.sh 600)"
./scripts/fuzz.sh 25

echo "== tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i;
     if ($(i+1) ~ /^failed/) f += $i } } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
