"""Encharge: a client resource for people and tags (I/O only; the sync rules live in `sync/`)."""
