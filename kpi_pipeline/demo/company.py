"""The demo company: people, bots, Slack channels and Jira projects.

The base company depends only on the seed, so the planted KPI readings (which name authors) are the same at
every scale; `scale` adds squads (people plus one channel each) on top for benchmark-sized workspaces.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

COMPANY = "Brightloop"
DOMAIN = "brightloop.io"
SLACK_TEAM_ID = "T0BRIGHT01"
JIRA_SITE = "https://brightloop.atlassian.net"

FIRST_NAMES = [
    "Priya",
    "Marcus",
    "Elena",
    "Tomás",
    "Aisha",
    "Jonas",
    "Mei",
    "Daniel",
    "Sofia",
    "Kwame",
    "Hannah",
    "Ravi",
    "Lucia",
    "Oren",
    "Fatima",
    "Ben",
    "Ingrid",
    "Mateo",
    "Yuki",
    "Grace",
    "Arjun",
    "Chloe",
    "Emeka",
    "Nina",
    "Felix",
    "Zara",
    "Leo",
    "Amara",
    "Viktor",
    "Isla",
    "Samir",
    "Noor",
    "Hugo",
    "Maya",
    "Kofi",
    "Astrid",
    "Diego",
    "Leila",
    "Pavel",
    "Rosa",
]
LAST_NAMES = [
    "Sharma",
    "Okafor",
    "Rossi",
    "Silva",
    "Haddad",
    "Berg",
    "Chen",
    "Novak",
    "Costa",
    "Mensah",
    "Weber",
    "Iyer",
    "Moreau",
    "Levi",
    "Rahman",
    "Carter",
    "Lund",
    "Alvarez",
    "Tanaka",
    "Obi",
    "Kapoor",
    "Dubois",
    "Eze",
    "Petrov",
    "Wagner",
    "Malik",
    "Fischer",
    "Diallo",
    "Ivanov",
    "Murphy",
    "Nasser",
    "Khan",
    "Laurent",
    "Park",
    "Boateng",
    "Nilsson",
    "Ortega",
    "Aziz",
    "Horvat",
    "Reyes",
]

# team -> (headcount, job titles cycled over its people)
TEAMS: dict[str, tuple[int, tuple[str, ...]]] = {
    "platform": (8, ("Staff Engineer", "SRE", "Backend Engineer", "Engineering Manager")),
    "web": (6, ("Frontend Engineer", "Full-stack Engineer", "Tech Lead")),
    "growth": (4, ("Growth PM", "Data Analyst", "Growth Engineer")),
    "product": (4, ("Product Manager", "Product Designer", "UX Researcher")),
    "support": (5, ("Support Lead", "Support Engineer", "Customer Success Manager")),
    "finance": (3, ("CFO", "Finance Analyst", "RevOps Manager")),
    "leadership": (3, ("CEO", "CTO", "VP Engineering")),
    "sales": (4, ("Account Executive", "Sales Engineer", "Head of Sales")),
}
NEW_HIRES = 5  # people who join during the quarter (channel_join messages)
SQUAD_SIZE = 12


@dataclass(frozen=True)
class Person:
    user_id: str  # Slack U… id
    account_id: str  # Jira accountId
    handle: str
    real_name: str
    title: str
    team: str


@dataclass(frozen=True)
class Bot:
    bot_id: str
    user_id: str
    name: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Channel:
    channel_id: str
    name: str
    purpose: str
    teams: tuple[str, ...]  # whose people are the regulars; empty means everyone
    weekday_messages: int  # top-level human messages on an ordinary weekday
    topic: str  # which filler vocabulary the channel speaks (see slack.FILLER)


@dataclass(frozen=True)
class JiraProject:
    project_id: str
    key: str
    name: str
    team: str
    weight: int  # share of the filler issues


@dataclass(frozen=True)
class Company:
    people: tuple[Person, ...]
    new_hires: tuple[tuple[Person, date], ...]
    bots: tuple[Bot, ...]
    channels: tuple[Channel, ...]
    projects: tuple[JiraProject, ...]

    def team(self, team: str) -> list[Person]:
        return [p for p in self.people if p.team == team]

    def regulars(self, channel: Channel) -> list[Person]:
        """People who write in the channel (new hires only join, they do not chat)."""
        if not channel.teams:
            return list(self.people)
        return [p for p in self.people if p.team in channel.teams]

    def person(self, user_id: str) -> Person:
        for p in self.people:
            if p.user_id == user_id:
                return p
        for p, _ in self.new_hires:
            if p.user_id == user_id:
                return p
        raise KeyError(user_id)


BASE_CHANNELS = (
    ("general", "Company-wide announcements and chatter", (), 12, "general"),
    ("random", "Non-work banter, pets and lunch", (), 10, "random"),
    (
        "engineering",
        "Engineering discussion, reviews and reliability numbers",
        ("platform", "web", "leadership"),
        25,
        "engineering",
    ),
    ("incidents", "Live incidents, paging and uptime", ("platform", "leadership", "support"), 8, "incidents"),
    ("deploys", "Release coordination and deploy counts", ("platform", "web"), 12, "deploys"),
    ("growth", "Funnel, activation and active users", ("growth", "product", "leadership"), 8, "growth"),
    ("product", "Roadmap, research and customer feedback", ("product", "web", "growth", "leadership"), 8, "product"),
    ("support", "Customer support queue", ("support", "product"), 14, "support"),
    ("finance", "Revenue, billing and churn", ("finance", "leadership", "sales"), 5, "finance"),
)
BASE_PROJECTS = (
    ("PLAT", "Platform", "platform", 35),
    ("WEB", "Web App", "web", 30),
    ("GROW", "Growth", "growth", 15),
    ("SUP", "Support Escalations", "support", 20),
)
TRACKING_PROJECT = ("OPS", "Operations", "platform", 0)


def _person(index: int, team: str, title: str, rng: random.Random) -> Person:
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index * 7 + rng.randrange(len(LAST_NAMES))) % len(LAST_NAMES)]
    suffix = "" if index < len(FIRST_NAMES) else str(index // len(FIRST_NAMES))
    return Person(
        user_id=f"U0{index + 0x1A000:07X}",
        account_id=f"712020:{index + 1:04d}-bl{rng.randrange(16**8):08x}",
        handle=f"{first.lower()}.{last.lower()}{suffix}".replace("á", "a"),
        real_name=f"{first} {last}",
        title=title,
        team=team,
    )


def build_company(seed: int, scale: int) -> Company:
    """People and channels; the base part is identical for every scale."""
    rng = random.Random(f"company:{seed}")
    people: list[Person] = []
    for team, (size, titles) in TEAMS.items():
        people.extend(_person(len(people), team, titles[i % len(titles)], rng) for i in range(size))
    hire_days = sorted(rng.sample(range(5, 85), NEW_HIRES))
    hire_teams = ("platform", "web", "support", "growth", "sales")
    new_hires = tuple(
        (_person(len(people) + i, team, TEAMS[team][1][0], rng), date.fromordinal(date(2026, 7, 1).toordinal() + d))
        for i, (team, d) in enumerate(zip(hire_teams, hire_days, strict=True))
    )
    channels = [Channel(f"C0{i + 0x2B000:07X}", *spec) for i, spec in enumerate(BASE_CHANNELS)]
    squad_rng = random.Random(f"squads:{seed}")
    next_index = len(people) + NEW_HIRES
    for squad in range(3 * (scale - 1)):
        team = f"squad{squad + 1:03d}"
        for i in range(SQUAD_SIZE):
            people.append(_person(next_index, team, ("Software Engineer", "Engineering Manager")[i == 0], squad_rng))
            next_index += 1
        channels.append(
            Channel(f"C1{squad:07X}", f"squad-{squad + 1:03d}", f"Squad {squad + 1} day-to-day", (team,), 34, "squad")
        )
    bots = (
        Bot("B0CIBOT01", "U0BOTCI001", "ci-bot", ("engineering", "deploys")),
        Bot("B0PAGER01", "U0BOTPG001", "pagerbot", ("incidents",)),
        Bot("B0ZENDK01", "U0BOTZD001", "zendesk", ("support",)),
        Bot("B0STRIPE1", "U0BOTST001", "billing-bot", ("finance",)),
    )
    projects = tuple(
        JiraProject(str(10000 + i), key, name, team, weight)
        for i, (key, name, team, weight) in enumerate((TRACKING_PROJECT, *BASE_PROJECTS))
    )
    return Company(tuple(people), new_hires, bots, tuple(channels), projects)
