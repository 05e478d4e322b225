# Quick start: `make run` opens the app on the offline default; `make test` runs the test suite.
# Each creates .venv (Python 3.11) and installs the project into it when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-gpu lint bench bench-gpu clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cookbook-tui

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# mypy cannot see the package-dir mapping (cookbook_tui.app -> app/), so it checks a folder of
# symlinks that has the installed layout.
TYPECHECK := .typecheck
PACKAGES := app screens monitor cli runners recipes engine common

lint: $(STAMP)
	$(BIN)/ruff check app screens monitor cli runners recipes engine common tests benchmarks
	$(BIN)/lint-imports
	mkdir -p $(TYPECHECK)/cookbook_tui
	for d in $(PACKAGES); do ln -sfn ../../$$d $(TYPECHECK)/cookbook_tui/$$d; done
	cd $(TYPECHECK) && $(abspath $(BIN))/mypy --config-file ../pyproject.toml -p cookbook_tui

bench: $(STAMP)
	test -d benchmarks/.deps/trl || $(BIN)/python -m pip install --quiet --no-deps --target benchmarks/.deps trl==1.16.0
	$(BIN)/python -m benchmarks

# CUDA: the `gpu` tests and P1, P2, P7 with both sides on the GPU; both skip (exit 0) without CUDA.
test-gpu: $(STAMP)
	$(BIN)/python -m pytest -m gpu -rs tests

bench-gpu: $(STAMP)
	$(BIN)/python -m benchmarks --device cuda p1 p2 p7

clean-venv:
	rm -rf $(VENV)
