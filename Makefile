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

demo: setup  ## two simulated years up to today → Kafka → DuckDB → dbt → gates → model → scores, then `leadflow run` on :8000 with a live feed
	$(RUN) leadflow demo

# Test files run on this many processes (pytest-xdist), each file on one of them so that
# its module fixtures (a built warehouse, a broker) are made once.
TEST_WORKERS ?= 2

test: setup  ## lint, then every test that is not marked slow (SQLFluff is one of them)
	$(RUN) ruff check .
	$(RUN) pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# How many cases the property-based suites (hypothesis, schemathesis) try per test in
# `make test-all`; `make test` tries 150 (Schemathesis 100), the same ones on every run.
TEST_EXAMPLES ?= 2000

test-all: setup  ## every test, slow ones included, and long property-based runs drawn afresh
	LEADFLOW_TEST_EXAMPLES=$(TEST_EXAMPLES) $(RUN) pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: setup  ## ingest and scoring throughput vs same-run baselines, dbt build times, speed to lead, API and page latency; one JSON line each
	$(RUN) leadflow bench ingest
	$(RUN) leadflow bench transform
	$(RUN) leadflow bench score
	$(RUN) leadflow bench freshness
	$(RUN) leadflow bench api
	$(RUN) leadflow bench pages

lint: setup  ## Python (ruff) and the dbt models (SQLFluff with the dbt templater, .sqlfluff)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	mkdir -p .leadflow
	LEADFLOW_WAREHOUSE=$(CURDIR)/.leadflow/lint.duckdb DBT_PARTIAL_PARSE=false \
		$(RUN) sqlfluff lint transforms --processes 2

clean:
	rm -rf .leadflow .pytest_cache .ruff_cache
