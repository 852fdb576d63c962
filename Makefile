# twin: two commands on a fresh machine with Python 3.11+ (see README).
#   make demo  - builds the environment, runs the Laredo baseline and writes its report
#   make test  - builds the environment, runs lint, type checks and tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench clean

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "twin needs Python 3.11 or newer; set PYTHON=python3.11 (or newer) and retry")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.python-ok
	$(BIN)/python -m pip install --quiet -e ".[pyvrp,live]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

demo: $(VENV)/.installed
	$(BIN)/twin run scenarios/laredo_baseline.yaml

test: lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check twin tests
	$(BIN)/ruff format --check twin tests

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

bench: $(VENV)/.installed
	$(BIN)/twin bench traveltime --map austin --n 1000
	$(BIN)/twin bench sim

clean:
	rm -rf $(VENV) out maps/cache .pytest_cache .mypy_cache .ruff_cache
