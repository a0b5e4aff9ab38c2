"""What the tests share: sandbox-backed clients, the pipeline harness, and what "converged" means.
Fixtures live in `conftest.py`; everything they build lives here."""

SYNC_KEY = "managed-client-newsletter"


def adopt_first_sync(database_url: str) -> None:
    """The first sync owns its tag, as on an install whose sync has run before (migration 0006 records
    that): the sandbox's dataset has three former members carrying the tag, whom such a sync untags. A sync
    that has never run is braked on them instead (issue 22 finding 4, `defs/test_ownership.py`)."""
    from marketing_pipeline.store.repository import SyncStore

    store = SyncStore(database_url)
    store.adopt_tag(store.get_sync(SYNC_KEY), "the tests' existing install")
