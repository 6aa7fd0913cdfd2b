"""Pure parsers: Slack exports and API pages, Jira search pages, docs -> rows of the raw tables."""
