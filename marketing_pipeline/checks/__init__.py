"""`marketing-pipeline check`: is a deployment ready to sync? The verdicts and the report, pure
(verdicts.py); the probes of the APIs (apis.py) and of what runs the syncs (deployment.py); all of them at
once (run.py)."""
