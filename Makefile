# The two commands README gives: `make demo` and `make test`; `make bench` for the figures.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint types unit demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint types unit

demo: $(STAMP)
	$(BIN)/sealguard demo

bench: $(STAMP)
	$(BIN)/python -m bench.replay_bench
	$(BIN)/python -m bench.live_bench
	$(BIN)/python -m bench.roles_bench
	$(BIN)/python -m bench.state_bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
