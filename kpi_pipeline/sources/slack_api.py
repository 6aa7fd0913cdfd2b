"""Slack Web API (slack_sdk.WebClient) -> rows of raw.slack_messages for one UTC day.

A day is conversations.history bounded to the day in every channel the bot is in, plus the replies landing on
the day of every thread whose parent is on the day or up to `lookback_days` earlier (Slack keeps replies out
of history, so late replies to old threads are only found through their parents). Rows come out exactly as
in export mode: the frame is built by the same code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pandas as pd
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.slack_export import (
    Channel,
    Row,
    Workspace,
    message_rows,
    messages_frame,
    rows_by_utc_day,
    utc_day_bounds,
)
from kpi_pipeline.sources.urls import web_url

PAGE_SIZE = 200
_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission"}
_FIX_TOKEN = "set SLACK_BOT_TOKEN to a valid bot token (xoxb-…) of the workspace"


class CappedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Retries HTTP 429 after Retry-After, but never sleeps longer than `max_wait` seconds.

    slack_sdk's own handler sleeps whatever the header says, and Slack has sent `Retry-After: 3600`.
    """

    def __init__(self, max_retry_count: int = 5, max_wait: float = 60.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("rate-limit retry without a response")
        state.next_attempt_requested = True
        time.sleep(min(_retry_after(response), self.max_wait))
        state.increment_current_attempt()


def _retry_after(response: HttpResponse) -> float:
    for name, value in response.headers.items():
        if name.lower() == "retry-after":
            text = value[0] if isinstance(value, list) else value
            try:
                return max(float(text), 0.0)
            except ValueError:
                break
    return 1.0


class AnyServerErrorRetryHandler(RetryHandler):
    """Retries every HTTP 5xx with backoff (slack_sdk's ServerErrorRetryHandler only knows 500 and 503)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code >= 500


def web_client(token: str, base_url: str | None = None, max_wait: float = 60.0, backoff: float = 0.5) -> WebClient:
    """A WebClient that rides out 429s (capped waits), 5xx and dropped connections."""
    intervals = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    handlers: list[RetryHandler] = [
        CappedRateLimitRetryHandler(max_retry_count=5, max_wait=max_wait),
        AnyServerErrorRetryHandler(max_retry_count=4, interval_calculator=intervals),
        ConnectionErrorRetryHandler(max_retry_count=3, interval_calculator=intervals),
    ]
    if base_url:
        return WebClient(token=token, base_url=base_url, retry_handlers=handlers, timeout=60)
    return WebClient(token=token, retry_handlers=handlers, timeout=60)


class SlackApiReader:
    """Reads one UTC day of messages through the Slack Web API."""

    def __init__(self, client: WebClient, lookback_days: int = 7) -> None:
        if lookback_days < 0:
            raise SourceError(f"lookback_days={lookback_days}: must be 0 or more days")
        self.client = client
        self.lookback_days = lookback_days

    @classmethod
    def connect(
        cls, token: str | None, base_url: str | None = None, lookback_days: int = 7, max_wait: float = 60.0
    ) -> SlackApiReader:
        if not token:
            raise SourceError(f"SLACK_BOT_TOKEN is not set; {_FIX_TOKEN}")
        return cls(web_client(token, base_url, max_wait=max_wait), lookback_days)

    def messages_for_day(self, day: date) -> pd.DataFrame:
        """Every message whose own ts is on the UTC `day`, in every channel the bot is a member of."""
        identity = self._call("auth.test")
        workspace = Workspace(url=web_url(identity.get("url")), team_id=identity.get("team_id"))
        start, end = utc_day_bounds(day)
        per_channel = [(channel, self._channel_rows(channel, start, end)) for channel in self._channels()]
        return messages_frame(per_channel, day, workspace)

    def _channels(self) -> list[Channel]:
        channels = []
        for page in self._pages("conversations.list", "channels", types="public_channel,private_channel"):
            for entry in page:
                if entry.get("is_member", True):
                    channels.append(Channel(id=entry["id"], name=entry.get("name"), folder=entry["id"]))
        return channels

    def _channel_rows(self, channel: Channel, start: int, end: int) -> list[Row]:
        day_number = start // 86_400
        on_day = list(self._history(channel, start, end))
        lookback = list(self._history(channel, start - self.lookback_days * 86_400, start))
        parents = [m["ts"] for m in on_day if _has_replies(m)]
        parents += [m["ts"] for m in lookback if _has_replies(m) and _may_reply_after(m, start)]
        rows = _day_rows(on_day, day_number, f"conversations.history {channel.id}")
        for parent_ts in dict.fromkeys(parents):
            replies = list(
                self._pages(
                    "conversations.replies", "messages", channel=channel.id, ts=parent_ts, **_window(start, end)
                )
            )
            flat = [message for page in replies for message in page]
            rows += _day_rows(flat, day_number, f"conversations.replies {channel.id} {parent_ts}")
        return rows

    def _history(self, channel: Channel, start: int, end: int) -> Iterator[dict[str, Any]]:
        if start >= end:
            return
        for page in self._pages("conversations.history", "messages", channel=channel.id, **_window(start, end)):
            yield from page

    def _pages(self, method: str, key: str, **params: Any) -> Iterator[list[dict[str, Any]]]:
        """Each page's list under `key`, following response_metadata.next_cursor until it is empty."""
        cursor = ""
        while True:
            body = self._call(method, limit=PAGE_SIZE, cursor=cursor or None, **params)
            yield list(body.get(key) or [])
            cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        query = {name: value for name, value in params.items() if value is not None}
        try:
            response = self.client.api_call(method, http_verb="GET", params=query)
        except SlackApiError as exc:
            raise _source_error(method, exc) from None
        except (SlackClientError, OSError) as exc:
            raise SourceError(
                f"Slack API {method} could not be reached at {self.client.base_url} ({type(exc).__name__}: {exc}); "
                "check SLACK_API_URL and the network, then retry"
            ) from None
        return dict(response.data) if isinstance(response.data, dict) else {}


def _window(start: int, end: int) -> dict[str, str]:
    """oldest/latest for [start, end): both bounds are exclusive in Slack unless `inclusive` is set."""
    return {"oldest": f"{start - 1}.999999", "latest": f"{end}.000000"}


def _has_replies(message: dict[str, Any]) -> bool:
    return bool(message.get("reply_count")) or bool(message.get("replies"))


def _may_reply_after(parent: dict[str, Any], start: int) -> bool:
    """Whether an older parent can have a reply on or after `start` (unknown latest_reply: assume so)."""
    latest = parent.get("latest_reply")
    if not isinstance(latest, str) or not latest.partition(".")[0].isdigit():
        return True
    return int(latest.partition(".")[0]) >= start


def _day_rows(messages: list[Any], day_number: int, where: str) -> list[Row]:
    return rows_by_utc_day(message_rows(messages, where), where).get(day_number, [])


def _source_error(method: str, exc: SlackApiError) -> SourceError:
    status = getattr(exc.response, "status_code", None)
    data = getattr(exc.response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    if error in _AUTH_ERRORS:
        return SourceError(f"Slack rejected the token on {method} ({error}); {_FIX_TOKEN}")
    if error == "missing_scope":
        needed = data.get("needed") if isinstance(data, dict) else None
        return SourceError(
            f"Slack API {method}: the bot token lacks scope {needed or '?'}; give the app channels:read, "
            "groups:read, channels:history and groups:history, reinstall it and update SLACK_BOT_TOKEN"
        )
    if status == 429 or error == "ratelimited":
        return SourceError(f"Slack API {method} is still rate limited after retrying; rerun the day later")
    if status is not None and status >= 500:
        return SourceError(f"Slack API {method} kept failing with HTTP {status} after retries; rerun the day later")
    return SourceError(f"Slack API {method} failed ({error or f'HTTP {status}'}); check SLACK_API_URL and the bot")
