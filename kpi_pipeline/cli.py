"""`kpi-pipeline`: the demo, backfills, evaluation, calibration, cost estimates, read-only SQL and review."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# Only light modules here: `--help` and argument errors must answer before Dagster, pandas, GX or the
# anthropic SDK are imported (seconds on a small machine). Commands import what they use.
from kpi_pipeline import preflight, settings

DEMO_SEED = 7
DEMO_QUARTER = "2026-Q3"


def _lean_event_log() -> None:
    """One 'planned' event per asset for a range run instead of one per asset and day (829 for the demo
    quarter, about 9 s here). The cost: a failed range run's days show as missing, not failed, in the UI;
    a re-run or `backfill` finds them either way, since both look at materializations."""
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "1")


def run_in_process(
    asset_keys: Sequence[str], first: date | None = None, last: date | None = None, partition_key: str | None = None
) -> None:
    """Materialize assets (and their checks) in one run on the configured instance (`DAGSTER_HOME`),
    over a partition range or of one partition when given: the run shows in the Dagster UI like any other."""
    from dagster import AssetKey, DagsterInstance

    from kpi_pipeline.definitions import defs
    from kpi_pipeline.orchestration.backfill import CONSOLE_INFO
    from kpi_pipeline.orchestration.interrupts import interruptible
    from kpi_pipeline.orchestration.run_errors import failure_lines
    from kpi_pipeline.orchestration.sqlite_storage import with_pooled_event_log
    from kpi_pipeline.orchestration.zombies import executor_tags

    _lean_event_log()
    tags = executor_tags()  # a later command marks the run failed if this process is killed
    if first and last:
        tags |= {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
    job = defs.resolve_implicit_global_asset_job_def()
    with (
        DagsterInstance.get() as configured,
        DagsterInstance.from_ref(with_pooled_event_log(configured.get_ref())) as instance,
        interruptible(),
    ):
        result = job.execute_in_process(
            run_config=CONSOLE_INFO,
            instance=instance,
            asset_selection=[AssetKey(k) for k in asset_keys],
            tags=tags,
            partition_key=partition_key,
            raise_on_error=False,
        )
    if not result.success:
        causes = "\n".join(f"  {line}" for line in failure_lines(result.all_events))
        raise SystemExit(
            f"dagster run {result.run_id} failed\n{causes}\nits full logs are in the Dagster UI (`make dev`)"
        )


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the demo company if needed, run the whole pipeline over its quarter, say what was made."""
    preflight.check_instance_storage(preflight.dagster_home(create=True))
    from kpi_pipeline.catalog import quarter_bounds
    from kpi_pipeline.demo import generate_dataset
    from kpi_pipeline.orchestration.schedules import DAILY_ASSETS, REPORT_ASSETS

    dataset = Path(settings.DEMO_DATASET)
    marker = dataset / "truth.csv"
    started = time.monotonic()
    if not marker.exists() or args.regenerate:
        print(f"generating the demo company into {dataset}/ (seed {DEMO_SEED})")
        generate_dataset(dataset, seed=DEMO_SEED)
    os.environ.setdefault("KPI_DATASET", str(dataset))
    _mark_zombies_failed()
    first, last = quarter_bounds(DEMO_QUARTER)
    print(f"materializing {first}...{last}: one run for the quarter, then the catalog, OKR views and dashboard")
    extracted_from = time.time()
    run_in_process(DAILY_ASSETS, first, last)
    last_monday = last - timedelta(days=last.weekday() + (0 if last.weekday() == 6 else 7))  # last full week
    print(f"the weekly digest of {last_monday}...{last_monday + timedelta(days=6)} (stored, and on the dashboard)")
    run_in_process(["weekly_digest"], partition_key=last_monday.isoformat())
    run_in_process(REPORT_ASSETS)
    print(_summary(dict(os.environ), time.monotonic() - started))
    return _report_unfinished([first + timedelta(days=n) for n in range((last - first).days + 1)], extracted_from)


def _report_unfinished(days: Sequence[date], since: float) -> int:
    """Exit status 1, with a line per day, when the run left days partial, failed or held: a run whose answers
    could not be read succeeds as a Dagster run (its days_published check fails), but it did not publish them."""
    from kpi_pipeline.orchestration.resume import unfinished_days
    from kpi_pipeline.warehouse import open_warehouse

    unfinished = unfinished_days(open_warehouse(settings.warehouse_url()), days, since)
    for day in unfinished:
        print(f"  {day.line()}", file=sys.stderr)
    if not unfinished:
        return 0
    print(f"{len(unfinished)} day(s) not fully published (extract.day_status): run the demo again", file=sys.stderr)
    return 1


