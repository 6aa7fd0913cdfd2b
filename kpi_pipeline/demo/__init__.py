"""The generated demo company: a quarter of Slack, Jira and docs with the true KPI values."""

from kpi_pipeline.demo.generate import DatasetSummary, generate_dataset

__all__ = ["DatasetSummary", "generate_dataset"]
