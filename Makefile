# Builds, checks and installs the C library of seqcore: libseqcore.so and include/seqcore.h.
#
#   make                  the library and the command-line program (release)
#   make lib              build/lib/libseqcore.so.X.Y.Z with its soname links
#   make cli              build/bin/seqcore-cli
#   make header           regenerate include/seqcore.h from Sources/SeqCAPI (commit the result)
#   make check-header     fail if the committed header differs from a freshly generated one
#   make header-test      compile the header with gcc, clang (C99) and g++ (C++17), warnings as errors
#   make check-lib        soname, dependencies and exported symbols of the built library
#   make install PREFIX=/opt/seqcore   lib/libseqcore.so*, include/seqcore.h, lib/pkgconfig/seqcore.pc
#   make capi-test        install into a scratch prefix, build Tests/capi against it with pkg-config,
#                         run it, then run it again under valgrind (quick mode), then the examples
#   make examples         build examples/c against the scratch prefix and run them
#
# A program then builds with `cc app.c $(pkg-config --cflags --libs seqcore)`. With a PREFIX outside
# the dynamic loader's path, add `-Wl,-rpath,$(pkg-config --variable=libdir seqcore)` (or set
# LD_LIBRARY_PATH at run time; or run ldconfig after installing into /usr/local).
#
# Needs: Swift 6.3 (on PATH or at /opt/swift), python3, gcc, g++, make, binutils, pkg-config and
# valgrind (Debian: apt-get install pkg-config valgrind).

SWIFT   ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
SWIFTC  ?= $(dir $(SWIFT))swiftc
CLANG   ?= $(shell command -v clang 2>/dev/null || echo $(dir $(SWIFT))clang)
CC      ?= cc
GCC     ?= gcc
GXX     ?= g++
PYTHON  ?= python3
VALGRIND ?= valgrind

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=

# The release build has its own scratch directory: its flags (static standard library, soname,
# version script) differ from a developer's `swift build`, and sharing .build would make each
# rebuild everything the other built.
SCRATCH := .build-lib
OUT     := build

VERSION := $(shell $(PYTHON) scripts/gen-header.py --print-version)
ABI     := $(shell $(PYTHON) scripts/gen-header.py --print-abi)
# gen-header refuses sources it cannot turn into a header (e.g. a non-ASCII doc comment); without
# a version every target below would name files "libseqcore.so." instead of stopping.
ifeq ($(strip $(VERSION)),)
$(error scripts/gen-header.py could not read the version from Sources/SeqCAPI (see its message above))
endif
ifeq ($(strip $(ABI)),)
$(error scripts/gen-header.py could not read the ABI version from Sources/SeqCAPI (see its message above))
endif
LIBFILE := libseqcore.so.$(VERSION)

# -static-stdlib links the Swift standard library into the .so (C and Python users need no Swift
# installation); it is passed to swiftc because SwiftPM's --static-swift-stdlib applies only to
# executables. Passing the same compile flags to every product lets them share one build.
SWIFT_BUILD := $(SWIFT) build -c release --scratch-path $(SCRATCH) -Xswiftc -static-stdlib
# Linker flags for the library only:
#   soname           programs record libseqcore.so.<ABI> and keep working across compatible releases;
#   version script   only seq_* is exported (scripts/seqcore.map);
#   -z nodelete      dlclose() leaves the library mapped: the Swift runtime inside it registers
#                    state (pthread key destructors, metadata caches) that must not vanish under a
#                    running process, e.g. when Python's ctypes unloads it;
#   -z defs          an unresolved symbol fails the link instead of the first call.
LIB_LDFLAGS := -Xlinker -soname=libseqcore.so.$(ABI) \
	-Xlinker --version-script=$(CURDIR)/scripts/seqcore.map \
	-Xlinker -z -Xlinker nodelete -Xlinker -z -Xlinker defs

STRICT_C   := -std=c99 -Wall -Wextra -Werror -pedantic
STRICT_CXX := -std=c++17 -Wall -Wextra -Werror

.PHONY: all lib lib-portable cli header check-header header-test check-lib install capi-prefix capi-test examples examples-run clean

all: lib cli

