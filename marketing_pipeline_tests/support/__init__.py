"""What the tests share: sandbox-backed clients, the pipeline harness, and what "converged" means.
Fixtures live in `conftest.py`; everything they build lives here."""

SYNC_KEY = "managed-client-newsletter"
