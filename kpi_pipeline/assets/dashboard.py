"""The dashboard asset: renders the published tables to one HTML file and puts the OKR status in metadata.

Not partitioned: the page shows the whole quarter (and the year before it), so it is re-rendered after
any publish. `KPI_DASHBOARD_PATH` sets the file (default data/dashboard/index.html) and
`KPI_DASHBOARD_QUARTER` pins the quarter (default: the latest published one with objectives).
"""

import os

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from kpi_pipeline.dashboard import dashboard_path, write_page
from kpi_pipeline.dashboard.data import load_dashboard_data
from kpi_pipeline.dashboard.render import render_html
from kpi_pipeline.dashboard.summary import okr_markdown
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse.publish import ensure_kpi_schema

PUBLISHED = ("fct_metric_daily", "fct_metric_evidence", "metric_quarantine", "okr_progress")


@asset(
    group_name="report",
    deps=[AssetKey(name) for name in PUBLISHED],
    kinds={"html"},
    description="Self-contained HTML dashboard of the quarter: OKR tree, KPI trends, evidence, quarantine, cost.",
)
def kpi_dashboard(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """Render the dashboard file; its metadata carries the path and the OKR status table."""
    wh = warehouse.get_warehouse()
    ensure_kpi_schema(wh)  # the okr_progress view exists even before the views asset first ran
    data = load_dashboard_data(wh, os.environ.get("KPI_DASHBOARD_QUARTER") or None)
    page = render_html(data)
    path = write_page(dashboard_path(), page).resolve()
    context.log.info(f"dashboard for {data.quarter} written to {path}")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "open": MetadataValue.url(path.as_uri()),
            "quarter": data.quarter,
            "as_of": data.as_of.isoformat() if data.as_of else "nothing published",
            "okr_status": MetadataValue.md(okr_markdown(data)),
            "kpis": MetadataValue.int(len(data.metrics)),
            "published_values": MetadataValue.int(len(data.facts)),
            "held_back": MetadataValue.int(len(data.quarantine)),
            "html_bytes": MetadataValue.int(len(page.encode("utf-8"))),
        }
    )