lib:
	$(SWIFT_BUILD) --product seqcore $(LIB_LDFLAGS)
	mkdir -p $(OUT)/lib
	cp -f $(SCRATCH)/release/libseqcore.so $(OUT)/lib/$(LIBFILE)
	ln -sf $(LIBFILE) $(OUT)/lib/libseqcore.so.$(ABI)
	ln -sf libseqcore.so.$(ABI) $(OUT)/lib/libseqcore.so

# The same library built for x86-64-v3 (SEQCORE_PORTABLE=1, see Package.swift: AVX2 + FMA and the
# AVX2 GEMM kernel), for the valgrind run of capi-test: valgrind 3.19 cannot execute AVX-512. Its own scratch directory
# inside $(SCRATCH), since its compile flags differ.
PORTABLE_SCRATCH := $(SCRATCH)/portable
lib-portable:
	SEQCORE_PORTABLE=1 $(SWIFT) build -c release --scratch-path $(PORTABLE_SCRATCH) -Xswiftc -static-stdlib \
	    --product seqcore $(LIB_LDFLAGS)
	mkdir -p $(OUT)/lib-portable
	cp -f $(PORTABLE_SCRATCH)/release/libseqcore.so $(OUT)/lib-portable/$(LIBFILE)
	ln -sf $(LIBFILE) $(OUT)/lib-portable/libseqcore.so.$(ABI)
	ln -sf libseqcore.so.$(ABI) $(OUT)/lib-portable/libseqcore.so

cli:
	$(SWIFT_BUILD) --product seqcore-cli
	mkdir -p $(OUT)/bin
	cp -f $(SCRATCH)/release/seqcore-cli $(OUT)/bin/seqcore-cli

# The generator type-checks Sources/SeqCAPI with swiftc against the SeqCore module that `lib` builds.
header: lib
	SWIFTC=$(SWIFTC) $(PYTHON) scripts/gen-header.py --modules $(SCRATCH)/release/Modules

check-header: lib
	SWIFTC=$(SWIFTC) $(PYTHON) scripts/gen-header.py --modules $(SCRATCH)/release/Modules --check

header-test:
	mkdir -p $(OUT)/header-test
	$(GCC) $(STRICT_C) -Iinclude -c Tests/capi/header_test.c -o $(OUT)/header-test/gcc.o
	$(CLANG) $(STRICT_C) -Iinclude -c Tests/capi/header_test.c -o $(OUT)/header-test/clang.o
	$(GXX) $(STRICT_CXX) -Iinclude -x c++ -c Tests/capi/header_test.c -o $(OUT)/header-test/gxx.o
	@echo "header-test: include/seqcore.h compiles without warnings as C99 (gcc, clang) and C++17 (g++)"

check-lib: lib
	scripts/check-lib.sh $(OUT)/lib/$(LIBFILE) $(ABI) include/seqcore.h

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 755 $(OUT)/lib/$(LIBFILE) $(DESTDIR)$(LIBDIR)/$(LIBFILE)
	ln -sf $(LIBFILE) $(DESTDIR)$(LIBDIR)/libseqcore.so.$(ABI)
	ln -sf libseqcore.so.$(ABI) $(DESTDIR)$(LIBDIR)/libseqcore.so
	install -m 644 include/seqcore.h $(DESTDIR)$(INCLUDEDIR)/seqcore.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' scripts/seqcore.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/seqcore.pc

