#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer on the stable toolchain:
# SanitizerCoverage instrumentation, debug assertions and overflow checks on.
# Targets (fuzz/fuzz_targets/): `load` (modlib::load for every machine, the
# default), `insmod` (kmod's insmod with memory failures injected) and
# `dlopen` (dl-core's linker: open, dlsym, dladdr, close). All three mutate
# through the structure-aware ELF mutator in fuzz/src/lib.rs (and libFuzzer's
# own byte mutations). Seeds are the objects the test suites built (run
# `cargo test -p modlib` first for a good seed corpus); each target keeps
# its own corpus.
# Usage: scripts/fuzz.sh [target] [seconds [libFuzzer options...]]
#        (target `load`, 60 s by default; a number first means `load`)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_target=load
if [[ $# -gt 0 && ! "$1" =~ ^[0-9]+$ ]]; then
    fuzz_target="$1"
    shift
fi
seconds="${1:-60}"
shift $(( $# > 0 ? 1 : 0 ))
target="$(rustc -vV | sed -n 's/^host: //p')"
flags="-C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=4"
flags+=" -C llvm-args=-sanitizer-coverage-inline-8bit-counters -C llvm-args=-sanitizer-coverage-pc-table"
flags+=" -C llvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -C debug-assertions -C overflow-checks"
echo "==> building the fuzz target $fuzz_target (fuzz/, instrumented, release)"
(cd fuzz && RUSTFLAGS="$flags" cargo build --release --target "$target" --target-dir target/cov --bin "$fuzz_target")
corpus=target/fuzz/corpus
[[ "$fuzz_target" == load ]] || corpus="$corpus-$fuzz_target"
seeds=target/fuzz/seeds
mkdir -p "$corpus" "$seeds"
find "${CARGO_TARGET_DIR:-target}/debug/fixtures" -maxdepth 1 \( -name '*.o' -o -name '*.so' \) -size -64k -exec cp {} "$seeds/" \; 2>/dev/null || true
echo "==> fuzzing $fuzz_target for ${seconds}s ($(ls "$seeds" | wc -l) seed objects); a crash or leak stops the run"
"fuzz/target/cov/$target/release/$fuzz_target" "$corpus" "$seeds" -max_total_time="$seconds" -max_len=65536 \
    -rss_limit_mb=4096 -print_final_stats=1 "$@"
