#!/usr/bin/env bash
# The dlopen benchmark (not part of scripts/test.sh): generates C libraries
# of about 100, 10,000 and 200,000 relocations (each with one dependency of
# its own, found through $ORIGIN, and libc imports), then times
# dlopen(RTLD_NOW) + dlsym of ten exports + dlclose with this project's
# loader, glibc's dlopen, and the elf_loader and dlopen-rs crates, in
# interleaved rounds, plus dlsym per lookup over every export of the largest
# library. Ends with a table of medians and ratios to glibc.
#
# Options go to the dlbench binary: --rounds N, --batch-ms N, --loaders
# glibc,ours,..., --sizes small,..., --no-dlsym. DLBENCH_CPU_TIME=1 times
# thread CPU time instead of wall-clock time (steadier on a busy machine).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup: toolchains and packages"
bash scripts/setup.sh >/dev/null

step "build: dlbench (release)"
cargo build --release --quiet -p dlbench --bins

target_dir="${CARGO_TARGET_DIR:-target}"
step "run: $target_dir/release/dlbench $*"
"$target_dir/release/dlbench" --dir "$target_dir/dlbench" "$@"
