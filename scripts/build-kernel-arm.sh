#!/usr/bin/env bash
# Builds the Cortex-M system for QEMU mps2-an386: the ramfs (the kernel
# modules compiled for Thumb-2 with arm-none-eabi-gcc, once kmod's
# module.h knows the machine) and the kernel for thumbv7em-none-eabihf
# that packs it. Prints the path of the kernel image last.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
cc=arm-none-eabi-gcc
ramfs="$root/target/ramfs-arm"
rm -rf "$ramfs"
mkdir -p "$ramfs"

say() { printf '    %s\n' "$*" >&2; }

echo "==> kernel modules (ET_REL, Thumb-2) for the kernel's kmod" >&2
flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -c -O2 -Wall
    -I kmod/include -I kmod/tests/fixtures)
for m in chardev consumer; do
    say "$cc ${flags[*]} kmod/tests/fixtures/$m.c -o $ramfs/$m.o"
    if ! err="$("$cc" "${flags[@]}" "kmod/tests/fixtures/$m.c" -o "$ramfs/$m.o" 2>&1)"; then
        say "skipped $m.o: $(grep -m1 'error' <<<"$err" || true)"
        rm -f "$ramfs/$m.o"
    fi
done

echo "==> kernel (privileged, MPU) with the ramfs packed in" >&2
(cd kernel && RAMFS_DIR="$ramfs" cargo build --release -q -p kernel --target thumbv7em-none-eabihf)
echo "$root/kernel/target/thumbv7em-none-eabihf/release/kernel"
