"""The generated demo company: a quarter of Slack, Jira and docs with the true KPI values."""
