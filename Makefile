# The two commands README gives: `make demo` and `make test`; `make bench` for the figures.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test check lint types unit fast demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The tests' OpenID Connect provider (oidc-provider under Node); npm ci installs the locked versions.
IDP := tests/oidc/node_modules/.installed
$(IDP): tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund --silent
	touch $(IDP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	for f in sealguard/web/static/*.js; do node --check "$$f" || exit 1; done

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(IDP)
	$(BIN)/pytest -q

test: lint types unit

# The quick loop while working: lint, types and every test that needs no server (pytest markers).
check: lint types fast

fast: $(STAMP)
	$(BIN)/pytest -q -m "not server"

demo: $(STAMP)
	$(BIN)/sealguard demo

bench: $(STAMP)
	$(BIN)/python -m bench.replay_bench
	$(BIN)/python -m bench.live_bench
	$(BIN)/python -m bench.storm_bench
	$(BIN)/python -m bench.roles_bench
	$(BIN)/python -m bench.state_bench
	$(BIN)/python -m bench.embedded_bench
	$(BIN)/python -m bench.compliance_bench
	$(BIN)/python -m bench.pages_bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
