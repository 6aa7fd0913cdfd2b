"""Write a whole evaluation dataset: slack/, jira/, docs/, metrics.yaml and truth.csv."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kpi_pipeline.demo.company import build_company
from kpi_pipeline.demo.docs import DocsWriter
from kpi_pipeline.demo.jira import JiraWriter
from kpi_pipeline.demo.kpis import KPIS, QUARTER_DAYS, catalog_yaml, demo_days
from kpi_pipeline.demo.more_kpis import demo_kpis
from kpi_pipeline.demo.phrasing import num, phrasing_set
from kpi_pipeline.demo.plan import Plan, Plant, build_plan
from kpi_pipeline.demo.slack import SlackWriter

OUTPUTS = ("slack", "jira", "docs", "metrics.yaml", "truth.csv")
MIN_DAYS = 28  # room for the planted incidents, corrections and held-back mentions
MAX_DAYS = 366


@dataclass(frozen=True)
class DatasetSummary:
    out_dir: Path
    seed: int
    scale: int
    phrasings: str
    days: int
    kpis: int
    channels: int
    messages: int
    issues: int
    jira_pages: int
    docs: int
    readings: int  # metric-days with a value to publish
    plants: tuple[Plant, ...]  # everything planted, with the value each metric-day should publish

    def describe(self) -> str:
        return (
            f"{self.out_dir}: {self.channels} channels, {self.messages} messages, {self.issues} Jira issues "
            f"in {self.jira_pages} pages, {self.docs} docs, {self.readings} true readings of {self.kpis} KPIs "
            f"over {self.days} days (seed {self.seed}, scale {self.scale}, {self.phrasings} phrasings)"
        )


def write_truth(path: Path, plan: Plan) -> int:
    """truth.csv: every day of the dataset for every metric; an empty value means publish nothing."""
    rows = ["date,metric,value"]
    readings = 0
    for (day, metric_id), value in sorted(plan.truth().items()):
        rows.append(f"{day.isoformat()},{metric_id},{'' if value is None else num(value)}")
        readings += value is not None
    path.write_text("\n".join(rows) + "\n")
    return readings


def generate_dataset(
    out_dir: Path,
    *,
    seed: int = 7,
    scale: int = 1,
    phrasings: str = "standard",
    days: int = QUARTER_DAYS,
    kpis: int = len(KPIS),
) -> DatasetSummary:
    """Generate the demo company into `out_dir` (its previous outputs are replaced); same arguments, same bytes.
    `days` ends with the demo quarter (92: the quarter, 365: the year to 2026-09-30); `kpis` adds metrics to the
    demo's 12 (up to 50)."""
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"days must be between {MIN_DAYS} and {MAX_DAYS}, got {days}")
    catalog = demo_kpis(kpis)
    phrasing = phrasing_set(phrasings)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    company = build_company(seed, scale)
    plan = build_plan(seed, phrasing, company, tuple(demo_days(days)), catalog)
    slack = SlackWriter(out_dir / "slack", company, plan, seed).write()
    jira = JiraWriter(out_dir / "jira", company, plan, seed, scale).write()
    docs = DocsWriter(out_dir / "docs", company, plan, phrasing, seed, scale).write()
    (out_dir / "metrics.yaml").write_text(catalog_yaml(phrasing.aliases, catalog))
    readings = write_truth(out_dir / "truth.csv", plan)
    return DatasetSummary(
        out_dir,
        seed,
        scale,
        phrasings,
        days,
        kpis,
        slack.channels,
        slack.messages,
        jira.issues,
        jira.pages,
        docs.files,
        readings,
        plan.plants,
    )
