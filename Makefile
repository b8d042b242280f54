# The front door. Every target installs what is missing first
# (scripts/setup.sh), then drives CMake.
#
#   make demo       build and run the guide's examples as a tour
#   make check      every test: gcc -O2, then clang ASan+UBSan; core tests on
#                   the ucontext switch (clang -O2); every test against
#                   shared libraries (gcc -O2, BUILD_SHARED_LIBS)
#   make bench      benchmarks against asyncio and uvloop -> bench/results/
#   make examples   build the examples into build/examples/
#   make valgrind   the core tests under Valgrind
#   make tsan       the threaded tests under ThreadSanitizer
#   make fuzz       each fuzz target under libFuzzer for FUZZ_TIME seconds
#   make check-aarch64  the AArch64 context switch, cross-built, under qemu-user
#   make install    install the library, headers and cio.pc (PREFIX=/usr/local)
#   make format     clang-format every C file

JOBS   ?= $(shell nproc)
FUZZ_TIME ?= 60
PREFIX ?= /usr/local
CMAKE  := cmake -DCMAKE_INSTALL_PREFIX=$(PREFIX)

.PHONY: all setup build demo check check-release check-asan check-ucontext check-shared bench examples \
        valgrind tsan fuzz check-aarch64 install format format-check clean

all: build

setup:
	@sh scripts/setup.sh

build: setup
	@$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

examples: build
	@cmake --build build --target examples -j$(JOBS)

demo: examples
	@sh scripts/demo.sh build/examples

check: setup check-release check-asan check-ucontext check-shared

check-release:
	$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc >/dev/null
	cmake --build build -j$(JOBS)
	cd build && ctest --output-on-failure -j$(JOBS)

check-asan:
	$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	    -DCIO_SANITIZE=address,undefined -DCIO_BUILD_BENCH=OFF >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 \
	    UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS)

# The portable ucontext switch, on the core tests; built optimised with
# clang, benchmarks included, so both compilers see all the code at -O2.
check-ucontext:
	$(CMAKE) -S . -B build-ucontext -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang \
	    -DCIO_SWITCH=ucontext >/dev/null
	cmake --build build-ucontext -j$(JOBS)
	cd build-ucontext && ctest --output-on-failure -j$(JOBS) -L core

# The libraries built shared (libcio.so...), every test linked against them.
check-shared:
	$(CMAKE) -S . -B build-shared -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
	    -DBUILD_SHARED_LIBS=ON -DCIO_BUILD_BENCH=OFF >/dev/null
	cmake --build build-shared -j$(JOBS)
	cd build-shared && ctest --output-on-failure -j$(JOBS)

valgrind: setup
	$(CMAKE) -S . -B build-valgrind -DCMAKE_BUILD_TYPE=Debug -DCIO_BUILD_BENCH=OFF \
	    -DCIO_BUILD_EXAMPLES=OFF \
	    "-DCIO_TEST_WRAPPER=valgrind;-q;--error-exitcode=1;--leak-check=full" >/dev/null
	cmake --build build-valgrind -j$(JOBS)
	cd build-valgrind && CIO_VALGRIND=1 ctest --output-on-failure -L core -j$(JOBS)

tsan: setup
	$(CMAKE) -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	    -DCIO_SANITIZE=thread -DCIO_BUILD_BENCH=OFF -DCIO_BUILD_EXAMPLES=OFF >/dev/null
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && ctest --output-on-failure -L threads

# The fuzz targets of tests/fuzz (make check runs each for a bounded number
# of inputs), for longer: in the ASan+UBSan build, where they are linked with
# libFuzzer. What they find is kept in build-asan/tests/fuzz/corpus_<name>;
# a failure leaves its input as ./crash-* (add it to tests/fuzz/corpus/).
fuzz: setup
	$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	    -DCIO_SANITIZE=address,undefined -DCIO_BUILD_BENCH=OFF >/dev/null
	cmake --build build-asan -j$(JOBS)
	@for t in build-asan/tests/fuzz/fuzz_*; do \
	    name=$${t##*/fuzz_}; log=build-asan/tests/fuzz/$$name.log; \
	    mkdir -p build-asan/tests/fuzz/corpus_$$name; \
	    echo "== $$name: $(FUZZ_TIME) s, log in $$log"; \
	    UBSAN_OPTIONS=print_stacktrace=1 $$t -max_total_time=$(FUZZ_TIME) -use_value_profile=1 \
	        -max_len=4096 build-asan/tests/fuzz/corpus_$$name tests/fuzz/corpus/$$name >$$log 2>&1 \
	        || { tail -n 40 $$log; exit 1; }; \
	    grep DONE $$log; \
	 done

check-aarch64:
	@sh scripts/check-aarch64.sh

bench: build
	@/usr/bin/python3 bench/run.py --build build

install: build
	cmake --install build

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-ucontext build-shared build-valgrind build-tsan
