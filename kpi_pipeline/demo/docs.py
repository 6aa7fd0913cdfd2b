"""The demo's docs folder: weekly status reports, business reviews, survey summaries, postmortems and notes.

Every file has front matter with `title:` and `date:`. KPI lines come from the plan; the prose around them
holds distractor numbers (incident durations, response counts, CSAT) that are not catalog metrics.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from kpi_pipeline.demo.company import Company, Person
from kpi_pipeline.demo.more_kpis import ALL_KPIS
from kpi_pipeline.demo.phrasing import PhrasingSet
from kpi_pipeline.demo.plan import Plan, Statement
from kpi_pipeline.demo.slack import CUSTOMERS, FEATURES, SERVICES

HIGHLIGHTS = (
    "Shipped {feature} to all customers",
    "{customer} signed a two-year renewal",
    "Finished the {service} database migration",
    "Started the {feature} beta with five design partners",
    "Hired two engineers for the {service} team",
    "Closed the security review for {feature}",
)
RISKS = (
    "{service} on-call load is still high",
    "{feature} depends on a vendor API that is in beta",
    "Hiring for the {service} team is behind plan",
    "{customer} is evaluating a competitor",
)
CAUSES = (
    "a connection pool exhausted by a slow query in {service}",
    "an expired TLS certificate on the {service} load balancer",
    "a bad config push to {service}",
    "a noisy neighbour on the {service} database host",
)
ORDER = {k.id: i for i, k in enumerate(ALL_KPIS)}


@dataclass(frozen=True)
class DocsStats:
    files: int


def _fill(template: str, rng: random.Random) -> str:
    return template.format(feature=rng.choice(FEATURES), service=rng.choice(SERVICES), customer=rng.choice(CUSTOMERS))


def _front_matter(title: str, day: date, author: Person) -> str:
    # titles are JSON-quoted, which is valid YAML whatever punctuation they hold
    return f"---\ntitle: {json.dumps(title)}\ndate: {day.isoformat()}\nauthor: {author.real_name}\n---\n\n"


class DocsWriter:
    def __init__(self, out: Path, company: Company, plan: Plan, phrasing: PhrasingSet, seed: int, scale: int):
        self.out = out
        self.company = company
        self.plan = plan
        self.phrasing = phrasing
        self.seed = seed
        self.scale = scale
        self.lines: dict[tuple[str, date], list[tuple[str, Statement]]] = defaultdict(list)
        for p in plan.plants:
            for s in p.statements:
                if s.source_type == "docs":
                    self.lines[(s.place, s.day)].append((p.metric_id, s))

    def write(self) -> DocsStats:
        files = 0
        rng = random.Random(f"docs:{self.seed}")
        leaders = self.company.team("leadership")
        for place, days in self.plan.doc_days.items():
            for day in days:
                self._write(*self._doc(place, day, rng), rng.choice(leaders), day)
                files += 1
        for day in self.plan.days:
            if day.weekday() == 1:
                self._write(
                    f"notes/{day.isoformat()}-eng-sync.md",
                    "Engineering sync",
                    self._notes(rng),
                    rng.choice(self.company.team("platform")),
                    day,
                )
                files += 1
                for squad in range(3 * (self.scale - 1)):
                    team = self.company.team(f"squad{squad + 1:03d}")
                    self._write(
                        f"notes/squads/squad-{squad + 1:03d}/{day.isoformat()}.md",
                        f"Squad {squad + 1} weekly notes",
                        self._notes(rng),
                        team[0],
                        day,
                    )
                    files += 1
        return DocsStats(files)

    def _write(self, path: str, title: str, body: str, author: Person, day: date) -> None:
        target = self.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_front_matter(title, day, author) + body)

    def _metrics(self, place: str, day: date) -> str:
        lines = sorted(self.lines.get((place, day), []), key=lambda item: ORDER[item[0]])
        return self.phrasing.docs_header + "".join(s.text + "\n" for _, s in lines)

    def _doc(self, place: str, day: date, rng: random.Random) -> tuple[str, str, str]:
        """(path, title, body) of one scheduled document."""
        stamp = day.isoformat()
        bullets = "".join(f"- {_fill(t, rng)}\n" for t in rng.sample(HIGHLIGHTS, 3))
        if place == "status":
            monday = day - timedelta(days=day.weekday())
            risks = "".join(f"- {_fill(t, rng)}\n" for t in rng.sample(RISKS, 2))
            body = (
                f"# Weekly status, week of {monday:%B} {monday.day}\n\n## Highlights\n\n{bullets}\n"
                f"{self._metrics(place, day)}\n## Risks\n\n{risks}\n## Next week\n\n"
                f"- Roadmap review for {rng.choice(FEATURES)}\n"
            )
            return f"status/{stamp}-weekly-status.md", f"Weekly status - week of {monday.isoformat()}", body
        if place == "review":
            month = (day.replace(day=1) - timedelta(days=1)) if day.day < 15 else day
            title = f"Monthly business review - {month:%B %Y}"
            body = (
                f"# {title}\n\n## Wins\n\n{bullets}\n{self._metrics(place, day)}\n## Asks\n\n- Budget for two hires\n"
            )
            return f"reviews/{stamp}-business-review.md", title, body
        if place == "survey":
            responses, rate = rng.randrange(280, 520), rng.randrange(12, 25)
            csat = rng.choice(("4.3", "4.4", "4.5", "4.6"))
            title = f"Customer survey summary - {day:%B %Y}"
            body = (
                f"# {title}\n\nWe received {responses} responses this month (a {rate}% response rate). "
                f"CSAT was {csat} out of 5.\n\n{self._metrics(place, day)}\n## Themes\n\n"
                f"- Customers ask for {rng.choice(FEATURES)} and {rng.choice(FEATURES)}\n"
                f"- Praise for the support team's tone\n"
            )
            return f"surveys/{stamp}-customer-survey.md", title, body
        incident = max(d for d in self.plan.incident_days if d < day)
        service = rng.choice(SERVICES)
        duration = rng.randrange(20, 140)
        title = f"Postmortem: {service} degradation on {incident.isoformat()}"
        body = (
            f"# {title}\n\n## Summary\n\nOn {incident:%B} {incident.day}, {service} was degraded for {duration} "
            f"minutes because of {_fill(rng.choice(CAUSES), rng)}. About {rng.randrange(2, 40)} customers opened "
            f"tickets.\n\n## Timeline (UTC)\n\n- {rng.randrange(8, 12)}:{rng.randrange(10, 59)} alert fired\n"
            f"- {rng.randrange(12, 15)}:{rng.randrange(10, 59)} mitigated by rolling back\n\n"
            f"{self._metrics(place, day)}\n## Action items\n\n- Add a canary check for {service}\n"
        )
        return f"postmortems/{stamp}-{service}.md", title, body

    def _notes(self, rng: random.Random) -> str:
        items = "".join(f"- {_fill(t, rng)}\n" for t in rng.sample(HIGHLIGHTS + RISKS, 4))
        return f"# Notes\n\n## Discussed\n\n{items}\n## Decisions\n\n- Keep the {rng.choice(SERVICES)} freeze\n"
