#!/usr/bin/env bash
# Coverage-guided fuzzing of modlib::load (fuzz/fuzz_targets/load.rs) with
# libFuzzer on the stable toolchain: SanitizerCoverage instrumentation, debug
# assertions and overflow checks on. Seeds are the objects the test suites
# built (run `cargo test -p modlib` first for a good seed corpus).
# Usage: scripts/fuzz.sh [seconds [libFuzzer options...]]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift $(( $# > 0 ? 1 : 0 ))
target="$(rustc -vV | sed -n 's/^host: //p')"
flags="-C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=4"
flags+=" -C llvm-args=-sanitizer-coverage-inline-8bit-counters -C llvm-args=-sanitizer-coverage-pc-table"
flags+=" -C llvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -C debug-assertions -C overflow-checks"
echo "==> building the fuzz target (fuzz/, instrumented, release)"
(cd fuzz && RUSTFLAGS="$flags" cargo build --release --target "$target" --target-dir target/cov)
corpus=target/fuzz/corpus
seeds=target/fuzz/seeds
mkdir -p "$corpus" "$seeds"
find target/debug/fixtures -maxdepth 1 \( -name '*.o' -o -name '*.so' \) -size -64k -exec cp {} "$seeds/" \; 2>/dev/null || true
echo "==> fuzzing for ${seconds}s ($(ls "$seeds" | wc -l) seed objects); a crash or leak stops the run"
"fuzz/target/cov/$target/release/load" "$corpus" "$seeds" -max_total_time="$seconds" -max_len=65536 \
    -rss_limit_mb=4096 -print_final_stats=1 "$@"
