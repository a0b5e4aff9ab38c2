"""`init` run several times at once on a fresh DAGSTER_HOME, in real processes: every one succeeds, our
tables and Dagster's are set up once (one Alembic revision each, one first sync), and the next command works.
With SQLite storage (a file lock beside it) and with PostgreSQL (advisory locks)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, text

from marketing_pipeline.store.schema import OUR_SCHEMA, VERSION_TABLE
from marketing_pipeline_tests.support import SYNC_KEY

pytestmark = pytest.mark.slow  # real CLI processes

CLI = str(Path(sys.executable).with_name("marketing-pipeline"))
INITS = 4


def _run_at_once(env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    processes = [
        subprocess.Popen([CLI, "init"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(INITS)
    ]
    finished = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        finished.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return finished


def _alembic_rows(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            # Dagster's version table in the default schema; ours in our own schema (see store/schema.py).
            tables = {"alembic_version": "alembic_version", VERSION_TABLE: f"{OUR_SCHEMA}.{VERSION_TABLE}"}
            return {
                table: conn.execute(text(f"SELECT count(*) FROM {qualified}")).scalar_one()
                for table, qualified in tables.items()
                if conn.execute(text(f"SELECT to_regclass('{qualified}')")).scalar() is not None
            }
    finally:
        engine.dispose()


def _check_after(env: dict[str, str], home: Path, inits: list[subprocess.CompletedProcess[str]]) -> None:
    assert [i.returncode for i in inits] == [0] * INITS, [i.stderr for i in inits]
    assert sum("first sync: created" in i.stdout for i in inits) == 1
    listing = subprocess.run([CLI, "syncs", "list", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert [s["key"] for s in json.loads(listing.stdout)] == [SYNC_KEY]
    again = subprocess.run([CLI, "init"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "first sync: already there" in again.stdout, again.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions("marketing_sync") == [SYNC_KEY]
        assert instance.get_runs() == []


def test_concurrent_inits_with_sqlite(tmp_path: Path) -> None:
    home = tmp_path / "fresh_home"
    env = {k: v for k, v in os.environ.items() if k not in ("MARKETING_DATABASE_URL", "DAGSTER_POSTGRES_URL")}
    env["DAGSTER_HOME"] = str(home)
    inits = _run_at_once(env)
    _check_after(env, home, inits)
    for database in home.rglob("*.db"):
        with sqlite3.connect(database) as conn:
            for table in ("alembic_version", "marketing_pipeline_alembic_version"):
                exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone()
                if exists:
                    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 1, (database, table)


def test_concurrent_inits_with_postgresql(
    tmp_path: Path, pg_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dagster_db, marketing_db = pg_database(), pg_database()
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_db)  # the instance the test opens afterwards reads it
    home = tmp_path / "fresh_home"
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_POSTGRES_URL": dagster_db}
    env["MARKETING_DATABASE_URL"] = marketing_db
    inits = _run_at_once(env)
    _check_after(env, home, inits)
    assert _alembic_rows(dagster_db) == {"alembic_version": 1}
    assert _alembic_rows(marketing_db) == {"marketing_pipeline_alembic_version": 1}


def test_concurrent_inits_sharing_one_postgresql_database(tmp_path: Path, pg_database: Callable[[], str]) -> None:
    """Dagster's storage and our tables in one database, each `init` with its own instance folder (two
    machines, say): the advisory locks alone serialise them."""
    database = pg_database()
    processes = []
    for n in range(INITS):
        env = {**os.environ, "DAGSTER_HOME": str(tmp_path / f"home{n}"), "DAGSTER_POSTGRES_URL": database}
        env["MARKETING_DATABASE_URL"] = database
        processes.append(
            subprocess.Popen([CLI, "init"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    results = [(p.communicate(timeout=300), p.returncode) for p in processes]
    assert [code for _, code in results] == [0] * INITS, results
    assert _alembic_rows(database) == {"alembic_version": 1, "marketing_pipeline_alembic_version": 1}
