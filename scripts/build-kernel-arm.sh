#!/usr/bin/env bash
# Builds the Cortex-M system for QEMU mps2-an386: the ramfs (kernel modules,
# shared and relocatable user libraries, program modules and plugins, from
# the same C sources as riscv64, compiled for Thumb-2 by arm-none-eabi-gcc),
# the unprivileged user image, and the kernel for thumbv7em-none-eabihf
# that packs them. Prints the path of the kernel image last.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
cc=arm-none-eabi-gcc
target=thumbv7em-none-eabihf
ramfs="$root/target/ramfs-arm"
rm -rf "$ramfs"
mkdir -p "$ramfs"

say() { printf '    %s\n' "$*" >&2; }
build() { say "$cc $*"; "$cc" "${cpu[@]}" "$@"; }
buildxx() { say "$cxx $*"; "$cxx" "${cpu[@]}" "$@"; }
cxx=arm-none-eabi-g++
cpu=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)

echo "==> kernel modules (ET_REL, Thumb-2) for the kernel's kmod" >&2
for m in chardev consumer; do
    build -c -O2 -fno-pic -Wall -I kmod/include -I kmod/tests/fixtures \
        "kmod/tests/fixtures/$m.c" -o "$ramfs/$m.o"
done

# Segments of a shared object are 128 KiB apart (the MPU granule), so its
# code and its data never share a granule.
echo "==> shared libraries and program modules (ET_DYN) for the user image's libdl" >&2
lib=(-shared -fPIC -O2 -nostdlib -Wall -Wl,-z,max-page-size=0x20000 -Wl,-z,common-page-size=0x20000)
build "${lib[@]}" -Wl,-soname,libmodprint.so sotest/c/modprint.c -o "$ramfs/libmodprint.so"
build "${lib[@]}" -Wl,-soname,libsotest.so -I sotest/c sotest/c/sotest.c -L "$ramfs" -lmodprint -o "$ramfs/libsotest.so"
build "${lib[@]}" -I libdl/include -I sotest/c sotest/c/main.c -o "$ramfs/sotest.mo"
for p in user-demo/plugins/*.c; do
    name="$(basename "$p" .c)"
    build "${lib[@]}" -I user-demo/plugins "$p" -o "$ramfs/plugin_$name.so"
done
build "${lib[@]}" -Wl,-soname,libgreet.so kernel/programs/greet.c -o "$ramfs/libgreet.so"
build "${lib[@]}" kernel/programs/hello.c -L "$ramfs" -lgreet -o "$ramfs/hello.mo"
build "${lib[@]}" -Wl,-z,lazy libdl/tests/fixtures/lazy.c -o "$ramfs/liblazy.so"
# C++ with exceptions: the C++ runtime and the unwinder are the user image's;
# each library links thumb-personality.cc, which gives its exception tables a
# personality routine address the Cortex-M can call.
cxxlib=(-fvisibility=hidden -Wl,--wrap=__gxx_personality_v0 kernel/programs/thumb-personality.cc)
buildxx "${lib[@]}" "${cxxlib[@]}" -Wl,-soname,libthrow.so kernel/programs/throw.cc -o "$ramfs/libthrow.so"

echo "==> a relocatable user library (ET_REL), which libdl also opens" >&2
build -c -O2 -Wall kernel/programs/fault.c -o "$ramfs/libfault.o"

echo "==> user image (unprivileged)" >&2
(cd kernel && CARGO_TARGET_DIR="$root/kernel/target" cargo build --release -q -p user-image --target "$target")
arm-none-eabi-strip -o "$ramfs/user.elf" "kernel/target/$target/release/user-image"

echo "==> kernel (privileged, MPU) with the ramfs packed in" >&2
(cd kernel && CARGO_TARGET_DIR="$root/kernel/target" RAMFS_DIR="$ramfs" cargo build --release -q -p kernel --target "$target")
image="$root/kernel/target/$target/release/kernel"
# How much of the kernel's code is the loader (modlib, and the elf crate
# it parses with) and the module manager (kmod, crate modlib_kmod), by mangled crate name.
arm-none-eabi-nm --size-sort -S -t d "$image" | awk '
    $3 ~ /^[tT]$/ { text += $2 }
    $3 ~ /^[tT]$/ && $4 ~ /^_ZN(6modlib|3elf)/ { loader += $2 }
    $3 ~ /^[tT]$/ && $4 ~ /^_ZN11modlib_kmod/ { kmod += $2 }
    END { printf "    kernel code: %d bytes in functions, %d of them modlib and elf, %d kmod (%d%%)\n",
        text, loader, kmod, 100 * (loader + kmod) / text }' >&2
echo "$image"
