"""`python -m kpi_pipeline.dashboard`: render a page (and its screenshot) from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_pipeline.dashboard.__main__ import main
from kpi_pipeline.dashboard.sample import write_sample
from kpi_pipeline.warehouse import open_warehouse


def test_sample_page_and_screenshot(chromium: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "page" / "index.html", tmp_path / "shot.png"
    assert main(["--sample", "--out", str(out), "--screenshot", str(png), "--height", "900"]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.splitlines() == [f"dashboard: {out.resolve()}", f"screenshot: {png.resolve()}"]


def test_the_warehouse_and_path_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    write_sample(open_warehouse(url), n_metrics=2)
    monkeypatch.setenv("KPI_WAREHOUSE_URL", url)
    monkeypatch.setenv("KPI_DASHBOARD_PATH", str(tmp_path / "env.html"))
    assert main([]) == 0
    assert (tmp_path / "env.html").is_file()
    assert capsys.readouterr().out.strip() == f"dashboard: {(tmp_path / 'env.html').resolve()}"
