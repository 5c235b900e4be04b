#!/usr/bin/env bash
# The one test command: installs what it needs, then checks formatting and
# lints, builds the no_std crates for the bare-metal targets, and runs every
# test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup: toolchains and packages"
bash scripts/setup.sh

step "format: cargo fmt --check"
cargo fmt --all -- --check

step "lint: cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# The published packages as crates.io would receive them: each packed
# (with only the files it ships) and built from the pack against the others'
# packs (a local overlay, as they are not on crates.io yet). About half a
# minute.
step "package: cargo package -p modlib -p modlib-mmap -p modlib-kmod -p modlib-dl-core -p modlib-dl"
cargo package --allow-dirty -p modlib -p modlib-mmap -p modlib-kmod -p modlib-dl-core -p modlib-dl

# The no_std crates on bare-metal targets, 64-bit and 32-bit (Cortex-M0+,
# M4/M7, M33, RV32), each machine's table and both object kinds; then a
# microcontroller build (Arm modules only, no shared objects) for each
# 32-bit target.
for target in riscv64gc-unknown-none-elf aarch64-unknown-none thumbv6m-none-eabi \
    thumbv7em-none-eabihf thumbv8m.main-none-eabihf riscv32imac-unknown-none-elf; do
    step "bare build: modlib, kmod and dl-core for $target"
    cargo build -p modlib -p modlib-kmod -p modlib-dl-core --target "$target"
done
for target in thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf; do
    step "bare build: kmod for $target with Arm modules only and no shared objects"
    cargo build -p modlib-kmod --no-default-features --features arm --target "$target"
done
step "bare build: kmod for riscv32imac-unknown-none-elf with RV32 modules only"
cargo build -p modlib-kmod --no-default-features --features riscv32 --target riscv32imac-unknown-none-elf

step "footprint: kmod + modlib in a Cortex-M4 image (scripts/footprint.sh)"
bash scripts/footprint.sh

step "QEMU systems: format and lint the kernel and user image for riscv64 and Cortex-M"
(cd kernel && cargo fmt --all -- --check && cargo clippy --release --workspace -- -D warnings &&
    cargo clippy --release --workspace --target thumbv7em-none-eabihf -- -D warnings)
step "RV32 runner and footprint image: format and lint"
(cd testkit/rv32 && cargo fmt -- --check && cargo clippy --release -- -D warnings)
(cd footprint && cargo fmt -- --check && cargo clippy --profile embedded --target thumbv7em-none-eabihf -- -D warnings)

step "tests: cargo test --workspace"
export MODLIB_REQUIRE_CLANG=1 MODLIB_REQUIRE_CROSS=1
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status="${PIPESTATUS[0]}"
set -e

# The hosted suites built for riscv64 and aarch64 and run under qemu-user
# (.cargo/config.toml sets the linkers and runners): modlib's execution and
# differential suites, and all of kmod's, dl's and sotest's, whose C
# fixtures, libmodlib_dl.a and C programs are built for the same target with the
# cross compilers (the programs run under qemu-user too). The same for
# 32-bit Arm (qemu-arm; Thumb-2 fixtures, and Arm-state ones where a suite
# builds variants), C++ exceptions through loaded objects included.
cross_test() {
    set +e
    cargo test --no-fail-fast --target "$@" 2>&1 | tee -a "$log"
    local cross_status="${PIPESTATUS[0]}"
    set -e
    [ "$cross_status" -eq 0 ] || status="$cross_status"
}
for target in riscv64gc-unknown-linux-gnu aarch64-unknown-linux-gnu; do
    step "cross tests: modlib for $target under qemu-user"
    cross_test "$target" -p modlib --lib --test exec_rel --test exec_dyn \
        --test diff_riscv64 --test diff_aarch64
    step "cross tests: kmod, dl and sotest for $target under qemu-user"
    cross_test "$target" -p modlib-kmod -p modlib-dl -p sotest
done
step "cross tests: modlib, kmod, dl and sotest for armv7-unknown-linux-gnueabihf under qemu-user"
cross_test armv7-unknown-linux-gnueabihf -p modlib --lib --test exec_rel --test exec_dyn
cross_test armv7-unknown-linux-gnueabihf -p modlib-kmod -p modlib-dl -p sotest

