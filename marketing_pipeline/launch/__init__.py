"""Driving Dagster from outside the code location (the CLI's side): the instance folder, partitions for
new syncs, running a sync now, and telling a running webserver about a changed sync."""
