#!/usr/bin/env bash
# Boots a kernel image under QEMU and shows its console; QEMU's exit
# status is the kernel's verdict (0: pass). The machine follows the
# image's ELF e_machine: riscv64 on `virt` with OpenSBI, Arm on
# `mps2-an386` (Cortex-M4) with semihosting for the exit. QEMU_TIMEOUT
# (seconds) bounds the run. QEMU_ICOUNT=1 runs one instruction per
# nanosecond of virtual time (`-icount shift=0`), so the kernel's clock
# counts instructions: 1 us = 1000 instructions, the same on every run.
set -euo pipefail
kernel="$1"
icount=()
if [ "${QEMU_ICOUNT:-0}" = 1 ]; then
    icount=(-icount shift=0)
fi
machine="$(od -An -tx1 -j18 -N1 "$kernel" | tr -d ' ')"
case "$machine" in
f3)
    exec timeout "${QEMU_TIMEOUT:-120}" qemu-system-riscv64 -machine virt -bios default -nographic -m 256M \
        -no-reboot "${icount[@]}" -kernel "$kernel"
    ;;
28)
    exec timeout "${QEMU_TIMEOUT:-60}" qemu-system-arm -machine mps2-an386 -nographic \
        -semihosting-config enable=on,target=native -no-reboot "${icount[@]}" -kernel "$kernel"
    ;;
*)
    echo "run-qemu: $kernel: no machine for ELF e_machine 0x$machine" >&2
    exit 2
    ;;
esac
