"""`kpi-pipeline` answers a mistake with one line saying what to write (exit 2, no traceback, no Dagster
start-up noise before it), and answers `--help` without importing Dagster, pandas, GX or the SDKs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from kpi_pipeline.preflight import UsageError, backfill_days, check_instance_storage, day_range

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("dagster", "pandas", "anthropic", "great_expectations", "duckdb", "psycopg", "numpy")
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


def cli(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a fresh process, without DAGSTER_HOME unless given (as on a fresh shell)."""
    base = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "KPI_START_DATE", "DAGSTER_PG_URL"}}
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=120)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused command, after checking it is exactly that."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# -- a range a backfill cannot run ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["2026-Q5"], "'2026-Q5' is not a quarter: quarters are Q1 to Q4, e.g. 2026-Q3"),
        (["2026-07-10", "2026-07-01"], "END 2026-07-01 is before START 2026-07-10: write the earlier day first"),
        (["2026-07-32", "2026-08-01"], "START '2026-07-32' is not a day: write YYYY-MM-DD"),
        (["2026-07-01", "tomorrow"], "END 'tomorrow' is not a day: write YYYY-MM-DD"),
        (["2026-07-01"], "one day is a range of one: write 2026-07-01 2026-07-01"),
        (["Q3"], "write a quarter like 2026-Q3, or a range START END"),
        (["2999-Q1"], "2999-01-01 has not ended yet"),
        (
            ["2026-Q1"],
            "2026-01-01 is before KPI_START_DATE (2026-07-01), the first daily partition: set KPI_START_DATE",
        ),
    ],
)
def test_a_range_a_backfill_cannot_run_is_refused_in_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    line = one_line(cli(tmp_path, "backfill", *args))
    assert line.startswith("kpi-pipeline backfill: ") and says in line
    assert not (tmp_path / ".dagster_home").exists(), "the range is checked before the instance is touched"


def test_a_range_ending_today_is_refused_with_the_range_to_write_instead(tmp_path: Path) -> None:
    """Today's partition does not exist until the day ends (today: `CheckError: Multiple initial assets`)."""
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    line = one_line(cli(tmp_path, "backfill", str(yesterday), str(today), KPI_START_DATE="2000-01-01"))
    assert line.endswith(f"write kpi-pipeline backfill {yesterday} {yesterday}")


