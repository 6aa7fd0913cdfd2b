# Two commands: `make demo` runs the pipeline on the embedded default, `make test` runs every test.
# Both install what they need (uv from PyPI, then the locked environment).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export GX_ANALYTICS_ENABLED := false

.PHONY: demo test install lint typecheck dev bench

install:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --quiet

demo: install
	@mkdir -p $(DAGSTER_HOME)
	$(UV) run --frozen kpi-pipeline demo

test: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen pytest

dev: install
	@mkdir -p $(DAGSTER_HOME)
	$(UV) run --frozen dagster dev

bench: install
	$(UV) run --frozen python bench/bench_ingest.py