# RV32 has no Linux sysroot: modlib's and kmod's execution checks run in a
# bare-metal runner under qemu-system-riscv32 instead.
step "RV32: modlib and kmod execution checks in the bare-metal runner (scripts/test-rv32.sh)"
set +e
bash scripts/test-rv32.sh 2>&1 | tee -a "$log"
rv32_status="${PIPESTATUS[0]}"
set -e
[ "$rv32_status" -eq 0 ] || { echo "RV32 runner: FAILED (exit status $rv32_status)"; status="$rv32_status"; }

# Hostile input beyond the fixed cases: a short coverage-guided run of each
# fuzz target (modlib::load, kmod's insmod, dl-core's dlopen linker) on
# structure-aware mutants of the objects the tests built, with a fixed seed
# (any crash, leak or panic fails it). scripts/fuzz.sh runs them longer.
fuzz_ok=1
for fuzz_target in load insmod dlopen; do
    step "fuzz: ${FUZZ_SECONDS:-15} s of coverage-guided fuzzing of target $fuzz_target (scripts/fuzz.sh)"
    set +e
    bash scripts/fuzz.sh "$fuzz_target" "${FUZZ_SECONDS:-15}" -seed=1 2>&1 | grep -vE '^"|^#'
    fuzz_status="${PIPESTATUS[0]}"
    set -e
    [ "$fuzz_status" -eq 0 ] || fuzz_ok=0
done

# The protected-mode systems under QEMU: each must exit 0 (every check
# passed) and show the lines below on its console.
qemu_ok=1
boot_system() {
    local name="$1" build="$2"
    shift 2
    step "QEMU system: build ($build) and boot the $name system"
    local qemu_log
    qemu_log="$(mktemp)"
    set +e
    kernel="$(bash "$build")" && QEMU_TIMEOUT=180 bash scripts/run-qemu.sh "$kernel" 2>&1 | tee "$qemu_log"
    local qemu_status="${PIPESTATUS[0]}"
    set -e
    [ "$qemu_status" -eq 0 ] || { echo "QEMU $name: exit status $qemu_status (expected 0)"; qemu_ok=0; }
    local line
    for line in "29 passed, 0 failed" "4 plugins: 3 ran, 1 failed to load" \
        "says \"hello from consumer\"" "program hello exited with status 0" \
        "libgreet.so's thread-local counter: 41, then 42" \
        "lazy: RTLD_LAZY loaded it; lazy_ok() = 1" \
        "(bound lazily, RTLD_LAZY): /lib/liblazy.so: undefined symbol: lazy_never_defined" \
        "PASS write to read-only library text faulted (W^X)" \
        "rmmod chardev: refused" "$@"; do
        grep -qF -- "$line" "$qemu_log" || { echo "QEMU $name: missing console line: $line"; qemu_ok=0; }
    done
    grep -qE "^system: [0-9]+ passed, 0 failed" "$qemu_log" || { echo "QEMU $name: no passing summary line"; qemu_ok=0; }
    rm -f "$qemu_log"
}
boot_system "Cortex-M4 (mps2-an386, MPU)" scripts/build-kernel-arm.sh \
    "PASS the MPU has the 8 regions the plan uses" \
    "MemManage fault (data access violation) at address 0x20000000" \
    "MemManage fault (instruction access violation)" \
    "PASS every module and user granule returned" \
    "caught 7 from the library in the caller, cleanup ran"
boot_system "riscv64 (virt, Sv39)" scripts/build-kernel.sh \
    "task ended by the kernel: load page fault at address 0x80200000"

step "summary"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) g += $i } ; n++ }
     END { printf "%d test binaries: %d passed, %d failed, %d ignored\n", n, p, f, g }' "$log"
if [ "$fuzz_ok" -ne 1 ]; then
    echo "fuzz: FAILED (a crash, panic or leak; see its output above)"
else
    echo "fuzz: no crash, panic or leak"
fi
if [ "$qemu_ok" -ne 1 ]; then
    echo "QEMU systems: FAILED"
else
    echo "QEMU systems (Cortex-M4 and riscv64): booted, every check passed, exit status 0"
fi
if [ "$status" -ne 0 ] || [ "$qemu_ok" -ne 1 ] || [ "$fuzz_ok" -ne 1 ]; then
    echo "FAILED (cargo test exit status $status)"
    exit 1
fi
echo "OK"
