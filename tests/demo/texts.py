"""Reading a generated demo dataset back: the text of each source type on each day."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path

from kpi_pipeline.sources.docs import folder_docs


def texts_by_day(out_dir: Path) -> dict[tuple[str, date], str]:
    """All text of a source type on a day in a generated dataset: Slack messages, Jira comments, doc bodies."""
    texts: dict[tuple[str, date], list[str]] = defaultdict(list)
    for path in (out_dir / "slack").glob("*/*.json"):
        texts[("slack", date.fromisoformat(path.stem))] += [m["text"] for m in json.loads(path.read_text())]
    for page in sorted((out_dir / "jira").glob("*.json")):
        for issue in json.loads(page.read_text())["issues"]:
            for c in issue["fields"]["comment"]["comments"]:
                text = "\n".join(p["content"][0]["text"] for p in c["body"]["content"])
                texts[("jira", date.fromisoformat(c["created"][:10]))].append(text)
    for row in folder_docs(out_dir / "docs"):
        texts[("docs", row["day"])].append(row["text"])
    return {key: "\n".join(values) for key, values in texts.items()}
