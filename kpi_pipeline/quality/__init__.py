"""The quality gate: GX expectation suites decide what is published and what is held back."""
