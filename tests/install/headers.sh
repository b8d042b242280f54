#!/bin/sh
# Every public header compiles on its own, with nothing included before it,
# in strict ISO C11 (no GNU mode, which hides POSIX types such as sigset_t
# unless a header asks for them properly) and in C++17 where a C++
# compiler is installed: a user's program may be built either way. The
# headers' inline functions also pass the warnings a careful user turns on
# for their own code, which would otherwise point into cio's headers.
#   sh headers.sh SOURCE_DIR [CC]
set -eu
src=$1
cc=${2:-cc}
cxx=$(command -v c++ || true)
strict="-Wall -Wextra -Werror -Wconversion -Wsign-conversion -Wshadow -Wcast-qual \
    -Wdouble-promotion -Wundef -Wcast-align"
status=0
cd "$src/include"
for h in cio.h cio/*.h; do
    # shellcheck disable=SC2086
    if ! echo "#include <$h>" | "$cc" -x c -std=c11 -pedantic-errors $strict -Wstrict-prototypes \
        -I. -fsyntax-only -; then
        echo "$h: not clean alone in strict C11 (see above)" >&2
        status=1
    fi
    # shellcheck disable=SC2086
    if [ -n "$cxx" ] && ! echo "#include <$h>" | "$cxx" -x c++ -std=c++17 -pedantic-errors \
        $strict -I. -fsyntax-only -; then
        echo "$h: not clean alone in C++17 (see above)" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "$(ls cio.h cio/*.h | wc -l) headers clean alone (C11${cxx:+, C++17})"
exit $status