def test_the_range_is_checked_before_dagster_is_imported() -> None:
    code = (
        "import sys\nfrom kpi_pipeline.cli import main\n"
        "assert main(['backfill', '2026-Q5']) == 2\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_lower_case_quarter_is_the_quarter() -> None:
    assert day_range("2026-q3", None) == day_range("2026-Q3", None)
    assert (day_range("2026-q3", None)[0], day_range("2026-q3", None)[-1]) == (date(2026, 7, 1), date(2026, 9, 30))


def test_the_suggested_range_is_accepted_and_ends_on_the_newest_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KPI_START_DATE", raising=False)
    with pytest.raises(UsageError, match="write kpi-pipeline backfill 2026-10-01 2026-11-30"):
        backfill_days("2026-Q4", None, NOW)
    days = backfill_days("2026-10-01", "2026-11-30", NOW)
    assert (days[0], days[-1], len(days)) == (date(2026, 10, 1), date(2026, 11, 30), 61)
    with pytest.raises(UsageError, match="2026-12-01 has not ended yet"):
        backfill_days("2026-12-01", "2026-12-01", NOW)


def test_the_newest_partition_is_dagsters(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check and Dagster agree on which day is the newest partition (yesterday, UTC)."""
    from kpi_pipeline.partitions import daily_partitions

    newest = date.fromisoformat(daily_partitions.get_last_partition_key() or "")
    assert backfill_days(newest.isoformat(), newest.isoformat()) == [newest]
    with pytest.raises(UsageError, match="has not ended yet"):
        backfill_days(newest.isoformat(), (newest + timedelta(days=1)).isoformat())


def test_a_start_date_that_is_not_a_date_is_one_line(tmp_path: Path) -> None:
    line = one_line(cli(tmp_path, "backfill", "2026-Q3", KPI_START_DATE="July"))
    assert "KPI_START_DATE='July' is not a date: write it as YYYY-MM-DD" in line


# -- the Dagster instance ---------------------------------------------------------------------------------------


def test_without_dagster_home_backfill_uses_dot_dagster_home_here_and_says_so(tmp_path: Path) -> None:
    """The default instance is used: its dagster.yaml (a bare postgresql:// URL) is what gets refused."""
    home = tmp_path / ".dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("storage:\n  postgres:\n    postgres_url: postgresql://u@127.0.0.1:5432/d\n")
    proc = cli(tmp_path, "backfill", "2026-07-01", "2026-07-02")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    notice, refusal = proc.stderr.splitlines()
    assert notice == f"DAGSTER_HOME is not set: using {home} (set DAGSTER_HOME to use another instance)"
    assert f"{home / 'dagster.yaml'}: storage.postgres.postgres_url uses postgresql://" in refusal


def test_a_dagster_home_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    """A lower-case quarter passes the range check and reaches the instance check."""
    missing = tmp_path / "nowhere"
    line = one_line(cli(tmp_path, "backfill", "2026-q3", DAGSTER_HOME=str(missing)))
    assert f"DAGSTER_HOME={missing} is not a folder: create it (mkdir -p {missing})" in line
    assert not missing.exists()


def test_the_production_instance_with_a_bare_postgresql_url_is_refused_before_any_run(
    tmp_path: Path, postgres_url: str
) -> None:
    """deploy/dagster.yaml with DAGSTER_PG_URL=postgresql://: dagster-postgres (psycopg2) would fail every run
    submission with `NOTIFY run_events, $1` syntax errors and leave the backfill REQUESTED."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    line = one_line(
        cli(tmp_path, "backfill", "2026-07-01", "2026-07-02", DAGSTER_HOME=str(home), DAGSTER_PG_URL=postgres_url)
    )
    assert "DAGSTER_PG_URL uses postgresql://" in line
    assert "write it as postgresql+psycopg2://user:***@host:5432/db" in line
    import psycopg

    with psycopg.connect(postgres_url) as con:  # nothing was stored in the instance's database
        tables = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
    assert tables == (0,)


def test_a_psycopg2_url_passes_and_postgres_db_needs_the_scheme_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPO / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://dagster:secret@db:5432/dagster")
    check_instance_storage(tmp_path)
    monkeypatch.delenv("DAGSTER_PG_URL")
    with pytest.raises(
        UsageError, match=r"DAGSTER_PG_URL is not set, but .*dagster\.yaml: storage\.postgres\.postgres_url"
    ):
        check_instance_storage(tmp_path)
    db = "  postgres_db: {username: dagster, hostname: db, db_name: dagster, port: 5432}\n"
    (tmp_path / "dagster.yaml").write_text(
        "run_storage:\n  module: dagster_postgres.run_storage\n  config:\n" + "  " + db
    )
    with pytest.raises(UsageError, match=r"set scheme: postgresql\+psycopg2 under run_storage\.config\.postgres_db"):
        check_instance_storage(tmp_path)
    (tmp_path / "dagster.yaml").write_text(
        "run_storage:\n  module: dagster_postgres.run_storage\n  config:\n"
        "    postgres_db: {username: dagster, hostname: db, db_name: dagster, scheme: postgresql+psycopg2}\n"
    )
    check_instance_storage(tmp_path)


def test_the_secret_in_a_storage_url_is_never_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(REPO / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql://dagster:hunter2@db:5432/dagster")
    with pytest.raises(UsageError) as refused:
        check_instance_storage(tmp_path)
    assert "hunter2" not in str(refused.value)


# -- help ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["backfill", "--help"],
        ["estimate", "--help"],
        ["eval", "--help"],
        ["calibrate", "--help"],
        ["sql", "--help"],
    ],
)
def test_help_imports_no_dagster_pandas_gx_or_sdk(args: list[str]) -> None:
    code = (
        "import sys\nfrom kpi_pipeline.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('loaded', [m for m in {HEAVY!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "usage: kpi-pipeline" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "loaded []"
