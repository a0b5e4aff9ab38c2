"""Engines for the marketing store, and translation of connection failures into one clear line."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError, ProgrammingError

from marketing_pipeline.errors import StoreUnavailableError

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def get_engine(url: str) -> Engine:
    """One pooled engine per URL for the life of the process."""
    with _lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreUnavailableError(f"MARKETING_DATABASE_URL is not a database URL: {safe_url(url)}") from None
        kwargs: dict = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif parsed.get_backend_name() == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": 5}
        try:
            engine = create_engine(parsed, **kwargs)
        except (NoSuchModuleError, ImportError) as exc:
            raise StoreUnavailableError(
                f"no database driver for {safe_url(url)} (check MARKETING_DATABASE_URL): {exc}"
            ) from None
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        _engines[url] = engine
        return engine


def dispose_engine(url: str) -> None:
    with _lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


MISSING_TABLE = ("no such table", "does not exist")


def _first_line(exc: BaseException) -> str:
    reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    return reason[0] if reason else type(exc).__name__


def _our_table_missing(exc: BaseException) -> bool:
    """The database answers, but `init` has not created our tables (SQLite and PostgreSQL wording)."""
    first = _first_line(exc)
    return any(marker in first for marker in MISSING_TABLE) and ("Marketing" in first or "alembic" in first)


def unavailable(url: str, exc: BaseException) -> StoreUnavailableError:
    first = _first_line(exc)
    if _our_table_missing(exc):
        return StoreUnavailableError(
            f"the marketing tables are not in {safe_url(url)} yet: run `marketing-pipeline init` ({first})"
        )
    return StoreUnavailableError(
        f"cannot use the marketing database {safe_url(url)} (check MARKETING_DATABASE_URL): {first}"
    )


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite store (None for other databases and in-memory ones)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.query.get("uri"):  # `file:...?uri=true` names its file (or memory) its own way
        return None
    return Path(parsed.database)


@contextmanager
def connect(url: str, *, begin: bool = True, create: bool = False) -> Iterator[Connection]:
    """A connection (in a transaction unless `begin=False`); an unreachable database is one clear error.
    Only `create=True` (migrations) may create an SQLite file: reading before `init` leaves nothing behind."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        if not create:
            raise StoreUnavailableError(
                f"the marketing tables are not in {safe_url(url)} yet: run `marketing-pipeline init` (no such file)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = get_engine(url)
    try:
        with engine.begin() if begin else engine.connect() as conn:
            yield conn
    except OperationalError as exc:
        raise unavailable(url, exc) from None
    except ProgrammingError as exc:
        if _our_table_missing(exc):
            raise unavailable(url, exc) from None
        raise
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise unavailable(url, exc) from None
        raise
