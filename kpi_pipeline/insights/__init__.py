"""Insights over the published tables: anomaly triage, the weekly digest, alerts. Pure code, no Dagster."""
