#!/usr/bin/env bash
# Hosted demo: build a C module as a relocatable object and as a shared
# object, then load both with modlib into a Rust process and call them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
out=target/demo
mkdir -p "$out"
src=libmodlib/examples/modules/greeter.c
echo "==> building $src with gcc"
gcc -c -O2 -fPIC "$src" -o "$out/greeter.o"
gcc -shared -fPIC -O2 -nostdlib "$src" -o "$out/greeter.so"
echo "==> loading with modlib"
cargo run -q -p modlib --example hosted -- "$out/greeter.o" "$out/greeter.so"
