#!/bin/sh
# Builds the core library for AArch64 with Debian's cross compiler and runs
# tests/arch/switch_smoke.c under qemu-user: the AArch64 context switch,
# checked on an x86-64 machine. Not part of `make check` (it installs a
# cross toolchain); run it with `make check-aarch64`.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
need=""
for p in gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need </dev/null
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
s="$here/src"
aarch64-linux-gnu-gcc -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror \
    -I"$here/include" -I"$s" "$here/tests/arch/switch_smoke.c" \
    "$s"/base/*.c "$s"/arch/switch_aarch64.S "$s"/arch/make_native.c "$s"/backend/epoll.c \
    "$s"/loop/*.c "$s"/task/*.c "$s"/toolkit/*.c "$s"/threads/*.c \
    -o "$out/switch_smoke" -lm -lpthread
qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/switch_smoke"
