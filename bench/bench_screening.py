"""CPU time of injection screening, redaction and number finding per text against another commit's code, as
interleaved pairs, and proof of identical results.

    .venv/bin/python bench/bench_screening.py                          # demo --scale 20, against main
    .venv/bin/python bench/bench_screening.py --base HEAD~2 --scale 20 --pairs 3

The texts are those extraction reads: every Slack message, Jira summary, description and comment text and docs
section (`split_sections`) of a demo generated once at `--scale`, plus the same of the real data fixtures
(tests/fixtures/realdata), each distinct text once. Each measurement is a fresh child process that times
`find_injections`, `find_private` and `find_quantities` over all of them, one function after the other
(`process_time`: other work on the machine shows in the load average, not in the figure). The base side runs
the package as `git archive BASE kpi_pipeline` exports it (PYTHONPATH first), in the same virtualenv; the pairs
alternate base, this tree. The bench fails unless both sides of every pair found the same hits, private values
and quantities (every field, spans included) in every text.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_extract_cpu import export

from kpi_pipeline.extraction.source_docs import split_sections

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT / "tests" / "fixtures" / "realdata"
FUNCTIONS = ("find_injections", "find_private", "find_quantities")
TEXT_KEYS = frozenset({"text", "body", "summary", "description"})  # Slack messages, Jira fields and ADF text nodes
CHILD = """
import pickle, sys, time
from dataclasses import astuple
from kpi_pipeline.extraction.injection import find_injections
from kpi_pipeline.extraction.numbers import find_quantities
from kpi_pipeline.extraction.redaction import find_private

texts_path, out = sys.argv[1:3]
with open(texts_path, "rb") as f:
    texts = pickle.load(f)
seconds, results = {}, {}
for function in (find_injections, find_private, find_quantities):
    started = time.process_time()
    found = [function(text) for text in texts]
    seconds[function.__name__] = time.process_time() - started
    results[function.__name__] = [[astuple(item) for item in items] for items in found]
with open(out, "wb") as f:
    pickle.dump(results, f)
print(" ".join(f"{name}={s}" for name, s in seconds.items()))
import kpi_pipeline; print(kpi_pipeline.__file__, file=sys.stderr)
"""


def _strings(value: Any) -> Iterator[str]:
    """The text fields of a Slack export or Jira API payload, nested ones (ADF paragraphs) included."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in TEXT_KEYS and isinstance(item, str):
                yield item
            else:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def texts_of(folder: Path) -> list[str]:
    """The texts under `folder`: JSON text fields and Markdown docs split into sections as extraction splits them."""
    texts: list[str] = []
    for path in sorted(folder.rglob("*.json")):
        texts.extend(_strings(json.loads(path.read_text(encoding="utf-8"))))
    for path in sorted(folder.rglob("*.md")):
        texts.extend(split_sections(path.read_text(encoding="utf-8")))
    return [t for t in dict.fromkeys(texts) if t.strip()]


def measure(code: Path | None, texts: Path, out: Path) -> dict[str, float]:
    """CPU seconds of each function over the texts in a fresh process running the package at `code` (None: this
    tree's)."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    # cwd outside any checkout: `python -c` puts the working directory first on sys.path, before PYTHONPATH
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(texts), str(out)], env=env, cwd=out.parent, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    origin = done.stderr.strip().splitlines()[-1]
    if not origin.startswith(str(code or ROOT)):
        raise SystemExit(f"the child ran {origin}, not the code under {code or ROOT}")
    return {name: float(s) for name, s in (item.split("=") for item in done.stdout.split())}


def differences(a: Path, b: Path, texts: list[str]) -> list[str]:
    """Per function, the first texts whose results differ between two children; empty: identical."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        left, right = pickle.load(fa), pickle.load(fb)
    differ = []
    for name in FUNCTIONS:
        differ += [
            f"{name}: {texts[i][:80]!r}" for i, (x, y) in enumerate(zip(left[name], right[name], strict=True)) if x != y
        ][:3]
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="main", help="git ref whose kpi_pipeline is the baseline")
    parser.add_argument("--scale", type=int, default=20, help="demo workspace size multiplier")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_screening_") as tmp:
        root = Path(tmp)
        dataset = root / "demo"
        subprocess.run(
            [sys.executable, "-m", "kpi_pipeline.demo", str(dataset), "--scale", str(args.scale)],
            check=True,
            capture_output=True,
        )
        demo, real = texts_of(dataset), texts_of(REALDATA)
        texts = list(dict.fromkeys([*demo, *real]))
        with open(root / "texts.pkl", "wb") as f:
            pickle.dump(texts, f)
        base = export(args.base, root / "base")
        chars = sum(map(len, texts)) / len(texts)
        print(f"{len(texts)} distinct texts ({len(demo)} of demo --scale {args.scale}, {len(real)} of realdata),")
        print(f"{chars:.0f} characters on average: CPU s per function over all of them")
        print(f"{'pair':>4} {'function':<16} {args.base[:12]:>12} {'this tree':>10} {'ratio':>6}  load 1 5 15")
        ratios: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
        differ: list[str] = []
        for pair in range(1, args.pairs + 1):
            old = measure(base, root / "texts.pkl", root / "base.pkl")
            new = measure(None, root / "texts.pkl", root / "new.pkl")
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            for name in FUNCTIONS:
                ratios[name].append(old[name] / new[name])
                print(
                    f"{pair:>4} {name:<16} {old[name]:>12.2f} {new[name]:>10.2f} {old[name] / new[name]:>5.1f}x  {load}"
                )
            differ += differences(root / "base.pkl", root / "new.pkl", texts)
            sys.stdout.flush()
        for name in FUNCTIONS:
            median = sorted(ratios[name])[len(ratios[name]) // 2]
            print(f"{name}: median {median:.1f}x over {args.pairs} pairs")
        print(time.ctime())
        print("results: identical" if not differ else "results DIFFER: " + json.dumps(differ[:10]))
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
