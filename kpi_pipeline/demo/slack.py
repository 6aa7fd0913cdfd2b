"""The demo's Slack workspace export, written one channel-day file at a time.

Layout of an official export: users.json, channels.json, one folder per channel name, one YYYY-MM-DD.json
per UTC day with the messages in ascending ts. Thread replies land in the file of their own day, so a
reply scheduled for a later day waits in `pending` until that day is written; nothing else is kept.
"""

from __future__ import annotations

import json
import random
import string
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from kpi_pipeline.demo.company import DOMAIN, SLACK_TEAM_ID, Channel, Company, Person
from kpi_pipeline.demo.plan import Plan, Statement

FILLER: dict[str, tuple[str, ...]] = {
    "general": (
        "Reminder: all-hands is on Thursday at {hour}:00 UTC, agenda in {doc}",
        "Welcome to the team {mention}! :wave:",
        "The office wifi is being swapped out this afternoon, expect a few blips",
        "Big thanks to {mention} for running the customer webinar yesterday :clap:",
        "Benefits enrollment closes Friday, details in {doc}",
        "Who's coming to the team dinner next week? :fork_and_knife:",
        "Reminder to submit expenses before month end",
        "New blog post is live: {blog}",
        "We closed a deal with {customer} today :tada:",
        "The {feature} launch went out, thanks everyone involved",
    ),
    "random": (
        "Anyone up for lunch at {food}?",
        "My {pet} just walked across my keyboard mid-standup :cat2:",
        "Coffee machine on floor 2 is fixed :coffee:",
        "Recommendations for a good mechanical keyboard?",
        "Happy birthday {mention}! :birthday:",
        "Just finished the Friday puzzle in {minutes_small} minutes, beat that",
        "Book club picks are in {doc}",
        "It's raining again :umbrella:",
    ),
    "engineering": (
        "{mention} can you take a look at {pr}? Small one",
        "merged {pr}, {service} tests are green again",
        "anyone else seeing flaky tests in {service}?",
        "I'll pair with {mention} on {ticket} after lunch",
        "heads up: {service} schema migration starts at {hour}:00 UTC",
        "reverted {pr}, it broke the {service} build",
        "RFC for the {feature} rewrite is up: {doc}",
        "is {service} still pinned to the old Postgres driver?",
        "the {service} on-call handoff notes are in {doc}",
        "opened {ticket} for the flaky {service} test, will look tomorrow",
        "{mention} thoughts on splitting {service} into two deployables?",
        "bumped the {service} dependencies, CI is running",
    ),
    "squad": (
        "standup notes are in {doc}",
        "{mention} can you review {pr}?",
        "picking up {ticket} next",
        "blocked on {ticket}, waiting for {mention}",
        "demo of {feature} on Thursday",
        "merged {pr} :shipit:",
        "retro action items: {doc}",
        "anyone know who owns {service}?",
    ),
    "incidents": (
        "investigating alerts on {service}, will update here",
        "{service} looks healthy again, keeping an eye on it",
        "paging {mention} for {service}, something is off with the queue",
        "incident channel for {ticket} is closed, postmortem draft in {doc}",
        "rolled back the {service} config change as a precaution",
        "runbook for {service} failover needs an update, opened {ticket}",
    ),
    "deploys": (
        "deploying {service} now :rocket:",
        "{service} release is out, watching {dashboard}",
        "holding deploys for {service} until {pr} lands",
        "canary for {service} looks good, promoting",
        "deploy freeze starts Friday at {hour}:00 UTC for the {feature} launch",
        "{mention} your {service} deploy is waiting for approval",
    ),
    "growth": (
        "new landing page variant for {feature} is live",
        "A/B test on the pricing page is ramping up, readout next week",
        "{mention} can you pull the cohort breakdown for {customer}?",
        "the onboarding email sequence copy is in {doc}",
        "webinar signups look healthy for next week",
        "experiment brief for {feature}: {doc}",
    ),
    "product": (
        "customer interview notes from {customer}: {doc}",
        "{feature} spec is ready for review: {doc}",
        "roadmap review moved to Wednesday",
        "{mention} can you share the latest designs for {feature}?",
        "feedback from {customer} on {feature}: they love it, want SSO next",
        "usability test sessions for {feature} booked for next week",
    ),
    "support": (
        "{customer} is asking about {feature}, anyone know the ETA?",
        "escalated {ticket} to engineering, {mention} has context",
        "macro for password resets updated",
        "{mention} can you cover the queue during lunch?",
        "{customer} reports slow exports again, linked {ticket}",
        "help center article for {feature} is live: {doc}",
    ),
    "finance": (
        "invoice run for {customer} is done",
        "board deck draft is in {doc}",
        "{mention} can you check the renewal terms for {customer}?",
        "Q3 budget review is on the calendar for next week",
        "{customer} upgraded to the Business plan :moneybag:",
        "payment failed for {customer}, dunning email went out",
    ),
}
REPLIES = (
    "+1",
    "on it",
    "thanks {mention}!",
    "looking now",
    "done :white_check_mark:",
    "good catch",
    "LGTM",
    "will do after standup",
    "merged",
    "can we sync at {hour}?",
    "agreed",
    "I'll take it",
    ":eyes:",
    "same here",
    "fixed in {pr}",
    "makes sense",
    "let's discuss in the retro",
    "ack",
)
BOT_TEXT: dict[str, tuple[str, ...]] = {
    "ci-bot": ("Build #{build} passed on `main` ({service})", "Build #{build} failed on `main` ({service}) - see {pr}"),
    "pagerbot": ("[RESOLVED] HighCPU on {service}-{node}", "[FIRING] DiskPressure on {service}-{node}"),
    "zendesk": ("New ticket #{build}: {customer} - question about {feature}", "Ticket #{build} solved"),
    "billing-bot": ("New subscription: {customer} on the Team plan", "Invoice paid: {customer}"),
}
BOT_MESSAGES_PER_WEEKDAY = {"ci-bot": 9, "pagerbot": 3, "zendesk": 8, "billing-bot": 3}
SERVICES = ("api-gateway", "billing", "search", "auth", "notifications", "exports", "web-app", "ingest")
FEATURES = ("SSO", "audit log", "bulk export", "usage alerts", "dark mode", "team workspaces", "webhooks", "API keys")
CUSTOMERS = ("Northwind", "Globex", "Initech", "Umbrella Health", "Soylent", "Hooli", "Vandelay", "Stark Logistics")
FOODS = ("the ramen place", "Taqueria Luz", "the salad bar", "Falafel House")
PETS = ("cat", "dog", "parrot")
EMOJI = ("+1", "eyes", "tada", "white_check_mark", "raised_hands", "rocket", "pray", "joy", "100", "heart")
WEEKEND_SHARE = 0.15
THREAD_SHARE = 0.18


