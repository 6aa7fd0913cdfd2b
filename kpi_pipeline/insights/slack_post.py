"""Posting to Slack with slack_sdk: a new message, or an update of the message a week was posted as before."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import RetryHandler

from kpi_pipeline.sources.slack_api import CappedRateLimitRetryHandler


class SlackPostError(RuntimeError):
    """Slack refused or could not be reached; the message says what to fix."""


@dataclass(frozen=True)
class Posted:
    channel: str  # the channel id Slack answered with (chat.update needs the id, not a name)
    ts: str
    updated: bool  # an existing message was edited in place


FIXES = {
    "not_authed": "set SLACK_BOT_TOKEN",
    "invalid_auth": "SLACK_BOT_TOKEN is not a valid token",
    "channel_not_found": "check the channel, and invite the bot to it",
    "not_in_channel": "invite the bot to the channel",
    "missing_scope": "give the bot the chat:write scope",
}


def _error(action: str, channel: str, exc: Exception) -> SlackPostError:
    code = exc.response.get("error", "") if isinstance(exc, SlackApiError) else ""
    fix = FIXES.get(str(code), "")
    detail = str(code) if code else str(exc).splitlines()[0]
    return SlackPostError(f"Slack {action} to {channel} failed: {detail}" + (f"; {fix}" if fix else ""))


def connect(token: str, api_url: str | None = None) -> WebClient:
    """A client that retries only a 429 (Slack did not act on it): retrying a 5xx or a dropped connection could
    post the same message twice."""
    handlers: list[RetryHandler] = [CappedRateLimitRetryHandler(max_retry_count=3, max_wait=30.0)]
    if api_url:
        return WebClient(token=token, base_url=api_url, retry_handlers=handlers, timeout=30)
    return WebClient(token=token, retry_handlers=handlers, timeout=30)


def post_or_update(
    client: WebClient,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]],
    previous: tuple[str, str] | None = None,
) -> Posted:
    """Update `previous` (channel id, ts) in place when given and it still exists; else post a new message."""
    if previous is not None:
        try:
            answer = client.chat_update(channel=previous[0], ts=previous[1], text=text, blocks=blocks)
            return Posted(str(answer["channel"]), str(answer["ts"]), True)
        except SlackApiError as exc:
            if exc.response.get("error") != "message_not_found":
                raise _error("chat.update", previous[0], exc) from None
        except SlackClientError as exc:
            raise _error("chat.update", previous[0], exc) from None
    try:
        answer = client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
    except (SlackApiError, SlackClientError) as exc:
        raise _error("chat.postMessage", channel, exc) from None
    return Posted(str(answer["channel"]), str(answer["ts"]), False)
