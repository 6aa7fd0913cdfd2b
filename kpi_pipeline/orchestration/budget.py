"""`KPI_LLM_BUDGET_USD`: the most one extraction run may spend, checked twice.

Before any call, the run's estimate (`estimate.py`, over the raw days the step already loaded) must fit the
budget, so an over-budget quarter stops with nothing called and nothing written. While running, the
backend stops issuing calls when the next one would take the actual spend past it (`SpendGuard`), because
estimates can be wrong. Either way `BudgetExceeded` says what was estimated or spent and what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.extraction.cost import BUDGET_SETTING, BudgetExceeded
from kpi_pipeline.extraction.pipeline import RawDay
from kpi_pipeline.extraction.schema import ExtractionBackend
from kpi_pipeline.orchestration.estimate import Estimate, estimate

__all__ = ["BudgetExceeded", "check_budget", "check_run_budget"]


def check_budget(planned: Estimate, budget_usd: float | None) -> None:
    """Raise BudgetExceeded when the estimated cost of the run is above `budget_usd` (None: no budget)."""
    if budget_usd is None or planned.cost_usd <= budget_usd:
        return
    if planned.batch:
        advice = "raise the budget or narrow the range"
    else:
        batched = f"${planned.cost_usd_batch:.2f} in batch mode"
        advice = f"raise the budget, narrow the range, or enable batch mode ({batched}: lower KPI_LLM_BATCH_MIN_DAYS)"
    raise BudgetExceeded(
        f"estimated ${planned.cost_usd:.2f} for {planned.days} days ({planned.calls} calls to {planned.model}) "
        f"exceeds {BUDGET_SETTING}=${budget_usd:.2f}: {advice}. Nothing was called or written."
    )


def check_run_budget(raw_days: Mapping[date, RawDay], catalog: Catalog, backend: ExtractionBackend) -> Estimate | None:
    """The run's estimate checked against the backend's budget, before any call. None for a backend that
    costs nothing (offline) or has no budget."""
    if backend.name != "anthropic":
        return None
    from kpi_pipeline.extraction.anthropic_backend import AnthropicBackend  # loaded already when it is the backend

    if not isinstance(backend, AnthropicBackend) or backend.budget_usd is None:
        return None
    planned = estimate(
        raw_days,
        catalog,
        backend.model,
        backend.prices,
        batch_min_days=backend.batch_min_days,
        cache=backend.cache,
    )
    check_budget(planned, backend.budget_usd)
    return planned
