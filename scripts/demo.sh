#!/usr/bin/env bash
# The main demo: builds the protected-mode systems and boots them under
# QEMU, showing their consoles: the Cortex-M4 one (mps2-an386: privileged
# kernel with kmod, unprivileged user image with libdl, PMSAv7 MPU), then
# the riscv64 one (virt: S-mode kernel, U-mode user image, Sv39 paging).
# `scripts/demo.sh cortex-m` or `scripts/demo.sh riscv64` boots one.
# Exits 0 only if every check of every system booted passed.
# `scripts/demo-hosted.sh` shows the same loader hosted on Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
    set -- cortex-m riscv64
fi
machines=("$@")
for m in "${machines[@]}"; do
    case "$m" in
    cortex-m | riscv64) ;;
    *)
        echo "demo: unknown machine \`$m' (cortex-m or riscv64)" >&2
        exit 2
        ;;
    esac
done
echo "==> setup: toolchains, QEMU and OpenSBI (scripts/setup.sh)"
bash scripts/setup.sh
status=0
for m in "${machines[@]}"; do
    case "$m" in
    cortex-m)
        echo "==> building the Cortex-M system (scripts/build-kernel-arm.sh)"
        kernel="$(bash scripts/build-kernel-arm.sh)"
        echo "==> booting $kernel under qemu-system-arm -machine mps2-an386 (exit with the kernel's verdict)"
        ;;
    riscv64)
        echo "==> building the riscv64 system (scripts/build-kernel.sh)"
        kernel="$(bash scripts/build-kernel.sh)"
        echo "==> booting $kernel under qemu-system-riscv64 -machine virt (exit with the kernel's verdict)"
        ;;
    esac
    if ! bash scripts/run-qemu.sh "$kernel"; then
        echo "==> $m: some check failed" >&2
        status=1
    fi
done
exit "$status"
