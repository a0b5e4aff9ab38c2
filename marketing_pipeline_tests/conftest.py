"""Fixtures: real PostgreSQL databases (one per test), SQLite stores, sandboxes over HTTP, Dagster
instances and the pipeline harness. With `CI` set, an unreachable PostgreSQL fails the PostgreSQL tests
instead of skipping. What the fixtures build lives in `support/`.

Tests are hermetic: every test process, and every test in it, gets its own `DAGSTER_HOME`, and none of a
deployment's variables from the shell reaches a test. Without that, anything that falls back to
`./.dagster_home` (a subprocess started in the repository, the code location's schedules file) would read
what the demo or a user's own runs left there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from marketing_pipeline import settings
from marketing_pipeline.launch.partition_registry import register_sync_partitions
from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
from marketing_pipeline.sandbox.dataset import generate
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.launch import Sandboxes, running_sandboxes
from marketing_pipeline.store.database import dispose_engine
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline_tests.support import adopt_first_sync
from marketing_pipeline_tests.support.alerts import (
    Certificate,
    Mailbox,
    WebhookListener,
    self_signed_certificate,
    smtp_server,
)
from marketing_pipeline_tests.support.catalog import apply_prisma_db_push, schema_catalog
from marketing_pipeline_tests.support.pipeline import Pipeline, pipeline_resources

PG_ADMIN_URL = os.environ.get("MARKETING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Every variable the project reads: a test sets what it needs; none comes from the shell that runs pytest.
PROJECT_VARIABLES = sorted(settings.VARIABLES)
_session_home: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Before anything is collected or started: this process's own DAGSTER_HOME, and no deployment
    variables (a shell pointed at a real database, or at the demo's instance, must not reach a test)."""
    global _session_home
    for name in PROJECT_VARIABLES:
        os.environ.pop(name, None)
    _session_home = tempfile.mkdtemp(prefix="marketing-pipeline-tests-")
    os.environ[settings.DAGSTER_HOME] = _session_home


def pytest_unconfigure(config: pytest.Config) -> None:
    if _session_home is not None:
        shutil.rmtree(_session_home, ignore_errors=True)


@pytest.fixture(autouse=True)
def own_dagster_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own DAGSTER_HOME (empty, not yet created), inherited by every process it starts."""
    home = tmp_path_factory.mktemp("dagster_home", numbered=True) / "home"
    monkeypatch.setenv(settings.DAGSTER_HOME, str(home))
    return home


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


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def pipeline(store: SyncStore, sandboxes: Sandboxes, instance: dg.DagsterInstance) -> Pipeline:
    register_sync_partitions(instance, store)
    adopt_first_sync(store.url)
    return Pipeline(store=store, boxes=sandboxes, instance=instance, resources=pipeline_resources(sandboxes, store.url))


@pytest.fixture
def paged_pipeline(store: SyncStore, instance: dg.DagsterInstance) -> Iterator[Pipeline]:
    """The pipeline over an Encharge of four pages (the first sync's dataset plus 250 unrelated people)."""
    data = generate(86, unrelated_people=250)
    with ConnectWiseSandbox(data.companies, data.contacts) as cw, EnchargeSandbox(data.people) as en:
        boxes = Sandboxes(dataset=data, connectwise=cw, encharge=en)
        register_sync_partitions(instance, store)
        adopt_first_sync(store.url)
        yield Pipeline(store=store, boxes=boxes, instance=instance, resources=pipeline_resources(boxes, store.url))


@pytest.fixture
def webhook() -> Iterator[WebhookListener]:
    with WebhookListener() as listener:
        yield listener


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Certificate:
    """A self-signed certificate for 127.0.0.1 that this process's TLS clients trust (SSL_CERT_FILE)."""
    cert = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert))
    return cert


@pytest.fixture
def smtp(certificate: Certificate) -> Iterator[tuple[Mailbox, int]]:
    """A local SMTP server offering STARTTLS."""
    with smtp_server(certificate=certificate) as server:
        yield server


@pytest.fixture(scope="session")
def prisma_catalog(pg_admin_url: str) -> dict:
    """The catalog of `public` in an empty database after Prisma's `db push` DDL for the specification's
    models: what Prisma's schema must hold, exactly, whoever created the tables."""
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    name = f"mp_prisma_{uuid.uuid4().hex[:12]}"
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        apply_prisma_db_push(url)
        return schema_catalog(url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
