"""Telling the team: which runs deserve a message (rule.py), what it says (message.py), how it travels
(channels.py: a Slack/Teams-compatible webhook and email), and the one place that reads a finished run
from Dagster and the store, applies the rule, sends and marks the run (dispatch.py)."""
