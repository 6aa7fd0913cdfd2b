"""Pure extraction logic: no Dagster here. Prompts, output schema, source selection, grounding,
synthesis across sources, and cost accounting."""
