"""Shared fixtures: real PostgreSQL databases (one per test), SQLite stores, sandboxes over HTTP, and
Dagster instances. With `CI` set, an unreachable PostgreSQL fails the PostgreSQL tests instead of skipping."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from marketing_pipeline.connectwise.client import ConnectWiseClient
from marketing_pipeline.defs.resources import ConnectWiseResource, EnchargeResource, MarketingStoreResource
from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.launch.partitions import register_sync_partitions
from marketing_pipeline.sandbox.launch import Sandboxes, running_sandboxes
from marketing_pipeline.store.database import dispose_engine
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline.transport.http import RetrySettings

PG_ADMIN_URL = os.environ.get("MARKETING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SYNC_KEY = "managed-client-newsletter"
FAST_RETRY = RetrySettings(max_attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        message = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {str(exc.orig).strip()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return PG_ADMIN_URL


@pytest.fixture
def pg_database(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """A factory of brand-new PostgreSQL databases for this test, all dropped afterwards."""
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    created: list[tuple[str, str]] = []

    def create() -> str:
        name = f"mp_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
        created.append((name, url))
        return url

    try:
        yield create
    finally:
        for name, url in created:
            dispose_engine(url)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_database: Callable[[], str]) -> str:
    return pg_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'marketing.db'}"
    yield url
    dispose_engine(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test on the embedded SQLite store and on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def store(store_url: str) -> SyncStore:
    initialise_store(store_url)
    return SyncStore(store_url)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with running_sandboxes() as boxes:
        yield boxes


def cw_client(boxes: Sandboxes, **overrides: object) -> ConnectWiseClient:
    env = boxes.connectwise.env()
    kwargs: dict = {
        "base_url": env["CW_BASE_URL"],
        "company_id": env["CW_COMPANY_ID"],
        "public_key": env["CW_PUBLIC_KEY"],
        "private_key": env["CW_PRIVATE_KEY"],
        "client_id": env["CW_CLIENT_ID"],
        "retry": RetrySettings(
            max_attempts=4, base_delay=0.01, max_delay=0.05, retry_statuses=frozenset({429, 502, 503, 504})
        ),
    }
    kwargs.update(overrides)
    return ConnectWiseClient(**kwargs)


def encharge_client(boxes: Sandboxes, **overrides: object) -> EnchargeClient:
    kwargs: dict = {
        "base_url": boxes.encharge.base_url,
        "api_key": boxes.encharge.token,
        "retry": FAST_RETRY,
        "requests_per_second": 0,
    }
    kwargs.update(overrides)
    return EnchargeClient(**kwargs)


def pipeline_resources(boxes: Sandboxes, database_url: str) -> dict[str, object]:
    env = boxes.env()
    return {
        "connectwise": ConnectWiseResource(
            base_url=env["CW_BASE_URL"],
            company_id=env["CW_COMPANY_ID"],
            public_key=env["CW_PUBLIC_KEY"],
            private_key=env["CW_PRIVATE_KEY"],
            client_id=env["CW_CLIENT_ID"],
            max_attempts=3,
            timeout_seconds=2,
        ),
        "encharge": EnchargeResource(
            base_url=env["ENCHARGE_BASE_URL"],
            api_key=env["ENCHARGE_REST_API_KEY"],
            requests_per_second=0,
            max_attempts=3,
            timeout_seconds=2,
        ),
        "marketing_store": MarketingStoreResource(database_url=database_url),
    }


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def pipeline(store: SyncStore, sandboxes: Sandboxes, instance: dg.DagsterInstance) -> dict[str, object]:
    register_sync_partitions(instance, store)
    return {
        "store": store,
        "boxes": sandboxes,
        "instance": instance,
        "resources": pipeline_resources(sandboxes, store.url),
    }
