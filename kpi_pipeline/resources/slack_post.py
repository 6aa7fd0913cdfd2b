"""Where the digest and alerts are posted: a Slack bot token (the Slack source's), its API URL, the digest channel."""

from __future__ import annotations

import dagster
from slack_sdk import WebClient

from kpi_pipeline.insights.slack_post import SlackPostError, connect


class SlackPoster(dagster.ConfigurableResource):
    """Posts through the Slack Web API: the digest to `digest_channel` when set, alerts to the catalog's channel."""

    token: str | None = None  # SLACK_BOT_TOKEN (needs chat:write); never logged
    api_url: str | None = None  # SLACK_API_URL: base URL override, e.g. "http://127.0.0.1:PORT/api/"
    digest_channel: str | None = None  # KPI_DIGEST_SLACK_CHANNEL: channel id or #name; unset: not posted

    def client(self, purpose: str) -> WebClient:
        """A client, or a one-line error naming the setting that is missing."""
        if not self.token:
            raise SlackPostError(f"{purpose} needs SLACK_BOT_TOKEN (a bot token with chat:write) to post to Slack")
        return connect(self.token, self.api_url)

    def __repr__(self) -> str:
        token = "set" if self.token else "unset"
        return f"SlackPoster(token=<{token}>, api_url={self.api_url!r}, digest_channel={self.digest_channel!r})"

    def __str__(self) -> str:
        return repr(self)
