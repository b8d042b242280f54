#!/bin/sh
# What a user does: install cio into a prefix, then build programs against
# it with pkg-config alone, and run them. Every library is linked through
# its own .pc file, as README.md tells users to: the core runs the guide's
# first example, cio-net a strict-C11 line server with 50 clients, and
# every example of the guide builds in strict C11 (the http and pg ones
# are run by other tests, which start their servers). A CMake project then
# does the same through find_package(cio).
#   sh install.sh BUILD_DIR SOURCE_DIR [CC] [SANITIZERS]
set -eu
build=$1
src=$2
cc=${3:-cc}
extra=""
[ -n "${4:-}" ] && extra="-fsanitize=$4"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pcdir=$(dirname "$(find "$tmp/prefix" -name cio.pc)")
export PKG_CONFIG_PATH="$pcdir"
# Where the programs of a shared build find its libraries.
LD_LIBRARY_PATH="$(dirname "$pcdir")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
# The .pc files are written at install time: they name the prefix given to
# `cmake --install`, not the one the build was configured with.
for package in cio cio-net cio-http cio-pg; do
    got=$(pkg-config --variable=prefix "$package")
    if [ "$got" != "$tmp/prefix" ]; then
        echo "install: $package.pc names prefix $got, not $tmp/prefix" >&2
        exit 1
    fi
done

# build NAME SOURCE PACKAGE [CFLAGS...]: compiles and links one program.
build() {
    name=$1 source=$2 package=$3
    shift 3
    # shellcheck disable=SC2046,SC2086
    "$cc" $extra "$@" -o "$tmp/$name" "$source" $(pkg-config --cflags --libs "$package")
}

build fetch_users "$src/examples/fetch_users.c" cio
out=$("$tmp/fetch_users")
echo "$out"
case "$out" in "Fetched 10 users in 0.1"[0-9]"s") ;; *) exit 1 ;; esac

build line_server "$here/line_server.c" cio-net -std=c11 -pedantic-errors -Wall -Wextra -Werror
out=$("$tmp/line_server")
echo "$out"
[ "$out" = "50 pings: all answered" ]

# Users start from the guide's examples: each builds through its part's .pc
# file in strict C11, warning-free, as a user's own file would.
n=0
for f in "$src"/examples/*.c "$src"/examples/*/*.c; do
    case $f in
    */examples/net/*) package=cio-net ;;
    */examples/http/*) package=cio-http ;;
    */examples/pg/*) package=cio-pg ;;
    *) package=cio ;;
    esac
    build example "$f" $package -std=c11 -pedantic-errors -Wall -Wextra -Werror \
        -DCIO_WITH_POSTGRES="\"$src/scripts/with-postgres.sh\""
    n=$((n + 1))
done
echo "$n examples built in strict C11"

# A CMake user: find_package(cio) and the cio:: targets, no pkg-config.
cmake -S "$here/cmake" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$extra" -DCIO_SOURCE_DIR="$src" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
out=$("$tmp/cmake/fetch_users")
case "$out" in "Fetched 10 users in 0.1"[0-9]"s") ;; *) exit 1 ;; esac
out=$("$tmp/cmake/line_server")
[ "$out" = "50 pings: all answered" ]
echo "find_package(cio): four programs built, two run"