@dataclass(frozen=True)
class SlackStats:
    channels: int
    messages: int
    day_files: int


@lru_cache(maxsize=512)
def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _fields(template: str) -> tuple[str, ...]:
    """Slot names in template order: the random draws then happen in the same order in every process."""
    return tuple(dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(template) if name))


_TEMPLATE_FIELDS = {t: _fields(t) for ts in (*FILLER.values(), REPLIES, *BOT_TEXT.values()) for t in ts}


def _slot(name: str, rng: random.Random, people: list[Person]) -> str:
    if name == "mention":
        return f"<@{rng.choice(people).user_id}>"
    if name == "pr":
        n = rng.randrange(1200, 9800)
        return f"<https://github.com/brightloop/{rng.choice(SERVICES)}/pull/{n}|#{n}>"
    if name == "ticket":
        key = f"{rng.choice(('PLAT', 'WEB', 'GROW', 'SUP'))}-{rng.randrange(1, 600)}"
        return f"<https://brightloop.atlassian.net/browse/{key}|{key}>"
    if name == "doc":
        return f"<https://docs.{DOMAIN}/d/{rng.getrandbits(32):08x}|the doc>"
    if name == "dashboard":
        return f"<https://grafana.{DOMAIN}/d/{rng.choice(SERVICES)}|the dashboard>"
    if name == "blog":
        return (
            f"<https://{DOMAIN}/blog/{rng.choice(FEATURES).lower().replace(' ', '-')}|{rng.choice(FEATURES)} is here>"
        )
    choices: dict[str, tuple[str, ...]] = {
        "service": SERVICES,
        "feature": FEATURES,
        "customer": CUSTOMERS,
        "food": FOODS,
        "pet": PETS,
    }
    if name in choices:
        return rng.choice(choices[name])
    if name == "hour":
        return str(rng.randrange(9, 18))
    if name == "minutes_small":
        return str(rng.randrange(3, 15))
    if name == "build":
        return str(rng.randrange(10000, 99999))
    if name == "node":
        return str(rng.randrange(1, 12))
    raise KeyError(name)


def _fill(template: str, rng: random.Random, people: list[Person]) -> str:
    return template.format(**{name: _slot(name, rng, people) for name in _TEMPLATE_FIELDS[template]})


class _ChannelClock:
    """Unique, ascending ts strings per channel: the microsecond part counts messages in the channel."""

    def __init__(self) -> None:
        self.count = 0

    def ts(self, day: date, second: int) -> str:
        self.count += 1
        return f"{_epoch(day) + second}.{(self.count % 9999 + 1) * 100:06d}"


