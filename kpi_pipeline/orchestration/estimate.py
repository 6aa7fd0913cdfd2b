"""What an extraction run would cost, before it runs: calls, tokens by kind and dollars, no model called, beside
the seed design's bill (one call per metric per day over all sources, no prompt cache, no batch).

The requests are built exactly as the pipeline builds them (same source selection, same prompts, same
per-metric response cache), and input tokens are counted block by block with `count_tokens`, as the local
Anthropic server bills them. Assumptions, so the number can be judged:

- Prompt cache: the run starts cold; the first call writes the catalog prefix (system prompt and every
  metric's definition), the first call of each sources prefix (one day's sources of one type) writes those
  sources, and later calls read what was written. The API does not cache prefixes shorter than the model's
  minimum (1-4k tokens) and bills them as plain input: cheaper than the write counted here.
- Output: `EXPECTED_OUTPUT_TOKENS_PER_METRIC` per asked metric (see extraction/cost.py), measured on the
  demo quarter; a corpus where most metrics are stated every day produces longer answers.
- No retries: truncated, invalid or errored calls asked again cost extra.
- Batch: the run batches when its calls span `batch_min_days` distinct days, as the backend decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.extraction.cost import BUDGET_SETTING, PriceTable, expected_usage, load_prices, parse_budget
from kpi_pipeline.extraction.llm_config import DEFAULT_BATCH_MIN_DAYS, DEFAULT_MODEL, uses_batch
from kpi_pipeline.extraction.pipeline import RawDay, plan_day, source_docs
from kpi_pipeline.extraction.prompts import build_prompt, prompt_tokens, split_metrics
from kpi_pipeline.extraction.response_cache import ResponseCache
from kpi_pipeline.extraction.schema import PROMPT_VERSION, ExtractionRequest, LlmUsage, SourceDoc
from kpi_pipeline.extraction.selection import DEFAULT_TOKEN_BUDGET
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.llm import LlmResource
from kpi_pipeline.resources.slack import SlackSource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.extract_io import read_raw_days
from kpi_pipeline.warehouse.tables import RAW_DOCS, RAW_JIRA_EVENTS, RAW_JIRA_ISSUES, RAW_SLACK_MESSAGES


@dataclass(frozen=True)
class Estimate:
    """The expected cost of extracting `days` days with `model`, beside the seed design's."""

    model: str
    days: int
    requests: int  # requests the pipeline builds
    calls: int  # of those, the ones the response cache cannot answer
    usage: LlmUsage  # tokens the calls are expected to bill, by kind
    batch: bool  # whether the run would go through the Message Batches API
    cost_usd_sync: float  # dollars, one call at a time
    cost_usd_batch: float  # dollars, through the Batches API
    seed_calls: int = 0  # the seed design: one call per catalog metric per day over all the day's sources
    seed_usage: LlmUsage = field(default_factory=LlmUsage)  # its tokens, all plain input (no prompt cache)
    cost_usd_seed: float = 0.0  # its dollars, one call at a time

    @property
    def cost_usd(self) -> float:
        """Dollars the run would be billed, the way it would run."""
        return self.cost_usd_batch if self.batch else self.cost_usd_sync

    @property
    def input_tokens(self) -> int:
        """All input tokens: uncached, cache writes and cache reads."""
        u = self.usage
        return u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens

    def report(self) -> str:
        u = self.usage
        mode = "batch" if self.batch else "one call at a time"
        lines = [
            f"estimate for {self.days} day(s) with {self.model} (no model was called):",
            f"  requests            {self.requests:>12,}",
            f"  answered by cache   {self.requests - self.calls:>12,}",
            f"  calls               {self.calls:>12,}",
            f"  uncached input      {u.input_tokens:>12,}  (the questions: day and metric ids)",
            f"  cache write tokens  {u.cache_creation_input_tokens:>12,}  (catalog once, each sources prefix once)",
            f"  cache read tokens   {u.cache_read_input_tokens:>12,}",
            f"  output tokens       {u.output_tokens:>12,}",
            f"  cost without batch  {'$' + format(self.cost_usd_sync, ',.4f'):>12}",
            f"  cost with batch     {'$' + format(self.cost_usd_batch, ',.4f'):>12}",
            f"  the run would go    {mode} (${self.cost_usd:,.4f})",
        ]
        if self.seed_calls:
            ratio = f"{self.cost_usd_seed / self.cost_usd:,.1f}x" if self.cost_usd else "infinitely"
            seed = "$" + format(self.cost_usd_seed, ",.4f")
            lines += [
                f"  seed design         {seed:>12}  ({self.seed_calls:,} calls: one per metric per day over all "
                f"the day's sources, {self.seed_usage.input_tokens:,} input tokens, no cache, no batch)",
                f"  this run is         {ratio:>12} cheaper than the seed design",
            ]
        return "\n".join(lines)


