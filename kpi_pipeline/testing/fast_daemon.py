"""A stock `dagster-daemon run` whose backfill loop wakes every 2 s instead of 30 s, for tests.

Tests that check a running daemon executes what `kpi-pipeline backfill` submits would otherwise wait up to
a minute per backfill for the loop. (The interval is a module constant the loop reads when it starts:
private API, so the test using this fails loudly if a Dagster upgrade moves it.)

    python -m kpi_pipeline.testing.fast_daemon run -w workspace.yaml
"""

import dagster._daemon.controller as controller
from dagster._daemon.cli import main

TEST_BACKFILL_INTERVAL_SECONDS = 2

if __name__ == "__main__":
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = TEST_BACKFILL_INTERVAL_SECONDS
    main()
