"""Dagster assets only, thin: they read partitions and write through resources."""
