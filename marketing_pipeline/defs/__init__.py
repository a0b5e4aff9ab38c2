"""Dagster glue: assets, checks, partitions, schedules, sensors and resources for the sync."""
