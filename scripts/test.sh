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

for target in riscv64gc-unknown-none-elf aarch64-unknown-none thumbv6m-none-eabi \
    thumbv7em-none-eabihf thumbv8m.main-none-eabihf riscv32imac-unknown-none-elf; do
    for crate in modlib kmod; do
        step "bare build: $crate for $target"
        cargo build -p "$crate" --target "$target"
    done
done

step "QEMU system: format and lint the kernel and user image"
(cd kernel && cargo fmt --all -- --check && cargo clippy --release --workspace -- -D warnings)

step "tests: cargo test --workspace"
export MODLIB_REQUIRE_CLANG=1 MODLIB_REQUIRE_CROSS=1
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace 2>&1 | tee "$log"
status="${PIPESTATUS[0]}"
set -e

# The hosted suites built for riscv64 and aarch64 and run under qemu-user
# (.cargo/config.toml sets the linkers and runners): modlib's execution and
# differential suites, and all of kmod's, dl's and sotest's, whose C
# fixtures, libdl.a and C programs are built for the same target with the
# cross compilers (the programs run under qemu-user too). For 32-bit Arm
# (qemu-arm; Thumb-2 fixtures, and Arm-state ones where a suite builds
# variants) modlib's unit and execution suites and kmod's; dl does not
# build for it yet.
cross_test() {
    set +e
    cargo test --target "$@" 2>&1 | tee -a "$log"
    local cross_status="${PIPESTATUS[0]}"
    set -e
    [ "$cross_status" -eq 0 ] || status="$cross_status"
}
for target in riscv64gc-unknown-linux-gnu aarch64-unknown-linux-gnu; do
    step "cross tests: modlib for $target under qemu-user"
    cross_test "$target" -p modlib --lib --test exec_rel --test exec_dyn \
        --test diff_riscv64 --test diff_aarch64
    step "cross tests: kmod, dl and sotest for $target under qemu-user"
    cross_test "$target" -p kmod -p dl -p sotest
done
step "cross tests: modlib, kmod, dl and sotest for armv7-unknown-linux-gnueabihf under qemu-user"
cross_test armv7-unknown-linux-gnueabihf -p modlib --lib --test exec_rel --test exec_dyn
cross_test armv7-unknown-linux-gnueabihf -p kmod -p dl -p sotest

# Hostile input beyond the fixed cases: a short coverage-guided run of
# modlib::load on mutants of the objects the tests built (any crash, leak
# or panic fails it). scripts/fuzz.sh runs it for longer.
step "fuzz: ${FUZZ_SECONDS:-45} s of coverage-guided fuzzing of modlib::load (scripts/fuzz.sh)"
set +e
bash scripts/fuzz.sh "${FUZZ_SECONDS:-45}" -seed=1 2>&1 | grep -vE '^"|^#'
fuzz_status="${PIPESTATUS[0]}"
set -e
fuzz_ok=1
[ "$fuzz_status" -eq 0 ] || fuzz_ok=0

step "QEMU system: build (scripts/build-kernel.sh) and boot under qemu-system-riscv64"
qemu_log="$(mktemp)"
set +e
kernel="$(bash scripts/build-kernel.sh)" && QEMU_TIMEOUT=180 bash scripts/run-qemu.sh "$kernel" 2>&1 | tee "$qemu_log"
qemu_status="${PIPESTATUS[0]}"
set -e
qemu_ok=1
[ "$qemu_status" -eq 0 ] || { echo "QEMU system: exit status $qemu_status (expected 0)"; qemu_ok=0; }
for line in "29 passed, 0 failed" "4 plugins: 3 ran, 1 failed to load" \
    "says \"hello from consumer\"" "program hello exited with status 0" \
    "libgreet.so's thread-local counter: 41, then 42" \
    "lazy: RTLD_LAZY loaded it; lazy_ok() = 1" \
    "(bound lazily, RTLD_LAZY): /lib/liblazy.so: undefined symbol: lazy_never_defined" \
    "task ended by the kernel: load page fault at address 0x80200000" \
    "PASS write to read-only library text faulted (W^X)" \
    "rmmod chardev: refused"; do
    grep -qF -- "$line" "$qemu_log" || { echo "QEMU system: missing console line: $line"; qemu_ok=0; }
done
grep -qE "^system: [0-9]+ passed, 0 failed" "$qemu_log" || { echo "QEMU system: no passing summary line"; qemu_ok=0; }
rm -f "$qemu_log"

step "summary"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) g += $i } ; n++ }
     END { printf "%d test binaries: %d passed, %d failed, %d ignored\n", n, p, f, g }' "$log"
if [ "$fuzz_ok" -ne 1 ]; then
    echo "fuzz: FAILED (a crash, panic or leak; see its output above)"
else
    echo "fuzz: no crash, panic or leak"
fi
if [ "$qemu_ok" -ne 1 ]; then
    echo "QEMU system: FAILED"
else
    echo "QEMU system: booted, every check passed, exit status 0"
fi
if [ "$status" -ne 0 ] || [ "$qemu_ok" -ne 1 ] || [ "$fuzz_ok" -ne 1 ]; then
    echo "FAILED (cargo test exit status $status)"
    exit 1
fi
echo "OK"
