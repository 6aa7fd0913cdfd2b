# Two commands: `make demo` runs the pipeline on the embedded default, `make test` runs every test.
# Both install what they need (uv from PyPI, then the locked environment).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# pytest-xdist workers for `make test`: the suite waits on subprocesses, servers and PostgreSQL; on this 2-core
# machine two workers ran it in 392 s where one process took 633 s (2026-12-01; 2,192 tests in 454 s on two
# workers later that day). TEST_WORKERS=0: one process
TEST_WORKERS ?= 2
export GX_ANALYTICS_ENABLED := false
# a range run records one "planned" event per asset, not per asset and day (see kpi_pipeline/cli.py)
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= 1

.PHONY: demo test install lint typecheck dev bench calibration

install:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --quiet --compile-bytecode

demo: install
	@mkdir -p $(DAGSTER_HOME)
	$(UV) run --frozen kpi-pipeline demo

test: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen pytest -n $(TEST_WORKERS)

# refit the offline backend's shipped confidence map on the labelled datasets (docs/evaluation.md, Calibration)
CALIBRATION_DATASETS := data/demo $(sort $(wildcard tests/datasets/*))
calibration: install
	$(UV) run --frozen python -m kpi_pipeline.demo data/demo --seed 7 >/dev/null
	$(UV) run --frozen kpi-pipeline calibrate $(CALIBRATION_DATASETS)

dev: install
	@mkdir -p $(DAGSTER_HOME)
	$(UV) run --frozen dagster dev

# benchmarks print measured figures (docs/benchmarks.md has the latest); they take a few minutes each
bench: install
	$(UV) run --frozen python bench/bench_ingest.py --pairs 1
	$(UV) run --frozen python bench/bench_dashboard.py
	$(UV) run --frozen python bench/bench_orchestration.py
