#!/usr/bin/env bash
# The one test command: installs what it needs, then checks formatting and
# lints, builds the no_std crates for the bare-metal targets, and runs every
# test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup: toolchains and packages"
bash scripts/setup.sh

step "format: cargo fmt --check"
cargo fmt --all -- --check

step "lint: cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

for target in riscv64gc-unknown-none-elf aarch64-unknown-none; do
    for crate in modlib kmod; do
        step "bare build: $crate for $target"
        cargo build -p "$crate" --target "$target"
    done
done

step "tests: cargo test --workspace"
export MODLIB_REQUIRE_CLANG=1
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace 2>&1 | tee "$log"
status="${PIPESTATUS[0]}"
set -e

step "summary"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) g += $i } ; n++ }
     END { printf "%d test binaries: %d passed, %d failed, %d ignored\n", n, p, f, g }' "$log"
if [ "$status" -ne 0 ]; then
    echo "FAILED (cargo test exit status $status)"
    exit "$status"
fi
echo "OK"
