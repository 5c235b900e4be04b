#!/usr/bin/env bash
# The main demo: builds the protected-mode system (riscv64 kernel with kmod,
# U-mode user image with libdl, ramfs of modules and libraries) and boots it
# under QEMU, showing its console. `scripts/demo-hosted.sh` shows the same
# loader hosted on Linux (user-demo and sotest).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> setup: toolchains, QEMU and OpenSBI (scripts/setup.sh)"
bash scripts/setup.sh
echo "==> building the system (scripts/build-kernel.sh)"
kernel="$(bash scripts/build-kernel.sh)"
echo "==> booting $kernel under qemu-system-riscv64 -machine virt (exit with the kernel's verdict)"
bash scripts/run-qemu.sh "$kernel"
