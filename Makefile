# leadflow: `make demo` runs the whole pipeline and serves the API; `make test` runs the tests.
# Both bootstrap the environment first (uv from PyPI if absent, then `uv sync --frozen`).

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
RUN := $(UV) run --frozen --all-extras

.PHONY: setup demo test test-all lint bench clean

.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --all-extras
	@touch $@

setup: .venv/.synced

demo: setup  ## simulate → Kafka → DuckDB → dbt → gates → model → scores, then serve on :8000
	$(RUN) leadflow demo

test: setup  ## lint, then every test that is not marked slow
	$(RUN) ruff check .
	$(RUN) pytest -m "not slow"

test-all: setup  ## every test, slow ones included
	$(RUN) pytest

bench: setup  ## ingest throughput vs a same-run baseline, dbt build times; one JSON line each
	$(RUN) leadflow bench ingest
	$(RUN) leadflow bench transform

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

clean:
	rm -rf .leadflow .pytest_cache .ruff_cache