def _mark_zombies_failed() -> None:
    """Runs and backfills a killed earlier command left started or requested: marked failed, with a line each."""
    from dagster import DagsterInstance

    from kpi_pipeline.orchestration.zombies import mark_zombies_failed

    with DagsterInstance.get() as instance:
        mark_zombies_failed(instance)


def _summary(env: dict[str, str], seconds: float) -> str:
    from kpi_pipeline.dashboard import dashboard_path
    from kpi_pipeline.warehouse import open_warehouse
    from kpi_pipeline.warehouse.engine import redact_url
    from kpi_pipeline.warehouse.tables import ALL_TABLES

    url = env.get("KPI_WAREHOUSE_URL") or settings.DEFAULT_WAREHOUSE_URL
    wh = open_warehouse(url)
    lines = [f"\ndone in {seconds:.0f}s. Warehouse {redact_url(url)}:"]
    for t in ALL_TABLES:
        n = wh.scalar(f"SELECT count(*) FROM {t.qualified}")
        lines.append(f"  {t.qualified:<28} {n:>8} rows")
    query = shlex.quote("SELECT * FROM kpi.okr_progress")
    lines += [
        f"Dagster instance: {env['DAGSTER_HOME']} (browse it with `make dev`, then http://127.0.0.1:3000)",
        f"Query it: {self_command()} sql {query}  (docs/warehouse.md has example queries)",
        f"Dashboard: {dashboard_path().resolve()} (open it in a browser)",
    ]
    return "\n".join(lines)


def self_command() -> str:
    """This CLI as a command that works from the current folder: the `kpi-pipeline` script installed beside
    this Python (`.venv/bin/kpi-pipeline` after `make demo`), else `python -m kpi_pipeline.cli`."""
    script = Path(sys.executable).parent / "kpi-pipeline"
    if not script.is_file():
        return f"{shlex.quote(sys.executable)} -m kpi_pipeline.cli"
    relative = os.path.relpath(script)
    return shlex.quote(str(script) if relative.startswith("..") else relative)