def _plus(total: LlmUsage, usage: LlmUsage) -> LlmUsage:
    return LlmUsage(
        input_tokens=total.input_tokens + usage.input_tokens,
        cache_creation_input_tokens=total.cache_creation_input_tokens + usage.cache_creation_input_tokens,
        cache_read_input_tokens=total.cache_read_input_tokens + usage.cache_read_input_tokens,
        output_tokens=total.output_tokens + usage.output_tokens,
    )


def seed_usage(day: date, docs: Sequence[SourceDoc], catalog: Catalog) -> LlmUsage:
    """What the seed design bills for one day: a call per catalog metric over all of the day's sources (every
    type, no selection), the whole prompt as plain input, one metric's answer out."""
    total = LlmUsage()
    for metric in catalog.metrics:
        request = ExtractionRequest(day, "all", (metric.id,), tuple(docs))
        tokens = prompt_tokens("seed", build_prompt(request, [metric], [metric]))
        total = _plus(total, expected_usage(tokens.prefix + tokens.question, 1, cache_read=0, cache_write=0))
    return total


def estimate(
    raw_days: Mapping[date, RawDay],
    catalog: Catalog,
    model: str,
    prices: PriceTable,
    *,
    batch: bool | None = None,
    batch_min_days: int | None = DEFAULT_BATCH_MIN_DAYS,
    cache: ResponseCache | None = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    prompt_cache: set[str] | None = None,
) -> Estimate:
    """Calls, tokens and dollars of extracting `raw_days` (as `extract_days` would) without calling a model,
    and the seed design's bill for the same days. `batch=None` decides as the backend does, from
    `batch_min_days`; `cache` leaves out what it answers. `prompt_cache` holds the keys of the prompt prefixes
    written so far, updated here: pass one set to the estimates of chunks one run extracts in turn, as the
    backend remembers what it sent (cold, a new set, by default)."""
    prices.price(model)  # an unpriced model fails here, naming prices.yaml
    total = seed = LlmUsage()
    prefixes = prompt_cache if prompt_cache is not None else set()
    call_days: list[date] = []
    n_requests = 0
    for day, raw in sorted(raw_days.items()):
        docs = source_docs(day, raw)
        seed = _plus(seed, seed_usage(day, docs, catalog))
        for request in plan_day(day, docs, catalog, token_budget)[1].requests:
            n_requests += 1
            metrics, _ = split_metrics(request, catalog.metrics)
            cached = cache.answers(model, PROMPT_VERSION, request, metrics) if cache else {}
            asked = [m for m in metrics if m.id not in cached]
            if not asked:
                continue
            tokens = prompt_tokens(model, build_prompt(request, asked, catalog.metrics))
            read, written = tokens.cache_split(prefixes)
            prefixes.update(key for key, _ in tokens.prefixes)
            call_days.append(day)
            total = _plus(total, expected_usage(tokens.question, len(asked), cache_read=read, cache_write=written))
    return Estimate(
        model=model,
        days=len(raw_days),
        requests=n_requests,
        calls=len(call_days),
        usage=total,
        batch=batch if batch is not None else uses_batch(call_days, batch_min_days),
        cost_usd_sync=prices.cost_usd(model, total),
        cost_usd_batch=prices.cost_usd(model, total, batch=True),
        seed_calls=len(raw_days) * len(catalog.metrics),
        seed_usage=seed,
        cost_usd_seed=prices.cost_usd(model, seed),
    )


