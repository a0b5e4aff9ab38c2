"""ConnectWise PSA: typed models and a client resource (I/O only; the sync rules live in `sync/`)."""
