#!/usr/bin/env bash
# Runs modlib's and kmod's execution checks on RV32 bare metal: builds the
# runner in testkit/rv32 (its build script compiles the C fixtures with
# riscv64-unknown-elf-gcc and clang for rv32imac/ilp32) and boots it under
# qemu-system-riscv32 -machine virt in machine mode. Fails unless QEMU
# exits with status 0 (the runner's pass through the SiFive test device)
# and the console ends with the summary line `rv32: N passed, 0 failed`.
#
# RV32_TIMEOUT (seconds, default 300) bounds the QEMU run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

runner_dir="$PWD/testkit/rv32"
target=riscv32imac-unknown-none-elf
timeout_s="${RV32_TIMEOUT:-300}"

step "check: tools"
for tool in cargo qemu-system-riscv32 riscv64-unknown-elf-gcc clang ld.lld timeout; do
    if ! command -v "$tool" >/dev/null; then
        echo "missing: $tool" >&2
        exit 1
    fi
    printf '    %s\n' "$(command -v "$tool")"
done

step "build: rv32 runner and fixtures (cargo build --release, $target)"
(cd "$runner_dir" && CARGO_TARGET_DIR="$runner_dir/target" cargo build --release --quiet --target "$target")
image="$runner_dir/target/$target/release/rv32-runner"
printf '    %s\n' "$image"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
step "run: qemu-system-riscv32 -machine virt -bios none -m 256M -kernel $image (timeout ${timeout_s}s)"
set +e
timeout "$timeout_s" qemu-system-riscv32 -machine virt -bios none -m 256M -smp 1 \
    -nographic -monitor none -serial stdio -kernel "$image" </dev/null | tee "$log"
# QEMU's status (timeout's 124 if it ran out of time), not tee's.
status="${PIPESTATUS[0]}"
set -e

step "verdict"
summary="$(tr -d '\r' <"$log" | grep -E '^rv32: [0-9]+ passed, [0-9]+ failed$' | tail -n1 || true)"
if [ "$status" -eq 124 ]; then
    echo "FAIL: QEMU did not finish within ${timeout_s}s" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "FAIL: QEMU exited with status $status" >&2
    exit 1
fi
if [ -z "$summary" ]; then
    echo "FAIL: no summary line on the console" >&2
    exit 1
fi
if ! grep -q ', 0 failed$' <<<"$summary"; then
    echo "FAIL: $summary" >&2
    exit 1
fi
echo "PASS: $summary"