# -- raw days: the warehouse where ingested, else the configured sources --------------------------------------


def ingested_days(wh: Warehouse, days: Sequence[date]) -> set[date]:
    """The days among `days` with rows in any raw table: ingestion ran for them."""
    found: set[date] = set()
    for table in (RAW_SLACK_MESSAGES, RAW_JIRA_ISSUES, RAW_JIRA_EVENTS, RAW_DOCS):
        frame = wh.query_df(
            f"SELECT DISTINCT day FROM {table.qualified} WHERE day BETWEEN ? AND ?", [min(days), max(days)]
        )
        found.update(pd.to_datetime(frame["day"]).dt.date)
    return found & set(days)


def raw_days_from_warehouse(wh: Warehouse, days: Sequence[date]) -> dict[date, RawDay]:
    """The raw tables' rows of `days`, read as the extraction asset reads them."""
    with wh.session():
        return read_raw_days(wh, sorted(days))


def raw_days_from_sources(
    slack: SlackSource, jira: JiraSource, docs: DocsSource, days: Sequence[date]
) -> dict[date, RawDay]:
    """What ingestion would write for `days`, read from the sources without writing anything."""
    raw = {}
    docs_of = docs.day_reader()
    for day in sorted(days):
        issues, events = jira.issues_and_events_for_day(day)
        raw[day] = RawDay(slack.messages_for_day(day), issues, events, docs_of(day))
    return raw


def load_raw_days(
    days: Sequence[date], wh: Warehouse | None, slack: SlackSource, jira: JiraSource, docs: DocsSource
) -> dict[date, RawDay]:
    """Each day from the warehouse when it was ingested, else from the sources (a range not ingested yet)."""
    in_warehouse = ingested_days(wh, days) if wh is not None and days else set()
    raw = raw_days_from_warehouse(wh, sorted(in_warehouse)) if wh is not None and in_warehouse else {}
    raw.update(raw_days_from_sources(slack, jira, docs, [d for d in days if d not in in_warehouse]))
    return dict(sorted(raw.items()))


# -- `kpi-pipeline estimate` ----------------------------------------------------------------------------------


def configured_estimate(
    days: Sequence[date],
    *,
    catalog: CatalogResource,
    warehouse: WarehouseResource,
    slack: SlackSource,
    jira: JiraSource,
    docs: DocsSource,
    llm: LlmResource,
    model: str | None = None,
) -> str:
    """The estimate report for `days` with the deployment's resources (catalog, raw data, model, batch
    threshold, response cache), and whether a run would fit `KPI_LLM_BUDGET_USD`."""
    chosen = model or llm.model or DEFAULT_MODEL
    raw = load_raw_days(days, warehouse.get_warehouse(), slack, jira, docs)
    planned = estimate(
        raw,
        catalog.load(),
        chosen,
        load_prices(),
        batch_min_days=llm.batch_min_days or None,
        cache=ResponseCache(llm.cache_dir()),
    )
    lines = [planned.report()]
    if llm.backend_name() == "offline":
        lines.append("  note: the configured backend is offline, which costs nothing; this is what Claude would cost")
    budget = parse_budget(llm.budget_usd)
    if budget is not None:
        verdict = "fits" if planned.cost_usd <= budget else "exceeds it: the run would stop before any call"
        lines.append(f"  {BUDGET_SETTING}=${budget:.2f}: the run {verdict}")
    return "\n".join(lines)
