#!/usr/bin/env bash
# Boots a kernel image on QEMU's riscv64 `virt` machine with OpenSBI and
# shows its console; QEMU's exit status is the kernel's verdict (0: pass).
set -euo pipefail
kernel="$1"
exec timeout "${QEMU_TIMEOUT:-120}" qemu-system-riscv64 -machine virt -bios default -nographic -m 256M \
    -no-reboot -kernel "$kernel"
