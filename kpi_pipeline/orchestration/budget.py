"""`KPI_LLM_BUDGET_USD`: the most one extraction run may spend, checked twice.

Before any call, the run's estimate (`estimate.py`) must fit the budget, so an over-budget quarter stops with
nothing called and nothing written. While running, the backend stops issuing calls when the next one would
take the actual spend past it (`SpendGuard`), because estimates can be wrong. A range run extracts in chunks:
its estimate is the sum of the chunks' (each read, estimated and let go in turn, `check_range_budget`), each
batching as the backend will decide for it. Either way `BudgetExceeded` says what was estimated or spent and
what to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.extraction.cost import BUDGET_SETTING, BudgetExceeded
from kpi_pipeline.extraction.pipeline import RawDay
from kpi_pipeline.extraction.schema import ExtractionBackend, LlmUsage
from kpi_pipeline.orchestration.estimate import Estimate, estimate

__all__ = ["BudgetExceeded", "check_budget", "check_range_budget", "check_run_budget"]


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
    return check_range_budget([raw_days], catalog, backend)


def check_range_budget(
    raw_chunks: Iterable[Mapping[date, RawDay]], catalog: Catalog, backend: ExtractionBackend
) -> Estimate | None:
    """`check_run_budget` for a run extracted chunk by chunk: `raw_chunks` is only iterated (read) when a
    budget applies, one chunk in memory at a time."""
    if backend.name != "anthropic":
        return None
    from kpi_pipeline.extraction.anthropic_backend import AnthropicBackend  # loaded already when it is the backend

    if not isinstance(backend, AnthropicBackend) or backend.budget_usd is None:
        return None
    written: set[str] = set()  # the catalog prefix is written by the first chunk's first call only
    parts = [
        estimate(
            raw,
            catalog,
            backend.model,
            backend.prices,
            batch_min_days=backend.batch_min_days,
            cache=backend.cache,
            prompt_cache=written,
        )
        for raw in raw_chunks
    ]
    planned = _summed(parts)
    check_budget(planned, backend.budget_usd)
    return planned


def _summed(parts: list[Estimate]) -> Estimate:
    """One estimate for chunks extracted one after the other (each as the backend batches it)."""
    if len(parts) == 1:
        return parts[0]

    def summed(usages: list[LlmUsage]) -> LlmUsage:
        return LlmUsage(
            input_tokens=sum(u.input_tokens for u in usages),
            cache_creation_input_tokens=sum(u.cache_creation_input_tokens for u in usages),
            cache_read_input_tokens=sum(u.cache_read_input_tokens for u in usages),
            output_tokens=sum(u.output_tokens for u in usages),
        )

    return Estimate(
        model=parts[0].model,
        days=sum(p.days for p in parts),
        requests=sum(p.requests for p in parts),
        calls=sum(p.calls for p in parts),
        usage=summed([p.usage for p in parts]),
        batch=all(p.batch for p in parts),  # some chunks one call at a time: priced so, erring high
        cost_usd_sync=sum(p.cost_usd_sync for p in parts),
        cost_usd_batch=sum(p.cost_usd_batch for p in parts),
        seed_calls=sum(p.seed_calls for p in parts),
        seed_usage=summed([p.seed_usage for p in parts]),
        cost_usd_seed=sum(p.cost_usd_seed for p in parts),
    )
