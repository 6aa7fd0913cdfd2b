"""Local HTTP servers that speak the Slack, Jira and Anthropic APIs, for tests and offline runs."""
