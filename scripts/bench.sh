#!/usr/bin/env bash
# The dlopen benchmark (not part of scripts/test.sh): generates C libraries
# of about 100, 10,000 and 200,000 relocations in two shapes (mostly
# RELATIVE, and shaped like real C libraries: 55% RELATIVE, 30% symbolic
# references to their own exports, 10% to their dependency, 5% to libc),
# each with one dependency of its own found through $ORIGIN, and picks real
# libraries of the machine by path (libz, libpng16, libexpat...). Then it
# times dlopen(RTLD_NOW|RTLD_LOCAL) + dlsym of ten exports + dlclose through
# a C program (on glibc, and on this project's libmodlib_dl.a linked as the README
# says), through this project's Rust API and glibc's from Rust, and with the
# elf_loader and dlopen-rs crates, in interleaved rounds, plus dlsym per
# lookup over every export of the largest library. Before timing, every
# loader runs each library; the C drivers also checksum every relocated
# slot (compared with glibc's) and check the object is unmapped after
# dlclose. Ends with a table of medians and ratios to the first column.
#
# Options go to the dlbench binary: --rounds N, --batch-ms N, --loaders
# glibc-c,ours-c,..., --sizes small,..., --real libz.so.1,...|none,
# --no-dlsym; --scaling prints the scaling tables instead (load time against
# 100 to 1,000,000 relocations, and against 0 to 500 objects already in the
# global scope). DLBENCH_CPU_TIME=1 times thread CPU time instead of
# wall-clock time (steadier on a busy machine).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup: toolchains and packages"
bash scripts/setup.sh >/dev/null

step "build: libmodlib_dl.a (release, C ABI) and dlbench (release)"
cargo build --release --quiet -p modlib-dl
cargo build --release --quiet -p dlbench --bins

target_dir="${CARGO_TARGET_DIR:-target}"
step "run: $target_dir/release/dlbench $*"
"$target_dir/release/dlbench" --dir "$target_dir/dlbench" \
    --libdl "$target_dir/release/libmodlib_dl.a" --include libdl/include "$@"
