"""ConfigurableResources: where data comes from and goes to."""
