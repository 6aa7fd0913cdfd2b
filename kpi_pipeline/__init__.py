"""kpi-pipeline: KPI and OKR values extracted from a company's text, gated and published to a warehouse."""

import warnings

# The project uses two Dagster features on purpose and pins the Dagster version they were tested with
# (docs/deployment.md): per-partition asset checks (preview) and `backfill_policy` (beta). Their warnings are
# addressed to us, not to users, and would otherwise open every CLI command and run log.
warnings.filterwarnings("ignore", message=r"Specifying a partitions_def on an AssetCheckSpec is currently in preview")
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of function `asset` is currently in beta")