def cmd_eval(args: argparse.Namespace) -> int:
    """Score extraction on a dataset folder; non-zero exit below --min-accuracy."""
    import json

    from dagster import build_resources

    from kpi_pipeline.orchestration.evaluate import evaluate_dataset

    with build_resources({"llm": settings.llm_resource(backend=args.backend)}) as built:
        llm = built.llm
        backend = llm.get_backend()
    if llm.backend_name() == "anthropic":
        print(f"answers already paid for come from and go to {llm.cache_dir()} (KPI_LLM_RESPONSE_CACHE_DIR)")
    report = evaluate_dataset(Path(args.dataset), backend)
    keys = ["accuracy", "abstention_precision", "abstention_recall", "grounded_rate", "ece", "conflicts"]
    keys += ["quarantined", "held_days", "unread", "input_tokens", "output_tokens", "cost_usd"]
    print(f"{args.dataset}: {report['days']} days, backend {report['backend']} ({report['model']})")
    for key in keys:
        print(f"  {key:<22} {report.get(key)}")
    for held in report["held"]:
        print(f"  held {held['day']}: {held['reason']}")
    _print_calibration(report["calibration"])
    for metric, row in report["per_metric"].items():
        print(
            f"  {metric:<32} accuracy={row['accuracy']} abstention_p={row['abstention_precision']} "
            f"abstention_r={row['abstention_recall']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    accuracy = report["accuracy"] or 0.0
    if args.min_accuracy is not None and accuracy < args.min_accuracy:
        print(f"accuracy {accuracy} is below --min-accuracy {args.min_accuracy}", file=sys.stderr)
        return 1
    return 0


def _print_calibration(section: dict[str, Any]) -> None:
    """The eval report's calibration figures: ECE of raw and calibrated confidence where the map was not fitted."""
    from kpi_pipeline.calibration.reliability import Reliability

    print(
        f"  calibration            {section['map']}, scored on {section['scored_on']}: {section['readings']} readings"
    )
    print(f"    ECE before {section['ece_before']}, after {section['ece_after']}")
    for title in ("before", "after") if section["readings"] else ():
        print(f"    reliability {title} calibration:")
        print("\n".join(f"      {line}" for line in Reliability(None, section[f"reliability_{title}"]).lines()))


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the confidence map of the chosen backend on labelled datasets (and review decisions, with
    --reviews) and write it under calibration/."""
    if not args.datasets and not args.reviews:
        raise preflight.UsageError("give labelled datasets (folders with truth.csv), --reviews, or both")
    from dagster import build_resources

    from kpi_pipeline.calibration.mapfile import calibration_dir
    from kpi_pipeline.calibration.reliability import Reliability
    from kpi_pipeline.orchestration.calibrate import calibrate

    with build_resources({"llm": settings.llm_resource(backend=args.backend)}) as built:
        llm = built.llm
        backend = llm.get_backend()
    if llm.backend_name() == "anthropic":
        print(f"answers already paid for come from and go to {llm.cache_dir()} (KPI_LLM_RESPONSE_CACHE_DIR)")
    reviewed = []
    if args.reviews:
        from kpi_pipeline.extraction.schema import PROMPT_VERSION
        from kpi_pipeline.review.labels import labelled_readings
        from kpi_pipeline.warehouse import open_warehouse

        prompt_version = None if backend.name == "offline" else PROMPT_VERSION  # offline reads no prompt
        wh = open_warehouse(settings.warehouse_url())
        wh.ensure_tables()
        reviewed = labelled_readings(settings.overrides_dir(), wh, model=backend.model, prompt_version=prompt_version)
        print(f"review decisions in {settings.overrides_dir()}: {len(reviewed)} labelled reading(s) of {backend.model}")
    command = shlex.join(
        [
            "kpi-pipeline",
            "calibrate",
            *args.datasets,
            "--backend",
            args.backend,
            *(["--reviews"] if args.reviews else []),
        ]
    )
    cmap, path = calibrate([Path(d) for d in args.datasets], backend, calibration_dir(), command, reviewed)
    print(f"{backend.name}/{backend.model} version {cmap.key.version}: {cmap.readings} labelled readings")
    print(f"  fitted on {cmap.fitted_readings}, held out {cmap.held_out_readings} ({cmap.split})")
    print(f"  abstentions left out (no value, nothing to calibrate): {cmap.abstentions_excluded}")
    print(f"  held-out ECE before {cmap.ece_before}, after {cmap.ece_after}")
    for title, table in (("before", cmap.reliability_before), ("after", cmap.reliability_after)):
        print(f"  held-out reliability {title} calibration:")
        print("\n".join(f"    {line}" for line in Reliability(None, table).lines()))
    print(f"wrote {path}")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    """Backfill a quarter or a range through the Dagster instance, skipping days the warehouse has done."""
    if args.allow_empty:
        os.environ["KPI_ALLOW_EMPTY"] = "all"
    days = preflight.backfill_days(args.start, args.end)
    preflight.check_instance_storage(preflight.dagster_home())
    from dagster import DagsterInstance

    from kpi_pipeline.catalog import catalog_version, load_catalog
    from kpi_pipeline.extraction.schema import PROMPT_VERSION
    from kpi_pipeline.orchestration.backfill import restated, run_backfill
    from kpi_pipeline.orchestration.resume import done_days, unfinished_days
    from kpi_pipeline.orchestration.run_errors import backfill_failure_lines
    from kpi_pipeline.orchestration.zombies import mark_zombies_failed
    from kpi_pipeline.warehouse import open_warehouse
    from kpi_pipeline.warehouse.engine import redact_url

    url = settings.warehouse_url()
    wh = open_warehouse(url)
    wh.ensure_tables()
    print(f"warehouse: {redact_url(url)}")
    _lean_event_log()
    from kpi_pipeline.review.listing import days_decided_since_published
    from kpi_pipeline.review.overrides import load_overrides

    catalog = load_catalog(settings.catalog_path())
    overrides = load_overrides(settings.overrides_dir(), [m.id for m in catalog.metrics])  # malformed: nothing runs
    version = catalog_version(catalog)
    skipped = set() if args.force else done_days(wh, days, version, PROMPT_VERSION)
    redecided = skipped & days_decided_since_published(wh, overrides, days)
    if redecided:
        print(f"publishing {len(redecided)} done day(s) again: review decisions were taken since they were published")
        skipped -= redecided
    todo = [d for d in days if d not in skipped]
    if skipped:
        print(f"skipping {len(skipped)} day(s) already published here with this catalog and prompt (--force to redo)")
    if not todo:
        print("nothing to do")
        return 0
    label = args.start if args.end is None else f"{args.start}...{args.end}"
    started = time.time()
    with DagsterInstance.get() as instance:
        mark_zombies_failed(instance)
        state = run_backfill(instance, wh, todo, f"kpi-pipeline backfill {label}")
        failures = backfill_failure_lines(instance, state.backfill_id)
        changed = restated(instance, wh, state.backfill_id)
    print(f"backfill ended: {state.line()}")
    print(f"restated {changed} published value(s): earlier versions are in kpi.fct_metric_history")
    unfinished = unfinished_days(wh, todo, started)
    for line in [*failures, *(day.line() for day in unfinished)]:
        print(f"  {line}", file=sys.stderr)
    if state.status in {"COMPLETED", "COMPLETED_SUCCESS"} and state.days_published == len(todo) and not unfinished:
        return 0
    if unfinished:
        print(f"{len(unfinished)} day(s) not fully published: the same command retries them", file=sys.stderr)
    if failures:
        print("full logs in the Dagster UI (`make dev`); run the same command again to resume", file=sys.stderr)
    elif not unfinished:
        print("run the same command again to resume", file=sys.stderr)
    return 1


def cmd_estimate(args: argparse.Namespace) -> int:
    """Print the calls, tokens and dollars extracting a range would cost, without calling a model."""
    days = preflight.day_range(args.start, args.end)
    settings.start_date()  # a bad KPI_START_DATE is refused by every command, not only by those that load Dagster
    from dagster import build_resources

    from kpi_pipeline.orchestration.estimate import configured_estimate

    names = ("catalog", "warehouse", "slack", "jira", "docs", "llm")
    resources = settings.resource_defs()
    with build_resources({name: resources[name] for name in names}) as r:
        text = configured_estimate(
            days,
            catalog=r.catalog,
            warehouse=r.warehouse,
            slack=r.slack,
            jira=r.jira,
            docs=r.docs,
            llm=r.llm,
            model=args.model,
        )
    print(text)
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    """Run one read-only statement on the configured warehouse and print its rows."""
    if args.file:
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise preflight.UsageError(f"cannot read --file {args.file}: {exc.strerror}") from None
    elif args.query not in (None, "-"):
        text = args.query
    elif sys.stdin.isatty():
        raise preflight.UsageError('give a query: kpi-pipeline sql "SELECT * FROM kpi.okr_progress", -f FILE, or stdin')
    else:
        text = sys.stdin.read()
    from kpi_pipeline.query import format_csv, format_table, run_query

    result = run_query(settings.warehouse_url(), text)
    print(format_csv(result) if args.csv else format_table(result))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    """List readings waiting for a decision; decide one by flags, or each at a prompt (with a terminal)."""
    action = "accept" if args.accept else "reject" if args.reject else "set" if args.set is not None else None
    since, day = _day_flag("--since", args.since), _day_flag("--day", args.day)
    if action is not None:
        given = {"--day": day, "--metric": args.metric, "--reason": args.reason, "--reviewer": args.reviewer}
        missing = [flag for flag, value in given.items() if not value]
        if missing:
            raise preflight.UsageError(f"--{action} needs {', '.join(missing)}: say which reading, why and who decided")
    from datetime import UTC, datetime

    from kpi_pipeline.catalog import load_catalog
    from kpi_pipeline.review.listing import Pending, pending
    from kpi_pipeline.review.overrides import Override, load_overrides
    from kpi_pipeline.review.session import Decision, decide, review_at_prompt
    from kpi_pipeline.warehouse import open_warehouse

    catalog = load_catalog(settings.catalog_path())
    ids = [m.id for m in catalog.metrics]
    if args.metric and args.metric not in ids:
        raise preflight.UsageError(
            f"--metric {args.metric!r} is not in {settings.catalog_path()}: one of {', '.join(ids)}"
        )
    folder = settings.overrides_dir()
    overrides = load_overrides(folder, ids)
    wh = open_warehouse(settings.warehouse_url())
    wh.ensure_tables()  # a warehouse nothing was published to yet has nothing to review, rather than no tables
    if action is not None:
        assert day is not None
        decision = Decision(action, args.set, args.reason, args.reviewer)
        written = decide(wh, folder, args.metric, day, decision, datetime.now(UTC))
        print(f"{folder}/review.yaml: {written.metric} on {written.day} {written.note()}")
        print(f"it applies from the next publish of that day: kpi-pipeline backfill {day} {day}")
        return 0
    items = pending(wh, overrides, since=since, metric=args.metric)
    if not items:
        print("nothing to review")
        return 0
    print(f"{len(items)} reading(s) to review (decisions go to {folder}/review.yaml):")
    if not sys.stdin.isatty():
        for n, item in enumerate(items, start=1):
            print("\n".join(item.lines(n)))
        print(
            "no terminal: listed only; decide one with --accept, --set VALUE or --reject and "
            "--day, --metric, --reason, --reviewer"
        )
        return 0

    def record(item: Pending, decision: Decision) -> Override:
        return decide(wh, folder, item.metric, item.day, decision, datetime.now(UTC))

    written_all = review_at_prompt(items, record)
    print(f"{len(written_all)} decision(s) written to {folder}/review.yaml")
    return 0


def _day_flag(flag: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise preflight.UsageError(f"{flag} {text!r} is not a day: write YYYY-MM-DD, e.g. 2026-07-01") from None


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer a question from the published tables; exit 1 when the answer is "not in the data"."""
    if not args.question.strip():
        raise preflight.UsageError('give a question: kpi-pipeline ask "what was api_error_rate on 2026-07-02?"')
    today = preflight._day("--today", args.today) if args.today else datetime.now(UTC).date()
    from dagster import build_resources

    from kpi_pipeline.ask import ask_question
    from kpi_pipeline.ask.run import Claude

    with build_resources({"llm": settings.llm_resource()}) as built:
        llm = built.llm
    claude = None
    if llm.backend_name() == "anthropic":
        if not llm.api_key:
            raise settings.SettingError("KPI_LLM_BACKEND=anthropic needs ANTHROPIC_API_KEY: set it, or use offline")
        import anthropic

        from kpi_pipeline.extraction.llm_config import DEFAULT_MODEL

        client = anthropic.Anthropic(api_key=llm.api_key, base_url=llm.endpoint(), max_retries=2)
        claude = Claude(client, llm.model or DEFAULT_MODEL)
    asked = ask_question(args.question, settings.warehouse_url(), today=today, claude=claude, aliases=_aliases())
    print(asked.answer.text)
    backend = "anthropic" if claude else "offline"
    if asked.not_recorded:
        print(f"(backend {backend}; not recorded in extract.ask_log: {asked.not_recorded})", file=sys.stderr)
    else:
        print(f"(backend {backend}; recorded in extract.ask_log as {asked.ask_id})", file=sys.stderr)
    return 0 if asked.answer.answered else 1


def _aliases() -> dict[str, tuple[str, ...]]:
    """The catalog's metric aliases, so a question may name a metric as people write it; none without a catalog."""
    from kpi_pipeline.catalog import CatalogError, load_catalog

    try:
        return {m.id: m.aliases for m in load_catalog(settings.catalog_path()).metrics}
    except CatalogError:
        return {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kpi-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the whole pipeline on the demo company's quarter")
    demo.add_argument("--regenerate", action="store_true", help="regenerate the demo dataset first")
    demo.set_defaults(func=cmd_demo)
    bf = sub.add_parser("backfill", help="backfill a quarter (2026-Q3) or START END through Dagster, resumably")
    bf.add_argument("start", help="a quarter like 2026-Q3, or the first day YYYY-MM-DD")
    bf.add_argument("end", nargs="?", help="the last day YYYY-MM-DD (inclusive)")
    bf.add_argument("--force", action="store_true", help="redo days that are already published")
    bf.add_argument(
        "--allow-empty",
        action="store_true",
        help="let sources that now yield nothing empty days their raw tables hold (sets KPI_ALLOW_EMPTY=all)",
    )
    bf.set_defaults(func=cmd_backfill)
    est = sub.add_parser("estimate", help="expected LLM calls, tokens and dollars for a quarter or START END")
    est.add_argument("start", help="a quarter like 2026-Q3, or the first day YYYY-MM-DD")
    est.add_argument("end", nargs="?", help="the last day YYYY-MM-DD (inclusive)")
    est.add_argument("--model", help="price this model instead of KPI_LLM_MODEL")
    est.set_defaults(func=cmd_estimate)
    ev = sub.add_parser(
        "eval", help="score extraction on a dataset folder (slack/, jira/, docs/, metrics.yaml, truth.csv)"
    )
    ev.add_argument("dataset")
    ev.add_argument("--backend", choices=["offline", "anthropic"], default="offline")
    ev.add_argument("--json", metavar="OUT", help="write the full report (per metric too) as JSON")
    ev.add_argument("--min-accuracy", type=float, help="exit 1 when accuracy is below this")
    ev.set_defaults(func=cmd_eval)
    cal = sub.add_parser(
        "calibrate", help="fit the backend's confidence map on labelled datasets and write it under calibration/"
    )
    cal.add_argument("datasets", nargs="*", metavar="DATASET", help="dataset folders with truth.csv")
    cal.add_argument(
        "--reviews",
        action="store_true",
        help="also label with the review decisions in KPI_OVERRIDES_DIR about KPI_WAREHOUSE_URL's readings",
    )
    cal.add_argument("--backend", choices=["offline", "anthropic"], default="offline")
    cal.set_defaults(func=cmd_calibrate)
    sql = sub.add_parser("sql", help="run one read-only SQL statement on the warehouse (KPI_WAREHOUSE_URL)")
    sql.add_argument("query", nargs="?", help="the statement; omit it (or write -) to read it from stdin")
    sql.add_argument("-f", "--file", help="read the statement from this file")
    sql.add_argument("--csv", action="store_true", help="print CSV with every character, not a table")
    sql.set_defaults(func=cmd_sql)
    rv = sub.add_parser(
        "review", help="list quarantined and low-confidence readings; accept, set or reject them (overrides/)"
    )
    rv.add_argument("--since", metavar="DAY", help="only readings from this day on (YYYY-MM-DD)")
    rv.add_argument("--metric", help="only this metric")
    decided = rv.add_mutually_exclusive_group()
    decided.add_argument("--accept", action="store_true", help="publish the reading as it is")
    decided.add_argument("--set", type=float, metavar="VALUE", help="publish VALUE instead of the reading")
    decided.add_argument("--reject", action="store_true", help="withhold the reading")
    rv.add_argument("--day", help="the day of the reading decided on (YYYY-MM-DD)")
    rv.add_argument("--reason", help="why (kept in the overrides file and the history)")
    rv.add_argument("--reviewer", help="who decided")
    rv.set_defaults(func=cmd_review)
    ask = sub.add_parser("ask", help="answer a question from the published kpi tables, citing the quotes behind it")
    ask.add_argument("question", help='e.g. "why did api_error_rate change between 2026-07-02 and 2026-07-09?"')
    ask.add_argument("--today", help="the day 'yesterday', 'this week', 'last week' are relative to (YYYY-MM-DD)")
    ask.set_defaults(func=cmd_ask)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors whose message tells a user what to fix. The modules are imported only once something
    failed, and a preflight refusal is caught before that, so it costs no heavy import either."""
    from kpi_pipeline.ask.claude import AskError
    from kpi_pipeline.ask.periods import PeriodError
    from kpi_pipeline.calibration.mapfile import CalibrationError
    from kpi_pipeline.catalog import CatalogError
    from kpi_pipeline.extraction.cost import BudgetExceeded
    from kpi_pipeline.extraction.llm_config import LlmConfigError
    from kpi_pipeline.orchestration.evaluate import DatasetError
    from kpi_pipeline.query import QueryError
    from kpi_pipeline.review.overrides import OverrideError
    from kpi_pipeline.review.session import ReviewError
    from kpi_pipeline.sources.errors import SourceError
    from kpi_pipeline.warehouse import WarehouseError

    return (
        CalibrationError,
        CatalogError,
        DatasetError,
        SourceError,
        WarehouseError,
        LlmConfigError,
        BudgetExceeded,
        QueryError,
        OverrideError,
        ReviewError,
        PeriodError,
        AskError,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; errors a user can fix print one line (what, where, what to do), not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"kpi-pipeline {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`kpi-pipeline sql ... | head`): it has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 141  # as a command SIGPIPE ended
    except (preflight.UsageError, settings.SettingError) as exc:
        refused: Exception = exc
    except Exception as exc:
        if not isinstance(exc, _user_errors()):
            raise
        refused = exc
    print(f"kpi-pipeline {args.command}: {refused}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
