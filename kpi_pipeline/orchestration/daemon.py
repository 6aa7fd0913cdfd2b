"""The Dagster daemon that `kpi-pipeline backfill` starts when none is running.

It is the stock `dagster-daemon run`, except that the backfill loop wakes every 2 s instead of 30 s: a
command-line backfill waits for that loop twice (to launch the run, then to mark the backfill done), so
the default interval costs a user up to a minute of idle waiting. A long-running production daemon keeps
Dagster's default. (The interval is a module constant the loop reads each time: private API, checked by
tests/orchestration/test_backfill.py on every Dagster upgrade.)
"""

import dagster._daemon.controller as controller
from dagster._daemon.cli import main

CLI_BACKFILL_INTERVAL_SECONDS = 2

if __name__ == "__main__":
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = CLI_BACKFILL_INTERVAL_SECONDS
    main()
