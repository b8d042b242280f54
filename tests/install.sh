#!/bin/sh
# What a user does: install cio into a prefix, then build a program against
# it with pkg-config alone, and run it.
set -eu
build=$1
src=$2
cc=${3:-cc}
extra=""
[ -n "${4:-}" ] && extra="-fsanitize=$4"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig:$tmp/prefix/lib/aarch64-linux-gnu/pkgconfig"
# The installed cio.pc names the build's prefix; point it at the temporary one.
pc=$(find "$tmp/prefix" -name cio.pc)
sed -i "s|^prefix=.*|prefix=$tmp/prefix|" "$pc"
# shellcheck disable=SC2046
"$cc" $extra -o "$tmp/fetch_users" "$src/examples/fetch_users.c" $(pkg-config --cflags --libs cio)
out=$("$tmp/fetch_users")
echo "$out"
case "$out" in "Fetched 10 users in 0.1"[0-9]"s") ;; *) exit 1 ;; esac