def _user_message(ts: str, person: Person, text: str) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "user": person.user_id, "text": text, "team": SLACK_TEAM_ID}


def _decorate(msg: dict[str, Any], rng: random.Random, people: list[Person]) -> None:
    """Some messages get reactions or an edit, as real ones do."""
    bits = f"{rng.getrandbits(128):032x}"
    msg["client_msg_id"] = f"{bits[:8]}-{bits[8:12]}-4{bits[13:16]}-a{bits[17:20]}-{bits[20:]}"
    if rng.random() < 0.06:
        seconds, _, micro = msg["ts"].partition(".")
        msg["edited"] = {"user": msg["user"], "ts": f"{int(seconds) + rng.randrange(20, 900)}.{micro}"}
    if rng.random() < 0.2:
        reactions = []
        for name in rng.sample(EMOJI, rng.randrange(1, 3)):
            users = sorted({p.user_id for p in rng.sample(people, min(len(people), rng.randrange(1, 5)))})
            reactions.append({"name": name, "users": users, "count": len(users)})
        msg["reactions"] = reactions


def _thread(parent: dict[str, Any], replies: list[dict[str, Any]]) -> None:
    reply_users = list(dict.fromkeys(r["user"] for r in replies))
    parent.update(
        thread_ts=parent["ts"],
        reply_count=len(replies),
        reply_users_count=len(reply_users),
        reply_users=reply_users,
        latest_reply=replies[-1]["ts"],
        replies=[{"user": r["user"], "ts": r["ts"]} for r in replies],
    )
    for r in replies:
        r.update(thread_ts=parent["ts"], parent_user_id=parent["user"])


def _day_of(ts: str) -> date:
    return datetime.fromtimestamp(int(ts.partition(".")[0]), UTC).date()


