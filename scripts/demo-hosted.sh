#!/usr/bin/env bash
# Hosted demo of the user side:
#  1. user-demo, a Rust program, loads C plugins with dl's safe Library
#     wrapper, lists them, runs them, reports the deliberately broken one
#     and unloads them;
#  2. sotest, a C program linked with libmodlib_dl.a (our dlopen/dlsym/dlclose),
#     drives two C libraries (a dependency, constructors and destructors,
#     exported functions and data) and checks every step.
# (The older modlib example stays available:
#  cargo run -p modlib --example hosted -- <module.o> <module.so>.)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
# Shows a command (quoting arguments with spaces or `$`), then runs it.
run() {
    local shown="    \$" arg
    for arg in "$@"; do
        case "$arg" in
        *[[:space:]]* | *'$'*) shown+=" '$arg'" ;;
        *) shown+=" $arg" ;;
        esac
    done
    printf '%s\n' "$shown"
    "$@"
}

step "setup: checking toolchains and packages (scripts/setup.sh)"
bash scripts/setup.sh >/dev/null

plugins=target/demo/plugins
step "user-demo: building the C plugins in user-demo/plugins/ with gcc into $plugins"
rm -rf "$plugins"
mkdir -p "$plugins"
for src in user-demo/plugins/*.c; do
    name="$(basename "$src" .c)"
    run gcc -shared -fPIC -O2 -Wall -Wextra -I user-demo/plugins "$src" -o "$plugins/$name.so" -lm
done

step "user-demo: loading, listing, running and unloading the plugins"
run cargo run -q -p user-demo -- "$plugins" "Hello, protected world"

sotest=target/demo/sotest
step "sotest: building libmodlib_dl.a (cargo build -p modlib-dl, target dir target/sotest-libdl)"
run cargo build -q -p modlib-dl --target-dir target/sotest-libdl
libdl=target/sotest-libdl/debug/libmodlib_dl.a

step "sotest: building libmodprint.so, libsotest.so (needs libmodprint) and the program into $sotest"
rm -rf "$sotest"
mkdir -p "$sotest"
run gcc -shared -fPIC -O2 -Wall -Wextra -Wl,-soname,libmodprint.so \
    sotest/c/modprint.c -o "$sotest/libmodprint.so"
run gcc -shared -fPIC -O2 -Wall -Wextra -Wl,-soname,libsotest.so -I sotest/c \
    sotest/c/sotest.c -L "$sotest" -lmodprint -Wl,-rpath,'$ORIGIN' -o "$sotest/libsotest.so"
run gcc -O2 -Wall -Wextra -I libdl/include -I sotest/c sotest/c/main.c "$libdl" \
    -lpthread -ldl -lm -o "$sotest/sotest"
echo "    $sotest/sotest links $libdl: its dlopen family is ours"

step "sotest: running it in $sotest"
(cd "$sotest" && run ./sotest)

step "demo finished: user-demo and sotest both ran on our loader"
