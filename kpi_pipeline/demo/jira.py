"""The demo's Jira: pages of `/rest/api/3/search/jql` responses, streamed one page at a time.

Issues come with `expand=changelog` histories (status, resolution, Story Points, Sprint) consistent with
their final fields, v3 ADF comments and descriptions, and `+0000` timestamps. Three OPS tracking issues carry
the planted KPI comments; the rest is ordinary project work.
"""

from __future__ import annotations

import base64
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from kpi_pipeline.demo.company import JIRA_SITE, Company, JiraProject, Person
from kpi_pipeline.demo.kpis import QUARTER_DAYS
from kpi_pipeline.demo.plan import Plan, Statement
from kpi_pipeline.demo.slack import CUSTOMERS, FEATURES, SERVICES

PAGE_SIZE = 100
ISSUES_PER_SCALE = 600  # filler issues per scale step and quarter (92 days)
EXPORTED_AT = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
FIRST_ISSUE_ID = 10001
STORY_POINTS = "customfield_10016"
SPRINT = "customfield_10020"
NAMES = {
    "summary": "Summary",
    "issuetype": "Issue Type",
    "project": "Project",
    "status": "Status",
    "priority": "Priority",
    "assignee": "Assignee",
    "reporter": "Reporter",
    "labels": "Labels",
    "created": "Created",
    "updated": "Updated",
    "resolution": "Resolution",
    "resolutiondate": "Resolved",
    "description": "Description",
    "comment": "Comment",
    STORY_POINTS: "Story Points",
    SPRINT: "Sprint",
}
CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
STATUSES = {  # name -> (id, category)
    "To Do": ("10000", "new"),
    "In Progress": ("3", "indeterminate"),
    "In Review": ("10001", "indeterminate"),
    "Done": ("10002", "done"),
    "Won't Do": ("10003", "done"),
}
WORKFLOW = ("To Do", "In Progress", "In Review", "Done")
PRIORITIES = (("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"))
RESOLUTIONS = {"Done": ("10000", "Done"), "Won't Do": ("10001", "Won't Do")}
SUMMARIES = {
    "Story": (
        "Add {feature} to the {service} settings page",
        "Support {feature} for {customer}",
        "Let admins manage {feature}",
        "Expose {feature} in the public API",
    ),
    "Bug": (
        "{service} returns 500 when {feature} is disabled",
        "Timeout in {service} during bulk export",
        "{feature} page breaks on Safari",
        "Duplicate emails from {service} after retry",
    ),
    "Task": (
        "Upgrade {service} to the new runtime",
        "Rotate {service} credentials",
        "Write runbook for {service}",
        "Clean up feature flags in {service}",
    ),
}
COMMENTS = (
    "Picked this up, will have a PR today.",
    "Can we get a repro on staging first?",
    "PR is up for review.",
    "Blocked on the {service} deploy freeze.",
    "Moved to next sprint, not enough capacity.",
    "{customer} asked about this again.",
    "Tested on staging, looks good.",
    "Closing, fixed by the {service} change.",
    "Added acceptance criteria.",
    "Pairing with the {service} owners tomorrow.",
)
TRACKING_ISSUES = {
    "OPS-1": ("Task", "Reliability numbers - Q3 tracking", "Daily reliability readings for the Q3 OKR review."),
    "OPS-2": ("Task", "P1 bug triage - Q3", "Triage notes and open P1 counts."),
    "OPS-3": ("Task", "Support queue health - Q3", "Support responsiveness readings."),
}


