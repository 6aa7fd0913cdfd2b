"""Table contracts: every table the pipeline writes, with portable column types.

This is the single source of truth for names and types. Both engines create tables from it and the
schema snapshot test compares it with docs/. Changing a `kpi.*` column is a breaking change for BI users.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # portable SQL type: TEXT, BIGINT, INTEGER, DOUBLE PRECISION, BOOLEAN, DATE, TIMESTAMPTZ
    nullable: bool = True
    doc: str = ""


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str = ""
    # the column a partition (one day) is replaced by
    partition_column: str = "day"

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, type_: str, doc: str = "", nullable: bool = True) -> Column:
    return Column(name, type_, nullable, doc)


RAW_SLACK_MESSAGES = Table(
    "raw",
    "slack_messages",
    (
        _c("channel_id", "TEXT", "Slack channel id (C…)", False),
        _c("channel_name", "TEXT", "Channel name at ingestion time"),
        _c("ts", "TEXT", "Message timestamp as Slack's string 'seconds.micro'; unique per channel", False),
        _c("thread_ts", "TEXT", "ts of the thread parent; equals ts on a parent, NULL outside threads"),
        _c("user_id", "TEXT", "Author user id (U…), or bot id for bot messages"),
        _c("subtype", "TEXT", "Slack subtype (channel_join, bot_message, …); NULL for plain messages"),
        _c("text", "TEXT", "Message text in Slack mrkdwn, as sent"),
        _c("reply_count", "INTEGER", "Replies a thread parent had when fetched; NULL otherwise"),
        _c("permalink", "TEXT", "Link to the message (workspace URL when known, else a slack:// link)"),
        _c("day", "DATE", "UTC day of the message's own ts (replies belong to their own day)", False),
        _c("ingested_at", "TIMESTAMPTZ", "When this row was written", False),
    ),
    key=("channel_id", "ts"),
    doc="Every Slack message of a UTC day, system subtypes included.",
)

RAW_JIRA_ISSUES = Table(
    "raw",
    "jira_issues",
    (
        _c("issue_key", "TEXT", "Issue key, e.g. PLAT-123", False),
        _c("issue_id", "TEXT", "Jira's numeric id as a string"),
        _c("project_key", "TEXT", "Project key"),
        _c("issue_type", "TEXT", "Issue type name (Bug, Story, …)"),
        _c("summary", "TEXT", "Summary as of the end of the partition day"),
        _c("description", "TEXT", "Description as plain text (ADF flattened)"),
        _c("status", "TEXT", "Status name as of the end of the partition day"),
        _c("status_category", "TEXT", "Status category key: new, indeterminate, done"),
        _c("priority", "TEXT", "Priority name"),
        _c("assignee", "TEXT", "Assignee display name"),
        _c("reporter", "TEXT", "Reporter display name"),
        _c("labels", "TEXT", "JSON array of labels"),
        _c("story_points", "DOUBLE PRECISION", "Story points as of the end of the partition day"),
        _c("sprint", "TEXT", "Sprint name as of the end of the partition day"),
        _c("resolution", "TEXT", "Resolution name, NULL while unresolved on that day"),
        _c("created_at", "TIMESTAMPTZ", "Creation time", False),
        _c("resolved_at", "TIMESTAMPTZ", "Resolution time if resolved by the end of the partition day"),
        _c("url", "TEXT", "Browse URL of the issue"),
        _c("day", "DATE", "The partition day this state is valid for (end of day, UTC)", False),
        _c("ingested_at", "TIMESTAMPTZ", "When this row was written", False),
    ),
    key=("issue_key", "day"),
    doc="State of every issue that existed at the end of the partition day, rebuilt from the changelog.",
)

RAW_JIRA_EVENTS = Table(
    "raw",
    "jira_events",
    (
        _c("event_id", "TEXT", "Stable id: issue key, changelog/comment id and item index", False),
        _c("issue_key", "TEXT", "Issue key", False),
        _c("event_type", "TEXT", "created, status_change, resolution, comment, field_change", False),
        _c("field", "TEXT", "Changed field (status, resolution, Story Points, Sprint, …)"),
        _c("from_value", "TEXT", "Value before the change"),
        _c("to_value", "TEXT", "Value after the change"),
        _c("author", "TEXT", "Who made the change or wrote the comment"),
        _c("body", "TEXT", "Comment text (plain), or the summary for 'created'"),
        _c("occurred_at", "TIMESTAMPTZ", "When it happened", False),
        _c("url", "TEXT", "Link to the issue (or the comment)"),
        _c("day", "DATE", "UTC day of occurred_at", False),
        _c("ingested_at", "TIMESTAMPTZ", "When this row was written", False),
    ),
    key=("event_id",),
    doc="What happened in Jira on the partition day: creations, transitions, resolutions, comments.",
)

RAW_DOCS = Table(
    "raw",
    "docs",
    (
        _c("path", "TEXT", "Path relative to the docs root", False),
        _c("revision", "TEXT", "Git commit sha, or a content hash for a plain folder", False),
        _c("title", "TEXT", "Front-matter title, else the first heading, else the file name"),
        _c("text", "TEXT", "Document body (front matter removed)"),
        _c("author", "TEXT", "Commit author or front-matter author"),
        _c("url", "TEXT", "Link to the document when known"),
        _c("day", "DATE", "Commit day (git) or front-matter date (folder)", False),
        _c("ingested_at", "TIMESTAMPTZ", "When this row was written", False),
    ),
    key=("path", "revision"),
    doc="One row per document revision, on the day it was written.",
)

METRIC_CANDIDATES = Table(
    "extract",
    "metric_candidates",
    (
        _c("metric_id", "TEXT", "Catalog metric id", False),
        _c("day", "DATE", "Partition day", False),
        _c("source_type", "TEXT", "slack, jira or docs: the source group that was read", False),
        _c(
            "status",
            "TEXT",
            "reading (a value), abstained (not enough evidence) or unread (the backend gave no usable answer)",
            False,
        ),
        _c("value", "DOUBLE PRECISION", "Extracted value in the metric's unit; NULL when abstained"),
        _c("confidence", "DOUBLE PRECISION", "Calibrated confidence 0..1 (the raw one without a map)", False),
        _c("confidence_raw", "DOUBLE PRECISION", "Confidence 0..1 after grounding caps, before calibration"),
        _c("model_confidence", "DOUBLE PRECISION", "Confidence the model reported"),
        _c("evidence", "TEXT", "JSON array of {source_id, quote, url}"),
        _c("reasoning", "TEXT", "The model's short reasoning"),
        _c("assumptions", "TEXT", "JSON array of assumptions"),
        _c("grounded", "BOOLEAN", "Every quote occurs in its source and the value matches a quoted number"),
        _c("grounding_issues", "TEXT", "JSON array of grounding problems"),
        _c("observed_at", "TIMESTAMPTZ", "Time of the newest cited source"),
        _c("backend", "TEXT", "offline or anthropic", False),
        _c("model", "TEXT", "Model name (offline backends name their version)", False),
        _c("prompt_version", "TEXT", "Prompt version the reading was produced with", False),
        _c("run_id", "TEXT", "Dagster run id"),
        _c("extracted_at", "TIMESTAMPTZ", "When this row was written", False),
        _c(
            "period_start",
            "DATE",
            "First day of the period the reading describes, resolved against observed_at (docs/catalog.md, Time)",
        ),
        _c(
            "period_end",
            "DATE",
            "Last day of that period; NULL for abstentions and rows written before periods were recorded",
        ),
    ),
    key=("metric_id", "day", "source_type"),
    doc="Every reading of a metric on a day from one source group, with its evidence.",
)

METRIC_VALUES = Table(
    "extract",
    "metric_values",
    (
        _c("metric_id", "TEXT", "Catalog metric id", False),
        _c("day", "DATE", "Partition day", False),
        _c(
            "status",
            "TEXT",
            "ok, conflict, abstained, ungrounded or unread (a source group's answer was not read)",
            False,
        ),
        _c("value", "DOUBLE PRECISION", "Synthesized value; NULL when abstained"),
        _c("confidence", "DOUBLE PRECISION", "Calibrated combined confidence 0..1: what the gate compares", False),
        _c("confidence_raw", "DOUBLE PRECISION", "Combined confidence 0..1 before calibration"),
        _c("n_sources", "INTEGER", "Source groups with a reading", False),
        _c("grounded", "BOOLEAN", "The chosen reading is grounded", False),
        _c(
            "grounding_issues",
            "TEXT",
            "JSON array of the chosen reading's grounding problems, plus one entry per set-aside source that names "
            "the metric (and per injected reading that lost to the chosen one): `suspected_prompt_injection` "
            "(held back) when nothing was read, else `injection_set_aside_elsewhere` (a note)",
        ),
        _c("evidence", "TEXT", "JSON array of {source_type, source_id, url, quote} behind the value"),
        _c("reasoning", "TEXT", "Why this value: the chosen reading's reasoning and the synthesis decision"),
        _c("conflict", "TEXT", "JSON array of the disagreeing readings when status is conflict"),
        _c("model", "TEXT", "Model of the chosen reading", False),
        _c("prompt_version", "TEXT", "Prompt version", False),
        _c("run_id", "TEXT", "Dagster run id"),
        _c("computed_at", "TIMESTAMPTZ", "When this row was written", False),
        _c("period_start", "DATE", "First day of the period the chosen reading describes (docs/catalog.md, Time)"),
        _c(
            "period_end",
            "DATE",
            "Last day of that period; NULL for abstentions and rows written before periods were recorded",
        ),
        _c("reported_at", "TIMESTAMPTZ", "When the newest cited source stated it (the source's own time)"),
    ),
    key=("metric_id", "day"),
    doc="One synthesized value per metric and day, before the quality gate.",
)

LLM_CALLS = Table(
    "extract",
    "llm_calls",
    (
        _c("call_id", "TEXT", "Unique id of the call: day:source_type:index:hash@run_id@write time", False),
        _c("day", "DATE", "Partition day", False),
        _c("source_type", "TEXT", "Source group the call read", False),
        _c("metric_ids", "TEXT", "JSON array of the metrics the call asked (cached answers of the others cost 0)"),
        _c("backend", "TEXT", "offline or anthropic", False),
        _c("model", "TEXT", "Model", False),
        _c("prompt_version", "TEXT", "Prompt version", False),
        _c("request_hash", "TEXT", "Hash of model, prompt version and input: identifies the request", False),
        _c("input_tokens", "BIGINT", "Uncached input tokens billed", False),
        _c("cache_creation_input_tokens", "BIGINT", "Input tokens written to the prompt cache", False),
        _c("cache_read_input_tokens", "BIGINT", "Input tokens read from the prompt cache", False),
        _c("output_tokens", "BIGINT", "Output tokens", False),
        _c("cost_usd", "DOUBLE PRECISION", "Cost at the configured prices (0 for response-cache hits)", False),
        _c("latency_ms", "DOUBLE PRECISION", "Wall time of the call"),
        _c("response_cache_hit", "BOOLEAN", "Answered from the response cache without calling the model", False),
        _c("batch", "BOOLEAN", "Sent through the Message Batches API", False),
        _c("stop_reason", "TEXT", "Model stop reason"),
        _c("run_id", "TEXT", "Dagster run id"),
        _c("called_at", "TIMESTAMPTZ", "When the call finished", False),
    ),
    key=("call_id",),
    doc="One row per LLM call (or response-cache hit), with tokens by kind and cost; append-only, every run's calls.",
)

DAY_STATUS = Table(
    "extract",
    "day_status",
    (
        _c("day", "DATE", "Partition day", False),
        _c(
            "status",
            "TEXT",
            "complete (every asked answer was read), partial (some answers unread) or failed (too many unread)",
            False,
        ),
        _c("metrics", "INTEGER", "Catalog metrics extracted for the day", False),
        _c(
            "unread",
            "INTEGER",
            "Answers the backend did not give: malformed after retry, refused, truncated, lost",
            False,
        ),
        _c("unread_metrics", "TEXT", "JSON array of the metric ids with an unread answer"),
        _c("catalog_version", "TEXT", "Hash of the catalog the day was extracted with", False),
        _c("prompt_version", "TEXT", "Prompt version the day was extracted with", False),
        _c("backend", "TEXT", "offline or anthropic", False),
        _c("model", "TEXT", "Model", False),
        _c("extract_run_id", "TEXT", "Dagster run that extracted the day"),
        _c("extracted_at", "TIMESTAMPTZ", "When the day was extracted", False),
        _c(
            "publish_status",
            "TEXT",
            "NULL until publish ran after this extraction; published, or held (the gate held the day back)",
        ),
        _c(
            "publish_reason",
            "TEXT",
            "Why the day was held back, which values kept their previous version, and where by_period values landed",
        ),
        _c("publish_run_id", "TEXT", "Dagster run that last published (or held) the day"),
        _c("published_at", "TIMESTAMPTZ", "When publish last decided the day"),
    ),
    key=("day",),
    doc="One row per extracted day: whether every answer was read, and what publish then decided. Resume reads it.",
)

ASK_LOG = Table(
    "extract",
    "ask_log",
    (
        _c("ask_id", "TEXT", "Unique id of the question", False),
        _c("day", "DATE", "UTC day the question was asked", False),
        _c("asked_at", "TIMESTAMPTZ", "When the answer was given", False),
        _c("question", "TEXT", "The question as asked", False),
        _c("backend", "TEXT", "offline or anthropic", False),
        _c("model", "TEXT", "Model that answered (offline: the offline answerer's version)", False),
        _c("answer", "TEXT", "The answer as printed", False),
        _c("answered", "BOOLEAN", "false when the answer was 'not in the data' or no answer", False),
        _c("shape", "TEXT", "Question shape that answered (offline backend), else NULL"),
        _c("tool_calls", "TEXT", "JSON array of {name, input, is_error}, one per tool call, in order"),
        _c("turns", "INTEGER", "Model calls made (0 offline)", False),
        _c("input_tokens", "BIGINT", "Uncached input tokens billed, over every turn", False),
        _c("cache_creation_input_tokens", "BIGINT", "Input tokens written to the prompt cache", False),
        _c("cache_read_input_tokens", "BIGINT", "Input tokens read from the prompt cache", False),
        _c("output_tokens", "BIGINT", "Output tokens", False),
        _c("cost_usd", "DOUBLE PRECISION", "Cost at the configured prices", False),
        _c("stop_reason", "TEXT", "Stop reason of the last model call"),
    ),
    key=("ask_id",),
    doc="One row per `kpi-pipeline ask` question: the answer, the tool calls behind it, tokens and cost.",
)

DIM_METRIC = Table(
    "kpi",
    "dim_metric",
    (
        _c("metric_id", "TEXT", "Catalog metric id", False),
        _c("description", "TEXT", "What the metric measures", False),
        _c("unit", "TEXT", "Unit every value is expressed in (percent, ms, count, …)", False),
        _c(
            "direction",
            "TEXT",
            "higher_is_better, lower_is_better, or unknown when neither the catalog nor a key result says",
            False,
        ),
        _c("min_value", "DOUBLE PRECISION", "Lowest plausible value; NULL when unbounded"),
        _c("max_value", "DOUBLE PRECISION", "Highest plausible value; NULL when unbounded"),
        _c("min_confidence", "DOUBLE PRECISION", "Confidence a value needs to be published", False),
        _c(
            "direction_source",
            "TEXT",
            "Where direction came from: catalog (written), key_result (inferred from the metric's key results) or "
            "unknown; NULL until the catalog is published again by a version that knows it",
        ),
        _c("kind", "TEXT", "snapshot (a level at a moment) or flow (accumulates over flow_window)"),
        _c(
            "flow_window",
            "TEXT",
            "A flow's window: day, week, month, quarter, rolling_7d, rolling_30d; NULL for a snapshot",
        ),
        _c(
            "additivity",
            "TEXT",
            "How BI may aggregate over days: additive (sum; daily flows), semi_additive (last value per period, "
            "never summed; snapshots) or non_additive (neither sum nor average; flows over longer windows)",
        ),
        _c("series_rule", "TEXT", "as_reported or by_period: which reading is a day's value (docs/warehouse.md)"),
    ),
    key=("metric_id",),
    doc="One row per catalog metric, as of the last catalog publish.",
)

FCT_METRIC_DAILY = Table(
    "kpi",
    "fct_metric_daily",
    (
        _c("metric_id", "TEXT", "Catalog metric id (joins kpi.dim_metric)", False),
        _c("day", "DATE", "UTC day the value is for", False),
        _c("value", "DOUBLE PRECISION", "The metric's value that day, in its unit", False),
        _c("confidence", "DOUBLE PRECISION", "Calibrated combined confidence 0..1", False),
        _c("confidence_raw", "DOUBLE PRECISION", "Combined confidence 0..1 before calibration"),
        _c(
            "status",
            "TEXT",
            "ok, or conflict when sources disagreed and the most authoritative won; accepted or overridden when a "
            "reviewer decided (docs/review.md)",
            False,
        ),
        _c("n_sources", "INTEGER", "Source groups (slack, jira, docs) that gave a reading", False),
        _c("model", "TEXT", "Model that produced the chosen reading", False),
        _c("prompt_version", "TEXT", "Prompt version of the chosen reading", False),
        _c("run_id", "TEXT", "Dagster run that extracted the value (the publishing run when unknown)"),
        _c("published_at", "TIMESTAMPTZ", "When this day was published", False),
        _c("period_start", "DATE", "First day of the period the value describes; NULL on rows published before"),
        _c("period_end", "DATE", "Last day of that period: the value's day under by_period, at most day otherwise"),
        _c("reported_at", "TIMESTAMPTZ", "When the newest cited source stated the value (the source's own time)"),
    ),
    key=("metric_id", "day"),
    doc="One row per metric and day that passed the quality gate: readings only, abstentions are not rows.",
)

FCT_METRIC_HISTORY = Table(
    "kpi",
    "fct_metric_history",
    (
        _c("metric_id", "TEXT", "Catalog metric id", False),
        _c("day", "DATE", "UTC day the value is for", False),
        _c("version", "INTEGER", "Version of this (metric_id, day), from 1", False),
        _c("value", "DOUBLE PRECISION", "The value this version published; NULL when the version withdrew it"),
        _c("confidence", "DOUBLE PRECISION", "Its confidence"),
        _c("status", "TEXT", "Its status (ok, conflict, accepted, overridden); NULL when withdrawn"),
        _c("model", "TEXT", "Model of the reading"),
        _c("prompt_version", "TEXT", "Prompt version of the reading"),
        _c("catalog_version", "TEXT", "Hash of the catalog the day was extracted with (extract.day_status)"),
        _c(
            "reason",
            "TEXT",
            "Why this version exists: published (the first), rerun, backfill, prompt_version, model, catalog, "
            "override or removed (the value was withdrawn)",
            False,
        ),
        _c("note", "TEXT", "The override behind the version (action, reviewer, reason) when there is one"),
        _c("run_id", "TEXT", "Dagster run that published this version", False),
        _c("valid_from", "TIMESTAMPTZ", "When this version was published", False),
        _c("valid_to", "TIMESTAMPTZ", "When a later version replaced it; NULL for the current version"),
    ),
    key=("metric_id", "day", "version"),
    doc="Every version of each published (metric_id, day): what it was, when, from which run and why it changed.",
)

FCT_METRIC_EVIDENCE = Table(
    "kpi",
    "fct_metric_evidence",
    (
        _c("metric_id", "TEXT", "Catalog metric id", False),
        _c("day", "DATE", "UTC day of the value this evidence backs", False),
        _c("evidence_no", "INTEGER", "Position of the quote in the value's evidence, from 1", False),
        _c("source_type", "TEXT", "slack, jira or docs"),
        _c("source_id", "TEXT", "Stable id of the cited source (message, issue or comment, doc revision)"),
        _c("url", "TEXT", "Link to the source when known"),
        _c("quote", "TEXT", "Verbatim text from the source that states the value", False),
    ),
    key=("metric_id", "day", "evidence_no"),
    doc="The quotes behind each published value; joins kpi.fct_metric_daily on (metric_id, day).",
)

METRIC_QUARANTINE = Table(
    "kpi",
    "metric_quarantine",
    (
        _c("metric_id", "TEXT", "Catalog metric id", False),
        _c("day", "DATE", "UTC day", False),
        _c("value", "DOUBLE PRECISION", "The value that was held back (NULL for a flagged abstention)"),
        _c("confidence", "DOUBLE PRECISION", "Its confidence"),
        _c("reasons", "TEXT", "JSON array of every failed rule, each 'rule: explanation'", False),
        _c("evidence", "TEXT", "JSON array of {source_type, source_id, url, quote} as extracted"),
        _c("run_id", "TEXT", "Dagster run that extracted the value (the publishing run when unknown)"),
    ),
    key=("metric_id", "day"),
    doc="Values the quality gate held back, with why; never also in kpi.fct_metric_daily for the same day.",
)

OKR_OBJECTIVES = Table(
    "kpi",
    "okr_objectives",
    (
        _c("objective_id", "TEXT", "Catalog objective id", False),
        _c("title", "TEXT", "Objective title", False),
        _c("quarter", "TEXT", "Quarter as 2026-Q3", False),
        _c("quarter_start", "DATE", "First day of the quarter", False),
        _c("quarter_end", "DATE", "Last day of the quarter", False),
        _c("at_risk_below", "DOUBLE PRECISION", "progress / expected progress below this is at_risk", False),
        _c("off_track_below", "DOUBLE PRECISION", "progress / expected progress below this is off_track", False),
    ),
    key=("objective_id",),
    doc="One row per catalog objective, with the status thresholds it is judged by.",
)

OKR_KEY_RESULTS = Table(
    "kpi",
    "okr_key_results",
    (
        _c("objective_id", "TEXT", "Objective the key result belongs to", False),
        _c("key_result_no", "INTEGER", "Position within the objective, from 1", False),
        _c("metric_id", "TEXT", "Metric the key result tracks", False),
        _c("baseline", "DOUBLE PRECISION", "Value at the start of the quarter (progress 0)", False),
        _c("target", "DOUBLE PRECISION", "Value to reach by the end of the quarter (progress 1)", False),
    ),
    key=("objective_id", "key_result_no"),
    doc="One row per key result of each catalog objective.",
)

WEEKLY_DIGEST = Table(
    "kpi",
    "weekly_digest",
    (
        _c("week_start", "DATE", "Monday the week starts on (UTC)", False),
        _c("week_end", "DATE", "Sunday the week ends on", False),
        _c(
            "digest",
            "TEXT",
            "The digest as JSON: per objective what moved, then conflicts, held-back values, "
            "restatements and anomalies, each statement with its metric, day, quote and source URL",
            False,
        ),
        _c("text", "TEXT", "The digest as markdown, as the dashboard and Slack show it", False),
        _c("slack_channel", "TEXT", "Slack channel id the digest was posted to; NULL when not posted"),
        _c("slack_ts", "TEXT", "ts of the Slack message, updated in place when the week is computed again"),
        _c("posted_at", "TIMESTAMPTZ", "When the Slack message was last posted or updated"),
        _c("run_id", "TEXT", "Dagster run that computed the digest"),
        _c("computed_at", "TIMESTAMPTZ", "When the digest was computed", False),
    ),
    key=("week_start",),
    doc="One row per week: what moved and why, with quotes and links; the Slack message it was posted as.",
    partition_column="week_start",
)

RAW_TABLES = (RAW_SLACK_MESSAGES, RAW_JIRA_ISSUES, RAW_JIRA_EVENTS, RAW_DOCS)
EXTRACT_TABLES = (METRIC_CANDIDATES, METRIC_VALUES, LLM_CALLS, DAY_STATUS, ASK_LOG)
KPI_TABLES = (
    DIM_METRIC,
    FCT_METRIC_DAILY,
    FCT_METRIC_EVIDENCE,
    METRIC_QUARANTINE,
    OKR_OBJECTIVES,
    OKR_KEY_RESULTS,
    FCT_METRIC_HISTORY,
    WEEKLY_DIGEST,
)
ALL_TABLES: tuple[Table, ...] = RAW_TABLES + EXTRACT_TABLES + KPI_TABLES


def table(qualified: str) -> Table:
    """Look a table up by `schema.name`."""
    for t in ALL_TABLES:
        if t.qualified == qualified:
            return t
    raise KeyError(f"unknown table {qualified!r}; known: {', '.join(t.qualified for t in ALL_TABLES)}")
