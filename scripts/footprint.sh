#!/usr/bin/env bash
# Measures the code a microcontroller kernel carries for kmod + modlib: the
# `footprint` image (insmod, modsym, rmmod; Arm modules only, no shared
# objects) built for thumbv7em-none-eabihf at the size-optimised `embedded`
# profile, beside the same image without the module manager. Prints the
# text of both, the difference, and the text of the symbols of each crate.
set -euo pipefail
cd "$(dirname "$0")/../footprint"
target=thumbv7em-none-eabihf
out="${CARGO_TARGET_DIR:-$PWD/target}/$target/embedded/footprint"
text() { arm-none-eabi-size -A "$1" | awk '$1 == ".text" || $1 == ".rodata" { s += $2 } END { print s }'; }

echo "==> footprint: building the image with kmod (Arm only, no shared objects)" >&2
cargo build -q --profile embedded --target "$target"
with="$(text "$out")"
by_crate="$(arm-none-eabi-nm --size-sort -S -C "$out" | awk '
    $3 ~ /^[tTrR]$/ {
        name = $4; sub(/^</, "", name); split(name, part, "::");
        if (part[1] == "modlib_kmod") part[1] = "kmod";
        if (part[1] == "modlib" || part[1] == "kmod" || part[1] == "elf") s[part[1]] += ("0x" $2) + 0
    }
    END { for (c in s) printf "  %-7s %6d bytes\n", c, s[c] }' | sort)"
echo "==> footprint: building the same image without it" >&2
cargo build -q --profile embedded --target "$target" --features baseline
without="$(text "$out")"
echo "text+rodata with kmod:    $with bytes"
echo "text+rodata without:      $without bytes"
echo "kmod + modlib + what they pull in (core, alloc, compiler builtins): $((with - without)) bytes"
echo "symbols of each crate (generic code is counted where it is instantiated):"
echo "$by_crate"