# The harness and the examples are built the way a user would build a program: from an installed
# copy, through pkg-config, with an rpath to the scratch prefix.
CAPI_PREFIX := $(CURDIR)/$(OUT)/capi-prefix
CAPI_PKG    := PKG_CONFIG_PATH=$(CAPI_PREFIX)/lib/pkgconfig pkg-config
CAPI_FLAGS   = $$($(CAPI_PKG) --cflags --libs seqcore) -Wl,-rpath,$$($(CAPI_PKG) --variable=libdir seqcore)
CAPI_SRCS   := $(filter-out Tests/capi/header_test.c,$(wildcard Tests/capi/*.c))
# The engine's golden files as a C header (Tests/capi/fixtures_to_c.py).
CAPI_FIXTURES := $(OUT)/capi-fixtures/engine_fixtures.h

capi-prefix: lib
	rm -rf $(CAPI_PREFIX)
	$(MAKE) --no-print-directory install PREFIX=$(CAPI_PREFIX) DESTDIR=

$(CAPI_FIXTURES): Tests/capi/fixtures_to_c.py $(wildcard Tests/Fixtures/engine_*.json) Tests/Fixtures/tbptt_training.json
	$(PYTHON) Tests/capi/fixtures_to_c.py $@

# Natively with the full learning tasks; then under valgrind, against the portable build of the same
# sources (LD_LIBRARY_PATH comes before the harness's runpath), in quick mode (SEQCORE_TEST_QUICK=1:
# the learning tasks take a few steps and skip their accuracy thresholds, every other test is the
# same), since valgrind runs some 50 times slower.
capi-test: check-header check-lib header-test capi-prefix lib-portable $(CAPI_FIXTURES)
	$(CC) $(STRICT_C) -g -pthread -I$(OUT)/capi-fixtures $(CAPI_SRCS) -o $(OUT)/capi-harness $(CAPI_FLAGS) -lm
	$(OUT)/capi-harness
	LD_LIBRARY_PATH=$(CURDIR)/$(OUT)/lib-portable SEQCORE_TEST_QUICK=1 $(VALGRIND) --quiet --leak-check=full \
	    --error-exitcode=1 --suppressions=Tests/capi/valgrind.supp $(OUT)/capi-harness
	$(MAKE) --no-print-directory examples-run

# examples/c: each program is built alone, as a user would copy it.
EXAMPLES     := $(basename $(notdir $(wildcard examples/c/*.c)))
EXAMPLE_DIR  := $(OUT)/examples
EXAMPLE_TEXT := examples/c/train_char_model.c
EXAMPLE_MODEL = $(EXAMPLE_DIR)/char_model.safetensors

examples: capi-prefix
	$(MAKE) --no-print-directory examples-run

examples-run:
	mkdir -p $(EXAMPLE_DIR)
	for e in $(EXAMPLES); do \
	    $(CC) $(STRICT_C) -O2 examples/c/$$e.c -o $(EXAMPLE_DIR)/$$e $(CAPI_FLAGS) -lm || exit 1; \
	done
	$(EXAMPLE_DIR)/train_char_model $(EXAMPLE_TEXT) $(EXAMPLE_MODEL)
	$(EXAMPLE_DIR)/generate_text $(EXAMPLE_MODEL) "int main(" 200
	$(EXAMPLE_DIR)/stream_steps $(EXAMPLE_MODEL) "seq_model_"
	$(EXAMPLE_DIR)/custom_loss

clean:
	rm -rf $(OUT) $(SCRATCH)

# ---------------------------------------------------------------------------------------------
# Reliability (issue 8): sanitizers, concurrency, bad inputs. Each sanitizer builds the library
# into its own scratch directory (SwiftPM's --sanitize changes every object file), and its programs
# into $(OUT)/asan or $(OUT)/tsan.
#
#   make sanitize         the library with AddressSanitizer (Swift -sanitize=address; Swift has no
#                         UBSan on Linux), the C harness, the concurrency test and the bad-input
#                         programs with -fsanitize=address,undefined; runs the whole harness (full
#                         learning tasks) and the concurrency test with leak detection; then a
#                         canary (a caller's deliberate overflow) that ASan must catch inside the
#                         library, proving the library is instrumented
#   make tsan             the library with ThreadSanitizer; Tests/capi/reliability/test_concurrency.c
#                         and the whole harness under TSan; then the canary (a deliberate race),
#                         once in each order, each report naming the library's frames
#   make bad-input-doc    regenerate docs/bad-input.md from Tests/capi/reliability/bad_input.c
#   make check-bad-input  fail if docs/bad-input.md differs from a fresh run, if any call crashed,
#                         hung, was reported by a sanitizer or returned SEQ_OK for a bad input, or
#                         if a function of the header has no row
#
# Any sanitizer report fails the run (halt_on_error, non-zero exit code). There are no sanitizer
# suppressions; see Tests/capi/reliability/tsan_swift_mutex.c for the one annotation TSan needs.

# The Swift toolchain's clang and lld: their sanitizer runtimes are the ones swiftc links against.
SAN_CC   ?= $(dir $(realpath $(SWIFT)))clang
SAN_BIN  := $(dir $(realpath $(SWIFT)))
SWIFT_RT := $(realpath $(SAN_BIN)../lib/swift/linux)
SAN_CFLAGS := -std=c99 -Wall -Wextra -Werror -pedantic -g -O1 -fno-omit-frame-pointer -fuse-ld=lld -pthread
# The library's link flags without -z defs: a sanitized library leaves the runtime's __asan_* /
# __tsan_* symbols to the program, which links the runtime.
SAN_LIB_LDFLAGS := -Xlinker -soname=libseqcore.so.$(ABI) \
	-Xlinker --version-script=$(CURDIR)/scripts/seqcore.map -Xlinker -z -Xlinker nodelete
RELIABILITY := Tests/capi/reliability

ASAN_SCRATCH := .build-asan
ASAN_OUT     := $(OUT)/asan
ASAN_FLAGS    = $(SAN_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -Iinclude \
	-L$(ASAN_OUT)/lib -lseqcore -Wl,-rpath,$(CURDIR)/$(ASAN_OUT)/lib -lm
ASAN_ENV := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1:symbolize=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_SYMBOLIZER_PATH=$(SAN_BIN)llvm-symbolizer

TSAN_SCRATCH := .build-tsan
TSAN_OUT     := $(OUT)/tsan
# Linked against the Swift runtime's shared libraries (no -static-stdlib) so that the Mutex slow
# paths can be annotated (tsan_swift_mutex.c); the toolchain's TSan runtime also wants libdispatch.
TSAN_FLAGS    = $(SAN_CFLAGS) -fsanitize=thread -Iinclude -L$(TSAN_OUT)/lib -lseqcore -Wl,-rpath,$(CURDIR)/$(TSAN_OUT)/lib \
	-L$(SWIFT_RT) -ldispatch -lBlocksRuntime -Wl,-rpath,$(SWIFT_RT) -lm -ldl
# ignore_interceptors_accesses=0: this toolchain's TSan runtime defaults it to 1, which hides every
# memcpy/memmove the library makes (its copies into and out of the caller's buffers);
# ignore_noninstrumented_modules=1 keeps ignoring those made by the uninstrumented Swift runtime.
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:exitcode=66:ignore_interceptors_accesses=0:ignore_noninstrumented_modules=1:second_deadlock_stack=1 \
	TSAN_SYMBOLIZER_PATH=$(SAN_BIN)llvm-symbolizer

.PHONY: asan-lib tsan-lib sanitize tsan bad-input bad-input-doc check-bad-input

asan-lib:
	$(SWIFT) build -c release --scratch-path $(ASAN_SCRATCH) --sanitize=address -Xswiftc -static-stdlib \
	    --product seqcore $(SAN_LIB_LDFLAGS)
	mkdir -p $(ASAN_OUT)/lib
	cp -f $(ASAN_SCRATCH)/release/libseqcore.so $(ASAN_OUT)/lib/$(LIBFILE)
	ln -sf $(LIBFILE) $(ASAN_OUT)/lib/libseqcore.so.$(ABI)
	ln -sf libseqcore.so.$(ABI) $(ASAN_OUT)/lib/libseqcore.so

tsan-lib:
	$(SWIFT) build -c release --scratch-path $(TSAN_SCRATCH) --sanitize=thread --product seqcore $(SAN_LIB_LDFLAGS)
	mkdir -p $(TSAN_OUT)/lib
	cp -f $(TSAN_SCRATCH)/release/libseqcore.so $(TSAN_OUT)/lib/$(LIBFILE)
	ln -sf $(LIBFILE) $(TSAN_OUT)/lib/libseqcore.so.$(ABI)
	ln -sf libseqcore.so.$(ABI) $(TSAN_OUT)/lib/libseqcore.so

# A canary must die with the expected report (an extended regular expression), naming a source file
# of the library.
define expect-canary
	@if $(1) > $(2) 2>&1; then cat $(2); echo "$(3): the sanitizer did not catch the canary's bug"; exit 1; fi
	@grep -Eq "$(4)" $(2) || { cat $(2); echo "$(3): expected a report matching '$(4)'"; exit 1; }
	@grep -q "Sources/SeqC" $(2) || { cat $(2); echo "$(3): the report has no frame in the library"; exit 1; }
	@echo "$(3): caught inside the library, as it must be"
endef

sanitize: asan-lib $(CAPI_FIXTURES)
	$(SAN_CC) -I$(OUT)/capi-fixtures $(CAPI_SRCS) -o $(ASAN_OUT)/capi-harness $(ASAN_FLAGS)
	$(SAN_CC) $(RELIABILITY)/test_concurrency.c -o $(ASAN_OUT)/test_concurrency $(ASAN_FLAGS)
	$(SAN_CC) $(RELIABILITY)/sanitizer_canary.c -o $(ASAN_OUT)/sanitizer_canary $(ASAN_FLAGS)
	mkdir -p $(ASAN_OUT)/scratch
	$(ASAN_ENV) $(ASAN_OUT)/capi-harness
	$(ASAN_ENV) $(ASAN_OUT)/test_concurrency $(ASAN_OUT)/scratch
	$(call expect-canary,$(ASAN_ENV) $(ASAN_OUT)/sanitizer_canary asan,$(ASAN_OUT)/canary.log,sanitize canary,AddressSanitizer: heap-buffer-overflow)
	@echo "sanitize: the C harness and the concurrency test are clean under AddressSanitizer and UndefinedBehaviorSanitizer"

tsan: tsan-lib $(CAPI_FIXTURES)
	$(SAN_CC) -DSEQ_TSAN_SWIFT_MUTEX $(RELIABILITY)/test_concurrency.c $(RELIABILITY)/tsan_swift_mutex.c \
	    -o $(TSAN_OUT)/test_concurrency $(TSAN_FLAGS)
	$(SAN_CC) -I$(OUT)/capi-fixtures $(CAPI_SRCS) $(RELIABILITY)/tsan_swift_mutex.c -o $(TSAN_OUT)/capi-harness $(TSAN_FLAGS)
	$(SAN_CC) $(RELIABILITY)/sanitizer_canary.c $(RELIABILITY)/tsan_swift_mutex.c -o $(TSAN_OUT)/sanitizer_canary $(TSAN_FLAGS)
	mkdir -p $(TSAN_OUT)/scratch
	$(TSAN_ENV) $(TSAN_OUT)/test_concurrency $(TSAN_OUT)/scratch
	$(TSAN_ENV) $(TSAN_OUT)/capi-harness
	$(call expect-canary,$(TSAN_ENV) $(TSAN_OUT)/sanitizer_canary tsan-read-first,$(TSAN_OUT)/canary-read-first.log,tsan canary (read first),ThreadSanitizer: data race)
	$(call expect-canary,$(TSAN_ENV) $(TSAN_OUT)/sanitizer_canary tsan-write-first,$(TSAN_OUT)/canary-write-first.log,tsan canary (write first),ThreadSanitizer: (data race|Swift access race))
	@echo "tsan: the concurrency test and the C harness are clean under ThreadSanitizer"

# bad_input runs against the ASan+UBSan library, so that a memory error that does not crash still
# fails its row. It exits 1 when a row failed; scripts/bad-input-table reports and decides.
# LC_ALL=C keeps the system's messages (strerror) in the table the same on every machine.
BAD_INPUT_ROWS := $(ASAN_OUT)/bad-input.tsv
bad-input: asan-lib
	$(SAN_CC) $(RELIABILITY)/bad_input.c -o $(ASAN_OUT)/bad_input $(ASAN_FLAGS)
	rm -rf $(ASAN_OUT)/bad-input-scratch && mkdir -p $(ASAN_OUT)/bad-input-scratch
	LC_ALL=C $(ASAN_ENV) $(ASAN_OUT)/bad_input $(CURDIR)/$(ASAN_OUT)/bad-input-scratch > $(BAD_INPUT_ROWS) || true

bad-input-doc: bad-input
	$(PYTHON) scripts/bad-input-table $(BAD_INPUT_ROWS) --write docs/bad-input.md

check-bad-input: bad-input
	$(PYTHON) scripts/bad-input-table $(BAD_INPUT_ROWS) --check docs/bad-input.md