class SlackWriter:
    def __init__(self, out: Path, company: Company, plan: Plan, seed: int):
        self.out = out
        self.company = company
        self.seed = seed
        self.days = plan.days
        self.clocks = {c.name: _ChannelClock() for c in company.channels}
        self.regulars = {c.name: company.regulars(c) for c in company.channels}
        self.pending: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
        self.planted: dict[tuple[str, date], list[Statement]] = defaultdict(list)
        self.questions: dict[tuple[str, date], list[Statement]] = defaultdict(list)
        for plant in plan.plants:
            for s in plant.statements:
                if s.source_type != "slack":
                    continue
                if s.question and s.question_day:
                    self.questions[(s.place, s.question_day)].append(s)
                else:
                    self.planted[(s.place, s.day)].append(s)

    def write(self) -> SlackStats:
        self.out.mkdir(parents=True, exist_ok=True)
        self._write_json(self.out / "users.json", self._users())
        self._write_json(self.out / "channels.json", self._channels())
        messages = files = 0
        for channel in self.company.channels:
            (self.out / channel.name).mkdir(exist_ok=True)
        for day in self.days:
            for channel in self.company.channels:
                day_messages = self._channel_day(channel, day)
                if day_messages:
                    day_messages.sort(key=lambda m: m["ts"])
                    (self.out / channel.name / f"{day.isoformat()}.json").write_text(json.dumps(day_messages))
                    messages += len(day_messages)
                    files += 1
        return SlackStats(len(self.company.channels), messages, files)

    @staticmethod
    def _write_json(path: Path, data: Any) -> None:
        path.write_text(json.dumps(data, indent=2) + "\n")

    def _channel_day(self, channel: Channel, day: date) -> list[dict[str, Any]]:
        rng = random.Random(f"slack:{self.seed}:{channel.name}:{day.isoformat()}")
        people = self.regulars[channel.name]
        clock = self.clocks[channel.name]
        out = self.pending.pop((channel.name, day), [])
        weekday = day.weekday() < 5
        expected = channel.weekday_messages * (1.0 if weekday else WEEKEND_SHARE)
        for _ in range(max(0, round(rng.gauss(expected, expected**0.5 * 0.6)))):
            second = rng.randrange(7 * 3600, 20 * 3600) if weekday else rng.randrange(10 * 3600, 22 * 3600)
            text = _fill(rng.choice(FILLER[channel.topic]), rng, people)
            msg = _user_message(clock.ts(day, second), rng.choice(people), text)
            _decorate(msg, rng, people)
            out.append(msg)
            if rng.random() < THREAD_SHARE:
                self._add_replies(channel, msg, rng, people, day, second, out)
        out.extend(self._bots(channel, day, rng, people))
        out.extend(self._joins(channel, day, rng))
        for s in self.planted.get((channel.name, day), []):
            msg = _user_message(clock.ts(day, s.second), self.company.person(s.author), s.text)
            _decorate(msg, rng, people)
            msg.pop("edited", None)  # a planted reading is never silently rewritten
            out.append(msg)
        for s in self.questions.get((channel.name, day), []):
            asker = rng.choice([p for p in people if p.user_id != s.author] or people)
            parent = _user_message(clock.ts(day, s.question_second), asker, s.question or "")
            reply = _user_message(clock.ts(s.day, s.second), self.company.person(s.author), s.text)
            _thread(parent, [reply])
            out.append(parent)
            (out if s.day == day else self.pending[(channel.name, s.day)]).append(reply)
        return out

    def _add_replies(
        self,
        channel: Channel,
        parent: dict[str, Any],
        rng: random.Random,
        people: list[Person],
        day: date,
        second: int,
        out: list[dict[str, Any]],
    ) -> None:
        """1-5 replies, minutes to hours apart; late ones fall on later days (never past the dataset's last)."""
        clock = self.clocks[channel.name]
        replies = []
        at = second
        for _ in range(rng.randrange(1, 6)):
            at += rng.randrange(120, 6 * 3600 if rng.random() < 0.3 else 1800)
            reply_day = date.fromordinal(day.toordinal() + at // 86400)
            if reply_day > self.days[-1]:
                break
            text = _fill(rng.choice(REPLIES), rng, people)
            reply = _user_message(clock.ts(reply_day, at % 86400), rng.choice(people), text)
            _decorate(reply, rng, people)
            replies.append((reply_day, reply))
        if not replies:
            return
        _thread(parent, [reply for _, reply in replies])
        for reply_day, reply in replies:
            (out if reply_day == day else self.pending[(channel.name, reply_day)]).append(reply)

    def _bots(self, channel: Channel, day: date, rng: random.Random, people: list[Person]) -> list[dict[str, Any]]:
        clock = self.clocks[channel.name]
        out = []
        for bot in self.company.bots:
            if channel.name not in bot.channels:
                continue
            expected = BOT_MESSAGES_PER_WEEKDAY[bot.name] * (1.0 if day.weekday() < 5 else WEEKEND_SHARE)
            for _ in range(max(0, round(rng.gauss(expected, expected**0.5)))):
                ts = clock.ts(day, rng.randrange(0, 86400))
                text = _fill(rng.choice(BOT_TEXT[bot.name]), rng, people)
                out.append(
                    {
                        "type": "message",
                        "subtype": "bot_message",
                        "ts": ts,
                        "bot_id": bot.bot_id,
                        "username": bot.name,
                        "text": text,
                    }
                )
        return out

    def _joins(self, channel: Channel, day: date, rng: random.Random) -> list[dict[str, Any]]:
        clock = self.clocks[channel.name]
        out = []
        for person, joined in self.company.new_hires:
            if joined == day and (not channel.teams or person.team in channel.teams):
                ts = clock.ts(day, rng.randrange(8 * 3600, 10 * 3600))
                out.append(
                    {
                        "type": "message",
                        "subtype": "channel_join",
                        "ts": ts,
                        "user": person.user_id,
                        "text": f"<@{person.user_id}> has joined the channel",
                    }
                )
        return out

    def _users(self) -> list[dict[str, Any]]:
        people = list(self.company.people) + [p for p, _ in self.company.new_hires]
        users = [
            {
                "id": p.user_id,
                "team_id": SLACK_TEAM_ID,
                "name": p.handle,
                "deleted": False,
                "real_name": p.real_name,
                "tz": "Etc/UTC",
                "is_bot": False,
                "profile": {
                    "real_name": p.real_name,
                    "display_name": p.real_name.split()[0],
                    "title": p.title,
                    "email": f"{p.handle}@{DOMAIN}",
                },
            }
            for p in people
        ]
        users += [
            {
                "id": b.user_id,
                "team_id": SLACK_TEAM_ID,
                "name": b.name,
                "deleted": False,
                "real_name": b.name,
                "is_bot": True,
                "profile": {"real_name": b.name, "bot_id": b.bot_id},
            }
            for b in self.company.bots
        ]
        return users

    def _channels(self) -> list[dict[str, Any]]:
        created = str(_epoch(date(2024, 3, 1)))
        founder = self.company.people[0].user_id
        out = []
        for c in self.company.channels:
            members = [p.user_id for p in self.company.regulars(c)]
            members += [p.user_id for p, _ in self.company.new_hires if not c.teams or p.team in c.teams]
            out.append(
                {
                    "id": c.channel_id,
                    "name": c.name,
                    "created": created,
                    "creator": founder,
                    "is_archived": False,
                    "is_general": c.name == "general",
                    "members": members,
                    "topic": {"value": "", "creator": "", "last_set": "0"},
                    "purpose": {"value": c.purpose, "creator": founder, "last_set": created},
                }
            )
        return out
