#!/bin/sh
# Every public header compiles on its own, with nothing included before it,
# in strict ISO C11 (no GNU mode, which hides POSIX types such as sigset_t
# unless a header asks for them properly) and in C++17 where a C++
# compiler is installed: a user's program may be built either way.
#   sh headers.sh SOURCE_DIR [CC]
set -eu
src=$1
cc=${2:-cc}
cxx=$(command -v c++ || true)
status=0
cd "$src/include"
for h in cio.h cio/*.h; do
    if ! echo "#include <$h>" | "$cc" -x c -std=c11 -pedantic-errors -Wall -Wextra -Werror \
        -I. -fsyntax-only -; then
        echo "$h: does not compile alone in strict C11" >&2
        status=1
    fi
    if [ -n "$cxx" ] && ! echo "#include <$h>" | "$cxx" -x c++ -std=c++17 -pedantic-errors \
        -Wall -Wextra -Werror -I. -fsyntax-only -; then
        echo "$h: does not compile alone in C++17" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "$(ls cio.h cio/*.h | wc -l) headers compile alone (C11${cxx:+, C++17})"
exit $status
