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

CORE_SRC := core/art.c
CORE_HDR := core/art.h

.PHONY: all demo test test-c test-py venv clean lint format tools dev-venv coverage wheel

all: test-c

$(VENV)/.stamp: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	touch $@

# Installs the package (not editable: the tests run against what a user gets).
$(VENV)/.installed: $(VENV)/.stamp $(CORE_SRC) $(CORE_HDR) src/blart/_blart.c src/blart/__init__.py src/blart/__init__.pyi
	$(VPY) -m pip install --quiet ".[test]"
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VPY) examples/demo.py

test: test-c test-py

test-py: $(VENV)/.installed
	cd tests && ../$(VPY) -m pytest -q -p no:cacheprovider .

$(BUILD)/test_art: $(CORE_SRC) $(CORE_HDR) core/tests/test_art.c
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(CWARN) -O1 -g $(SAN) -Icore $(CORE_SRC) core/tests/test_art.c -o $@

test-c: $(BUILD)/test_art
	UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_art

# --- lint and format -------------------------------------------------------
C_FILES := core/art.c core/art.h src/blart/_blart.c $(wildcard core/tests/*.c core/fuzz/*.c bench/*.c)
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
	clang-tidy --quiet core/art.c src/blart/_blart.c -- $(CSTD) -Icore -I$(PYINC)
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	$(VENV)/bin/mypy
	$(VPY) -m mypy.stubtest blart

format: tools $(VENV)/.dev
	clang-format -i $(C_FILES)
	$(VENV)/bin/ruff check --fix-only --quiet $(PY_DIRS) || true
	$(VENV)/bin/ruff format --quiet $(PY_DIRS)

clean:
	rm -rf build $(VENV) src/blart/*.so *.egg-info src/*.egg-info
