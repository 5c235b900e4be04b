#!/usr/bin/env bash
# Builds the QEMU system: the riscv64 ramfs contents (kernel modules, shared
# libraries, program modules and plugins, from the same C sources as the
# hosted tests), the U-mode user image, and the kernel that packs them.
# Prints the path of the kernel image last.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
cc=riscv64-linux-gnu-gcc
ramfs="$root/target/ramfs"
rm -rf "$ramfs"
mkdir -p "$ramfs"

say() { printf '    %s\n' "$*" >&2; }
build() { say "$cc $*"; "$cc" "$@"; }

echo "==> kernel modules (ET_REL) for the kernel's kmod" >&2
for m in chardev consumer; do
    build -c -O2 -fno-pic -mcmodel=medany -mno-relax -Wall -I kmod/include -I kmod/tests/fixtures \
        "kmod/tests/fixtures/$m.c" -o "$ramfs/$m.o"
done

echo "==> shared libraries and program modules (ET_DYN) for the user image's libdl" >&2
lib=(-shared -fPIC -O2 -nostdlib -Wall)
build "${lib[@]}" -Wl,-soname,libmodprint.so sotest/c/modprint.c -o "$ramfs/libmodprint.so"
build "${lib[@]}" -Wl,-soname,libsotest.so -I sotest/c sotest/c/sotest.c -L "$ramfs" -lmodprint -o "$ramfs/libsotest.so"
build "${lib[@]}" -I libdl/include -I sotest/c sotest/c/main.c -o "$ramfs/sotest.mo"
for p in user-demo/plugins/*.c; do
    name="$(basename "$p" .c)"
    build "${lib[@]}" -I user-demo/plugins "$p" -o "$ramfs/plugin_$name.so"
done
build "${lib[@]}" -Wl,-soname,libgreet.so kernel/programs/greet.c -o "$ramfs/libgreet.so"
build "${lib[@]}" kernel/programs/hello.c -L "$ramfs" -lgreet -o "$ramfs/hello.mo"
build "${lib[@]}" kernel/programs/fault.c -o "$ramfs/libfault.so"
build "${lib[@]}" -Wl,-z,lazy libdl/tests/fixtures/lazy.c -o "$ramfs/liblazy.so"

echo "==> user image (U-mode)" >&2
(cd kernel && CARGO_TARGET_DIR="$root/kernel/target" cargo build --release -q -p user-image)
cp kernel/target/riscv64gc-unknown-none-elf/release/user-image "$ramfs/user.elf"

echo "==> kernel (S-mode) with the ramfs packed in" >&2
(cd kernel && CARGO_TARGET_DIR="$root/kernel/target" RAMFS_DIR="$ramfs" cargo build --release -q -p kernel)
echo "$root/kernel/target/riscv64gc-unknown-none-elf/release/kernel"
