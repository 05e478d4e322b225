# Quick start: `make run` opens the app on the offline default; `make test` runs the test suite.
# Each creates .venv (Python 3.11) and installs the project into it when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cookbook-tui

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/lint-imports

bench: $(STAMP)
	test -d benchmarks/.deps/trl || $(BIN)/python -m pip install --quiet --no-deps --target benchmarks/.deps trl==1.16.0
	$(BIN)/python -m benchmarks

clean-venv:
	rm -rf $(VENV)