def jira_time(moment: datetime) -> str:
    """Jira's timestamp format: 2026-07-03T10:15:00.000+0000."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def adf(text: str) -> dict[str, Any]:
    """Atlassian Document Format: one paragraph per line."""
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in text.split("\n")],
    }


def _user(person: Person) -> dict[str, Any]:
    return {
        "self": f"{JIRA_SITE}/rest/api/3/user?accountId={person.account_id}",
        "accountId": person.account_id,
        "displayName": person.real_name,
        "active": True,
        "timeZone": "Etc/UTC",
        "accountType": "atlassian",
    }


def _status(name: str) -> dict[str, Any]:
    status_id, category = STATUSES[name]
    return {
        "self": f"{JIRA_SITE}/rest/api/3/status/{status_id}",
        "id": status_id,
        "name": name,
        "statusCategory": {
            "self": f"{JIRA_SITE}/rest/api/3/statuscategory/{CATEGORIES[category]['id']}",
            **CATEGORIES[category],
        },
    }


@dataclass(frozen=True)
class Sprint:
    sprint_id: int
    name: str
    board_id: int
    start: datetime
    end: datetime

    def as_field(self) -> dict[str, Any]:
        state = "closed" if self.end <= EXPORTED_AT else "active" if self.start <= EXPORTED_AT else "future"
        out: dict[str, Any] = {
            "id": self.sprint_id,
            "name": self.name,
            "state": state,
            "boardId": self.board_id,
            "goal": "",
            "startDate": jira_time(self.start),
            "endDate": jira_time(self.end),
        }
        if state == "closed":
            out["completeDate"] = jira_time(self.end)
        return out


def _sprints(project: JiraProject, index: int, first_day: date) -> list[Sprint]:
    """Two-week sprints per project board into October, the first starting two weeks or more before `first_day`
    (mid-June for the demo quarter)."""
    first = datetime(2026, 6, 15, 9, tzinfo=UTC)
    earlier = -(-(first.date() - first_day + timedelta(days=16)).days // 14)  # sprints before mid-June
    return [
        Sprint(
            100 * (index + 1) + n,
            f"{project.key} Sprint {20 + n}",
            index + 1,
            first + timedelta(weeks=2 * n),
            first + timedelta(weeks=2 * n + 2),
        )
        for n in range(-max(0, earlier), 9)
    ]


@dataclass
class _Issue:
    """An issue being built: its events accumulate, then `as_json` renders the final state."""

    issue_id: int
    key: str
    project: JiraProject
    issue_type: str
    summary: str
    description: str
    priority: tuple[str, str]
    reporter: Person
    assignee: Person | None
    labels: list[str]
    created: datetime
    histories: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    status: str = "To Do"
    points: float | None = None
    sprint: Sprint | None = None
    resolved: datetime | None = None

    def change(self, when: datetime, author: Person, items: list[dict[str, Any]]) -> None:
        history_id = self.issue_id * 10000 + 5000 + len(self.histories)
        self.histories.append(
            {"id": str(history_id), "author": _user(author), "created": jira_time(when), "items": items}
        )

    def comment(self, when: datetime, author: Person, text: str) -> None:
        comment_id = self.issue_id * 10000 + len(self.comments)
        self.comments.append(
            {
                "self": f"{JIRA_SITE}/rest/api/3/issue/{self.issue_id}/comment/{comment_id}",
                "id": str(comment_id),
                "author": _user(author),
                "body": adf(text),
                "updateAuthor": _user(author),
                "created": jira_time(when),
                "updated": jira_time(when),
                "jsdPublic": True,
            }
        )

    def as_json(self) -> dict[str, Any]:
        self.comments.sort(key=lambda c: c["created"])
        self.histories.sort(key=lambda h: h["created"])
        stamps = (
            [jira_time(self.created)] + [h["created"] for h in self.histories] + [c["created"] for c in self.comments]
        )
        resolution = RESOLUTIONS.get(self.status)
        fields = {
            "summary": self.summary,
            "issuetype": {
                "id": str(10000 + list(SUMMARIES).index(self.issue_type)),
                "name": self.issue_type,
                "subtask": False,
            },
            "project": {"id": self.project.project_id, "key": self.project.key, "name": self.project.name},
            "status": _status(self.status),
            "priority": {"id": self.priority[0], "name": self.priority[1]},
            "assignee": _user(self.assignee) if self.assignee else None,
            "reporter": _user(self.reporter),
            "labels": self.labels,
            "created": jira_time(self.created),
            "updated": max(stamps),
            "resolution": {"id": resolution[0], "name": resolution[1]} if resolution else None,
            "resolutiondate": jira_time(self.resolved) if self.resolved else None,
            "description": adf(self.description),
            "comment": {
                "comments": self.comments,
                "maxResults": len(self.comments),
                "total": len(self.comments),
                "startAt": 0,
            },
            STORY_POINTS: self.points,
            SPRINT: [self.sprint.as_field()] if self.sprint else None,
        }
        return {
            "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
            "id": str(self.issue_id),
            "self": f"{JIRA_SITE}/rest/api/3/issue/{self.issue_id}",
            "key": self.key,
            "fields": fields,
            "changelog": {
                "startAt": 0,
                "maxResults": len(self.histories),
                "total": len(self.histories),
                "histories": self.histories,
            },
        }


def _item(field_name: str, field_id: str, from_: Any, from_s: Any, to: Any, to_s: Any) -> dict[str, Any]:
    fieldtype = "custom" if field_id.startswith("customfield_") else "jira"
    return {
        "field": field_name,
        "fieldtype": fieldtype,
        "fieldId": field_id,
        "from": from_,
        "fromString": from_s,
        "to": to,
        "toString": to_s,
    }


def _transition(issue: _Issue, when: datetime, author: Person, to: str) -> None:
    items = [_item("status", "status", STATUSES[issue.status][0], issue.status, STATUSES[to][0], to)]
    if to in RESOLUTIONS:
        items.append(_item("resolution", "resolution", None, None, *RESOLUTIONS[to]))
        issue.resolved = when
    issue.change(when, author, items)
    issue.status = to


def _fill(template: str, rng: random.Random) -> str:
    return template.format(feature=rng.choice(FEATURES), service=rng.choice(SERVICES), customer=rng.choice(CUSTOMERS))


@dataclass(frozen=True)
class JiraStats:
    issues: int
    pages: int
    comments: int


class JiraWriter:
    def __init__(self, out: Path, company: Company, plan: Plan, seed: int, scale: int):
        self.out = out
        self.company = company
        self.seed = seed
        self.days = plan.days
        self.filler_issues = ISSUES_PER_SCALE * scale * len(plan.days) // QUARTER_DAYS
        self.planted: dict[str, list[Statement]] = defaultdict(list)
        for plant in plan.plants:
            for s in plant.statements:
                if s.source_type == "jira":
                    self.planted[s.place].append(s)
        self.sprints = {p.key: _sprints(p, i, plan.days[0]) for i, p in enumerate(company.projects)}

    def write(self) -> JiraStats:
        self.out.mkdir(parents=True, exist_ok=True)
        total = len(TRACKING_ISSUES) + self.filler_issues
        pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
        page: list[dict[str, Any]] = []
        page_no = comments = 0
        for issue in self._issues():
            page.append(issue)
            comments += len(issue["fields"]["comment"]["comments"])
            if len(page) == PAGE_SIZE:
                page_no += 1
                self._write_page(page_no, pages, page)
                page = []
        if page:
            page_no += 1
            self._write_page(page_no, pages, page)
        return JiraStats(total, pages, comments)

    def _write_page(self, page_no: int, pages: int, issues: list[dict[str, Any]]) -> None:
        body: dict[str, Any] = {"issues": issues}
        if page_no < pages:  # like Jira Cloud, the last page has no token at all
            body["nextPageToken"] = base64.urlsafe_b64encode(f"demo:{self.seed}:{page_no + 1}".encode()).decode()
        body["isLast"] = page_no == pages
        body["names"] = NAMES
        (self.out / f"search-{page_no:05d}.json").write_text(json.dumps(body))

    def _issues(self) -> Any:
        ops = self.company.projects[0]
        platform = self.company.team("platform")
        for n, (key, (issue_type, summary, description)) in enumerate(TRACKING_ISSUES.items()):
            created = datetime.combine(self.days[0] - timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=9)
            issue = _Issue(
                FIRST_ISSUE_ID + n,
                key,
                ops,
                issue_type,
                summary,
                description,
                PRIORITIES[2],
                platform[0],
                platform[n + 1],
                ["okr", "q3"],
                created,
            )
            _transition(issue, created + timedelta(minutes=5), platform[0], "In Progress")
            for s in sorted(self.planted.get(key, []), key=lambda s: (s.day, s.second)):
                when = datetime.combine(s.day, datetime.min.time(), UTC) + timedelta(seconds=s.second)
                issue.comment(when, self.company.person(s.author), s.text)
            yield issue.as_json()
        counters: dict[str, int] = defaultdict(int)
        projects = [p for p in self.company.projects if p.weight]
        rng = random.Random(f"jira:{self.seed}")
        for i in range(self.filler_issues):
            project = rng.choices(projects, [p.weight for p in projects])[0]
            counters[project.key] += 1
            key = f"{project.key}-{counters[project.key]}"
            yield self._filler_issue(FIRST_ISSUE_ID + len(TRACKING_ISSUES) + i, key, project, rng).as_json()

    def _filler_issue(self, issue_id: int, key: str, project: JiraProject, rng: random.Random) -> _Issue:
        team = self.company.team(project.team)
        issue_type = rng.choices(list(SUMMARIES), (45, 30, 25))[0]
        opened_from = datetime.combine(self.days[0] - timedelta(days=11), datetime.min.time(), UTC)
        created = opened_from + timedelta(seconds=rng.randrange(0, (len(self.days) + 8) * 86400))
        reporter = rng.choice(team)
        assignee = rng.choice(team) if rng.random() < 0.85 else None
        priority = rng.choices(PRIORITIES, (5, 20, 55, 20))[0]
        labels = sorted(
            rng.sample(("backend", "frontend", "customer", "tech-debt", "security", "perf"), rng.randrange(0, 3))
        )
        summary = _fill(rng.choice(SUMMARIES[issue_type]), rng)
        description = f"{summary}.\nContext: reported by {rng.choice(CUSTOMERS)}; see the linked Slack thread."
        issue = _Issue(
            issue_id, key, project, issue_type, summary, description, priority, reporter, assignee, labels, created
        )
        actor = assignee or reporter
        when = created + timedelta(minutes=rng.randrange(5, 240))
        if issue_type != "Bug" or rng.random() < 0.4:
            issue.points = float(rng.choice((1, 2, 3, 5, 8, 13)))
            issue.change(when, reporter, [_item("Story Points", STORY_POINTS, None, None, None, f"{issue.points:g}")])
        sprint = next((s for s in self.sprints[project.key] if s.start <= when < s.end), None)
        if sprint and rng.random() < 0.8:
            issue.sprint = sprint
            issue.change(
                when + timedelta(minutes=1),
                reporter,
                [_item("Sprint", SPRINT, "", "", str(sprint.sprint_id), sprint.name)],
            )
        if rng.random() < 0.05:
            _transition(issue, when + timedelta(hours=rng.randrange(2, 200)), reporter, "Won't Do")
        else:
            for status in WORKFLOW[1:]:
                when += timedelta(hours=rng.expovariate(1 / 40))
                if when >= EXPORTED_AT or rng.random() < 0.12:
                    break
                if status == "In Review" and issue.points is not None and rng.random() < 0.15:
                    new_points = float(rng.choice((2, 3, 5, 8)))
                    issue.change(
                        when - timedelta(minutes=30),
                        actor,
                        [_item("Story Points", STORY_POINTS, None, f"{issue.points:g}", None, f"{new_points:g}")],
                    )
                    issue.points = new_points
                _transition(issue, when, actor, status)
        for _ in range(rng.choices((0, 1, 2, 3, 4), (20, 30, 25, 15, 10))[0]):
            moment = created + timedelta(seconds=rng.randrange(600, 20 * 86400))
            if moment < EXPORTED_AT:
                issue.comment(moment, rng.choice(team), _fill(rng.choice(COMMENTS), rng))
        return issue
