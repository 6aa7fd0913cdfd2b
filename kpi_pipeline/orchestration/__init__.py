"""Running the pipeline over time: schedules, backfills, cost estimates and budgets."""
