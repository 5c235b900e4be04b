#!/usr/bin/env bash
# Installs what building and testing the project needs, idempotently:
# Debian packages (C compilers and linkers, the riscv64 and aarch64 cross
# C and C++ compilers with their C libraries, the 32-bit Arm (Linux and
# bare-metal) and RV32 bare-metal compilers, QEMU system and user mode, OpenSBI) and
# Rust targets/components.
# Quick when everything is already present.
set -euo pipefail

APT_PACKAGES=(gcc g++ clang lld binutils make gcc-riscv64-linux-gnu g++-riscv64-linux-gnu
    libc6-dev-riscv64-cross gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross
    gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf libc6-dev-armhf-cross
    gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib gcc-riscv64-unknown-elf
    qemu-system-misc qemu-system-arm qemu-user opensbi)
RUST_TARGETS=(riscv64gc-unknown-none-elf aarch64-unknown-none
    riscv64gc-unknown-linux-gnu aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf
    thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf riscv32imac-unknown-none-elf)
RUST_COMPONENTS=(rustfmt clippy)

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    sudo_if_needed apt-get update -qq
    # A qemu-utils installed from outside the archive (newer than it) breaks
    # the archive's QEMU packages: take the archive's qemu-utils with them.
    installed_qemu_utils="$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)"
    if [ -n "$installed_qemu_utils" ] && ! apt-cache madison qemu-utils | grep -qF " $installed_qemu_utils "; then
        missing+=("qemu-utils=$(apt-cache madison qemu-utils | awk 'NR == 1 { print $3 }')")
    fi
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades "${missing[@]}" >/dev/null
else
    echo "setup: Debian packages present (${APT_PACKAGES[*]})"
fi

installed_targets="$(rustup target list --installed)"
for target in "${RUST_TARGETS[@]}"; do
    if ! grep -qx "$target" <<<"$installed_targets"; then
        echo "setup: adding Rust target $target"
        rustup target add "$target"
    fi
done
installed_components="$(rustup component list --installed)"
for component in "${RUST_COMPONENTS[@]}"; do
    if ! grep -q "^$component" <<<"$installed_components"; then
        echo "setup: adding Rust component $component"
        rustup component add "$component"
    fi
done
echo "setup: Rust targets present (${RUST_TARGETS[*]})"
