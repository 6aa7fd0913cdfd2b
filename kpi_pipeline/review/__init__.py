"""Human review: overrides kept as reviewed data, the `kpi-pipeline review` listing and decisions, labels."""
