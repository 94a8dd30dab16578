# blart -- developer entry points.  `make demo` and `make test` are the two
# commands a new user runs; each creates the virtual environment it needs.

PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
CC ?= cc
CSTD := -std=c11
CWARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Werror
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
BUILD := build/c
# Targets that run setup.py themselves need the build-system requirement
# of pyproject.toml (77: PEP 639 licence metadata); a venv's own is older.
SETUPTOOLS := "setuptools>=77"

CORE_SRC := core/art.c core/art_alloc.c core/art_bucket.c core/art_burst.c core/art_walk.c core/art_cursor.c core/art_fuzzy.c core/art_closest.c core/art_build.c core/art_scan.c core/art_file.c
CORE_HDR := core/art.h core/art_layout.h core/art_internal.h core/art_bucket.h

.PHONY: all demo test test-c test-py venv clean lint format tools dev-venv coverage wheel
.PHONY: fuzz test-asan test-tsan valgrind test-pythons

all: test-c

$(VENV)/.stamp: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	touch $@

# Installs the package (not editable: the tests run against what a user gets).
$(VENV)/.installed: $(VENV)/.stamp $(CORE_SRC) $(CORE_HDR) $(wildcard src/blart/*.c src/blart/*.h src/blart/*.py) src/blart/__init__.pyi
	$(VPY) -m pip install --quiet ".[test]"
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VPY) examples/demo.py

test: test-c test-py

test-py: $(VENV)/.installed
	cd tests && ../$(VPY) -m pytest -q -p no:cacheprovider .

# The tree's tests, one test_art binary, built three times: with the
# core's default bucket limits (64 keys, 2 KiB), with buckets of at most 8
# keys and 256 bytes as every tree's default (test_art_buckets), so that
# the whole suite runs on trees that burst and merge buckets all the time,
# and without buckets (test_art_nobuckets: the plain ART).  The bucket
# container has its own tests, built with its SSE2 tag scan and with the
# portable one.
BUCKET_SRC := core/art_bucket.c
BUCKET_HDR := core/art_bucket.h
TEST_SRC := $(filter-out core/tests/test_bucket.c,$(wildcard core/tests/*.c))
TEST_HDR := $(wildcard core/tests/*.h)

$(BUILD)/test_art: $(CORE_SRC) $(CORE_HDR) $(TEST_SRC) $(TEST_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(CWARN) -O1 -g $(SAN) -Icore $(CORE_SRC) $(TEST_SRC) -o $@

$(BUILD)/test_art_buckets: $(CORE_SRC) $(CORE_HDR) $(TEST_SRC) $(TEST_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(CWARN) -O1 -g $(SAN) -DART_DEFAULT_BUCKET_KEYS=8 -DART_DEFAULT_BUCKET_BYTES=256 -Icore $(CORE_SRC) $(TEST_SRC) -o $@

$(BUILD)/test_art_nobuckets: $(CORE_SRC) $(CORE_HDR) $(TEST_SRC) $(TEST_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(CWARN) -O1 -g $(SAN) -DART_DEFAULT_BUCKET_KEYS=0 -Icore $(CORE_SRC) $(TEST_SRC) -o $@

$(BUILD)/test_bucket: $(BUCKET_SRC) $(BUCKET_HDR) core/tests/test_bucket.c
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(CWARN) -O1 -g $(SAN) -Icore $(BUCKET_SRC) core/tests/test_bucket.c -o $@

$(BUILD)/test_bucket_portable: $(BUCKET_SRC) $(BUCKET_HDR) core/tests/test_bucket.c
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(CWARN) -O1 -g $(SAN) -DART_BUCKET_NO_SIMD -Icore $(BUCKET_SRC) \
	  core/tests/test_bucket.c -o $@

test-c: $(BUILD)/test_art $(BUILD)/test_art_buckets $(BUILD)/test_art_nobuckets $(BUILD)/test_bucket $(BUILD)/test_bucket_portable
	UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_art
	UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_art_buckets
	UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_art_nobuckets
	UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_bucket
	UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_bucket_portable

# The pytest suite against the package built for every other supported
# CPython: pyenv's 3.10, 3.12 and 3.13, Debian testing's 3.14 and 3.15 in a
# debootstrapped root cached outside the checkout (tools/test-pythons says
# how).  One summary line per version.
test-pythons:
	tools/test-pythons

# --- lint and format -------------------------------------------------------
C_FILES := $(CORE_SRC) $(CORE_HDR) $(wildcard src/blart/*.c src/blart/*.h core/tests/*.[ch] core/fuzz/*.c bench/*.c)
PY_DIRS := src tests examples bench
PYINC = $(shell $(PYTHON) -c "import sysconfig; print(sysconfig.get_paths()['include'])")

# clang-format and clang-tidy come from Debian's packages.
tools:
	@command -v clang-format >/dev/null && command -v clang-tidy >/dev/null || \
	  (apt-get update -qq && apt-get install -y -qq clang-format clang-tidy >/dev/null)

$(VENV)/.dev: $(VENV)/.installed
	$(VPY) -m pip install --quiet ".[test,dev]"
	touch $@

dev-venv: $(VENV)/.dev

lint: tools $(VENV)/.dev
	clang-format --dry-run --Werror $(C_FILES)
	clang-tidy --quiet $(CORE_SRC) $(wildcard src/blart/*.c) -- $(CSTD) -Icore -I$(PYINC)
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	$(VENV)/bin/mypy
	$(VPY) -m mypy.stubtest blart

format: tools $(VENV)/.dev
	clang-format -i $(C_FILES)
	$(VENV)/bin/ruff check --fix-only --quiet $(PY_DIRS) || true
	$(VENV)/bin/ruff format --quiet $(PY_DIRS)

# --- distribution ----------------------------------------------------------
# Builds the sdist and the wheel, installs the wheel into a fresh virtual
# environment and runs the suite against it, from outside the source tree.
wheel: $(VENV)/.dev
	rm -rf dist build/wheel-venv
	$(VPY) -m build --outdir dist .
	$(PYTHON) -m venv build/wheel-venv
	build/wheel-venv/bin/python -m pip install --quiet dist/*.whl pytest hypothesis
	cd build && wheel-venv/bin/python -m pytest -q -p no:cacheprovider ../tests

# --- coverage ----------------------------------------------------------------
# C: the extension (core and binding) and the C tests built with --coverage,
# reported by gcovr; Python: the package under coverage.py.  Both must reach
# 90% of lines and of branches.
COV_VENV := build/cov-venv
coverage: $(VENV)/.dev
	rm -rf build/cov $(COV_VENV)
	mkdir -p build/cov
	$(PYTHON) -m venv $(COV_VENV)
	$(COV_VENV)/bin/python -m pip install --quiet pytest hypothesis coverage gcovr $(SETUPTOOLS)
	CFLAGS="--coverage -O0" LDFLAGS="--coverage" $(COV_VENV)/bin/python setup.py -q build_ext --build-temp build/cov --build-lib build/cov/lib
	cp -r src/blart/__init__.py src/blart/_persist.py src/blart/__init__.pyi src/blart/py.typed $(wildcard src/blart/__main__.py) build/cov/lib/blart/
	$(CC) $(CSTD) -O0 --coverage -Icore $(CORE_SRC) $(TEST_SRC) -o build/cov/test_art
	cd build/cov && ./test_art > /dev/null
	cd tests && PYTHONPATH=$(CURDIR)/build/cov/lib ../$(COV_VENV)/bin/python -m coverage run \
	  --branch --data-file=../build/cov/.coverage --source=blart -m pytest -q -p no:cacheprovider .
	$(COV_VENV)/bin/python -m coverage report --data-file=build/cov/.coverage --fail-under=90
	$(COV_VENV)/bin/gcovr --root . --filter 'core/art.*\.c' --filter 'src/blart/.*\.[ch]' \
	  --exclude-unreachable-branches --print-summary --fail-under-line 90 \
	  --fail-under-branch 90 build/cov

# --- fuzzing ---------------------------------------------------------------
# libFuzzer (clang, from Debian's packages) on two harnesses, each replaying
# its saved regression inputs first, then fuzzing for FUZZ_SECONDS from its
# seed corpus:
#   fuzz_art  (core/fuzz/fuzz_art.c): operations on trees against a model;
#   fuzz_file (core/fuzz/fuzz_file.c): the file reader on mutated files,
#             checksum bypassed, seeded with files saved by blart.
# New corpus entries and crash inputs go to build/fuzz, never into the
# repository.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_DIR := build/fuzz
FUZZ_FLAGS := $(CSTD) $(CWARN) -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_OPTS := -max_len=4096 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/
FUZZ_REGRESSIONS := $(wildcard core/fuzz/regressions/*)
FUZZ_FILE_REGRESSIONS := $(wildcard core/fuzz/file_regressions/*)

$(FUZZ_DIR)/.clang:
	@mkdir -p $(FUZZ_DIR)
	@echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return (int)(d && n) & 0; }' \
	  | $(FUZZ_CC) -x c -fsanitize=fuzzer -o $(FUZZ_DIR)/probe - 2>/dev/null || \
	  (apt-get update -qq && apt-get install -y -qq clang libclang-rt-dev >/dev/null)
	touch $@

$(FUZZ_DIR)/fuzz_%: $(CORE_SRC) $(CORE_HDR) core/tests/model.c core/tests/model.h core/fuzz/fuzz_%.c $(FUZZ_DIR)/.clang
	$(FUZZ_CC) $(FUZZ_FLAGS) -Icore -Icore/tests $(CORE_SRC) core/tests/model.c core/fuzz/fuzz_$*.c -o $@

fuzz: $(FUZZ_DIR)/fuzz_art $(FUZZ_DIR)/fuzz_file
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/file_corpus $(FUZZ_DIR)/artifacts
	$(if $(FUZZ_REGRESSIONS),$(FUZZ_DIR)/fuzz_art $(FUZZ_OPTS) $(FUZZ_REGRESSIONS))
	$(FUZZ_DIR)/fuzz_art $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) $(FUZZ_DIR)/corpus core/fuzz/corpus
	$(if $(FUZZ_FILE_REGRESSIONS),$(FUZZ_DIR)/fuzz_file $(FUZZ_OPTS) $(FUZZ_FILE_REGRESSIONS))
	$(FUZZ_DIR)/fuzz_file $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) $(FUZZ_DIR)/file_corpus core/fuzz/file_corpus

# --- sanitizers ----------------------------------------------------------------
# The extension built with ASan and UBSan (any UBSan report aborts the run)
# into build/asan, and the whole Python suite run against it with the ASan
# runtime preloaded into the stock interpreter.  Leak detection is left to
# the leak tests and to `make valgrind`: CPython itself keeps memory at exit.
COMMA := ,
ASAN_CC ?= gcc
ASAN_DIR := build/asan
ASAN_CFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_ENV = PYTHONPATH=$(CURDIR)/$(ASAN_DIR)/lib \
  LD_PRELOAD=$(shell $(ASAN_CC) -print-file-name=libasan.so) PYTHONMALLOC=malloc \
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# $(call sanitized_build,DIR,CFLAGS,LDFLAGS,ENV): the extension built into
# DIR/lib with the sanitizer's flags, and checked to be the one imported.
define sanitized_build
	rm -rf $(1)
	$(VPY) -m pip install --quiet $(SETUPTOOLS)
	CC=$(ASAN_CC) CFLAGS="$(2)" LDFLAGS="$(3)" \
	  $(VPY) setup.py -q build_ext --force --build-temp $(1) --build-lib $(1)/lib
	cp src/blart/*.py src/blart/*.pyi src/blart/py.typed $(1)/lib/blart/
	$(4) $(VPY) -c "import blart._blart as m; assert '/$(1)/' in m.__file__, m.__file__"
endef

test-asan: $(VENV)/.installed
	$(call sanitized_build,$(ASAN_DIR),$(ASAN_CFLAGS),-fsanitize=address$(COMMA)undefined,$(ASAN_ENV))
	cd tests && $(ASAN_ENV) ../$(VPY) -m pytest -q -p no:cacheprovider .

# The extension built with ThreadSanitizer, for the code that runs on more
# than one thread: load sums a file's checksum and checks its nodes on
# threads of its own.  Runs the file tests and the thread tests; any race
# report fails the run.
TSAN_DIR := build/tsan
TSAN_ENV = PYTHONPATH=$(CURDIR)/$(TSAN_DIR)/lib \
  LD_PRELOAD=$(shell $(ASAN_CC) -print-file-name=libtsan.so) \
  TSAN_OPTIONS=halt_on_error=1:exitcode=66:log_path=$(CURDIR)/$(TSAN_DIR)/report

test-tsan: $(VENV)/.installed
	$(call sanitized_build,$(TSAN_DIR),-fsanitize=thread -O1 -g,-fsanitize=thread,$(TSAN_ENV))
	cd tests && $(TSAN_ENV) ../$(VPY) -m pytest -q -p no:cacheprovider test_persistence.py \
	  hardening/test_hardening_threads.py || { cat $(CURDIR)/$(TSAN_DIR)/report.* 2>/dev/null; exit 1; }

# --- valgrind ------------------------------------------------------------------
# Memcheck over the C tests (built without sanitizers) and over a
# representative part of the Python suite against the normal build.  Any
# memory error or definite leak fails; tools/valgrind-python.supp hides
# only reports from inside CPython and glibc.  The property tests of
# test_queries.py that fix 120-150 examples each are left out by default
# (about 15 minutes under memcheck; `make valgrind VALGRIND_PY_K=` runs
# them too); the ASan run covers them on every build.
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite
# test_finditer.py's 10 MB scan and its tracemalloc check (tracemalloc's
# own blocks show as lost) are left out too, and so are test_fuzzy.py's
# timer-driven tests (signals on a 2 ms timer under memcheck's slowdown
# test nothing more) and its 150-example sort of every key.
VALGRIND_PY_TESTS ?= test_mapping.py test_views_iter.py test_queries.py test_finditer.py test_fuzzy.py
VALGRIND_PY_K ?= not brute_force and not sorted_model and not drain_in_order and not weakly_consistent \
  and not huge_text and not no_allocation_per_character and not signal_handler and not interruptible and not full_sort

$(BUILD)/test_art_plain: $(CORE_SRC) $(CORE_HDR) $(TEST_SRC) $(TEST_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(CWARN) -O1 -g -Icore $(CORE_SRC) $(TEST_SRC) -o $@

valgrind: $(BUILD)/test_art_plain $(VENV)/.installed
	@command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind >/dev/null)
	$(VALGRIND) $(BUILD)/test_art_plain
	cd tests && PYTHONMALLOC=malloc $(VALGRIND) --suppressions=../tools/valgrind-python.supp \
	  ../$(VPY) -m pytest -q -p no:cacheprovider -k "$(VALGRIND_PY_K)" $(VALGRIND_PY_TESTS)

# --- benchmarks (bench/Makefile.inc: bench, bench-quick, bench-micro, ...) --
include bench/Makefile.inc

clean:
	rm -rf build dist $(VENV) src/blart/*.so *.egg-info src/*.egg-info
