"""Headless Chromium: the page's DOM after its script ran, and screenshots of it.

Used by the browser tests and by `python -m kpi_pipeline.dashboard --screenshot` (the README picture).
Chromium runs isolated: a throwaway profile, no network services, no sandbox (containers run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
)
VIRTUAL_TIME_MS = 10_000  # how long the page may run before the DOM or pixels are taken (virtual time: fast)


class BrowserError(RuntimeError):
    """Chromium is missing or failed; the message says what to install or what it printed."""


def find_chromium() -> Path:
    """`KPI_CHROMIUM`, else Debian's /usr/bin/chromium, else `chromium` on PATH."""
    explicit = os.environ.get("KPI_CHROMIUM")
    if explicit:
        if not Path(explicit).is_file():
            raise BrowserError(f"KPI_CHROMIUM={explicit!r} is not a file; point it at a chromium binary")
        return Path(explicit)
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise BrowserError(
        "Chromium not found: install Debian's package (`apt-get install -y chromium`) or set KPI_CHROMIUM"
    )


def _run(args: list[str], timeout_s: float) -> str:
    with tempfile.TemporaryDirectory(prefix="kpi-chromium-") as profile:
        command = [str(find_chromium()), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise BrowserError(f"Chromium did not finish within {timeout_s:.0f}s: {' '.join(command)}") from None
    if done.returncode != 0:
        raise BrowserError(f"Chromium exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def dump_dom(url: str, timeout_s: float = 60.0) -> str:
    """The page's serialized DOM after its scripts ran (a URL hash such as #metric=…&day=… is honoured)."""
    return _run([f"--virtual-time-budget={VIRTUAL_TIME_MS}", "--dump-dom", url], timeout_s)


def screenshot(url: str, png: Path, width: int = 1400, height: int = 2000, timeout_s: float = 60.0) -> Path:
    """A PNG of the page's first `height` pixels at `width` CSS pixels."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [f"--virtual-time-budget={VIRTUAL_TIME_MS}", f"--window-size={width},{height}", f"--screenshot={png}", url],
        timeout_s,
    )
    if not png.is_file() or png.stat().st_size == 0:
        raise BrowserError(f"Chromium wrote no screenshot to {png}")
    return png
