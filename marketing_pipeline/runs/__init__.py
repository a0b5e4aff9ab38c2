"""A sync run apart from its orchestrator: its MarketingSyncRun record (the ledger), applying its plan
through the Encharge client, and the figures each step reports."""
