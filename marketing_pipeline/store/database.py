"""Engines for the marketing store, translation of connection failures into one clear line (never with a
password), and the locks that serialise setting a database up."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock
from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError, ProgrammingError

from marketing_pipeline import settings
from marketing_pipeline.errors import StoreUnavailableError
from marketing_pipeline.store.schema import OUR_SCHEMA
from marketing_pipeline.transport.redact import redact_url, scrub, url_secrets

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_url(url: str) -> str:
    """The URL with every credential hidden (the user-info password and password-like query parameters such
    as `?password=`), for messages; a value that is not a URL at all is not shown."""
    if "://" not in url or _CONTROL.search(url):
        return "<not a database URL>"
    return redact_url(url)


def parse_database_url(url: str, variable: str = settings.MARKETING_DATABASE_URL) -> URL:
    """The URL, or one plain line naming `variable` and what is wrong (never the password)."""
    example = "like postgresql://user@host/db or sqlite:///path/to/file.db"
    if _CONTROL.search(url):
        raise StoreUnavailableError(f"{variable} contains a control character (a pasted line break?): {example}")
    if url.lower().startswith("postgres://") or url.lower().startswith("postgres+"):
        raise StoreUnavailableError(
            f"{variable} starts with postgres://, which SQLAlchemy does not accept: write postgresql:// instead "
            f"({safe_url(url)})"
        )
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreUnavailableError(f"{variable} is not a database URL ({example})") from None
    except ValueError:  # the port
        raise StoreUnavailableError(
            f"{variable} has a port that is not a number from 1 to 65535: {safe_url(url)}"
        ) from None
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise StoreUnavailableError(f"{variable} has a port that is not a number from 1 to 65535: {safe_url(url)}")
    return parsed


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
        parsed = parse_database_url(url)
        kwargs: dict = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif parsed.get_backend_name() == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": 5}
        try:
            engine = create_engine(parsed, **kwargs)
        except (NoSuchModuleError, ImportError):
            raise StoreUnavailableError(
                f"no database driver for {safe_url(url)} (check MARKETING_DATABASE_URL: postgresql:// and "
                "sqlite:/// are supported)"
            ) from None
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _enable_sqlite_foreign_keys)
            # SQLite has no schemas: our tables sit in the one file beside the specification's.
            engine = engine.execution_options(schema_translate_map={OUR_SCHEMA: None})
        _engines[url] = engine
        return engine


def upsert_into(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can take `on_conflict_do_update`: SQLAlchemy has one per dialect, none portable."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def our_schema(conn: Connection) -> str | None:
    """Where our tables are on this connection's database: our schema, or None on SQLite (the one file)."""
    return None if conn.dialect.name == "sqlite" else OUR_SCHEMA


def dispose_engine(url: str) -> None:
    with _lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


MISSING_TABLE = ("no such table", "does not exist")


def _first_line(exc: BaseException) -> str:
    """The database's own reason, one line: never the SQL statement or its parameters SQLAlchemy appends."""
    reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    return reason[0] if reason else "the database gave no reason"


def describe_error(url: str, exc: BaseException) -> str:
    """A database error as one plain line, without SQL, parameters or credentials."""
    return scrub(_first_line(exc), url_secrets(url))[:300]


def _our_table_missing(exc: BaseException) -> bool:
    """The database answers, but `init` has not created our tables (SQLite and PostgreSQL wording)."""
    first = _first_line(exc)
    return any(marker in first for marker in MISSING_TABLE) and ("Marketing" in first or "alembic" in first)


def unavailable(url: str, exc: BaseException) -> StoreUnavailableError:
    first = describe_error(url, exc)
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
    except (ArgumentError, ValueError):  # not a URL at all: `get_engine` says so, in plain words
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


def _lock_key(purpose: str) -> int:
    return int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(
    url: str, purpose: str, variable: str = settings.MARKETING_DATABASE_URL, label: str = "marketing database"
) -> Iterator[None]:
    """Hold the lock named `purpose` on the database at `url`, across processes and machines: a session
    advisory lock on PostgreSQL (released if the holder dies), a file lock beside an SQLite file."""
    parsed = parse_database_url(url, variable)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        with FileLock(f"{parsed.database}.lock"):  # flock: released if the holder dies
            yield
        return
    if backend != "postgresql":
        yield
        return
    key = _lock_key(purpose)
    try:
        conn = get_engine(url).connect()
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        conn.commit()
    except OperationalError as exc:
        raise StoreUnavailableError(
            f"cannot use the {label} {safe_url(url)} (check {variable}): {describe_error(url, exc)}"
        ) from None
    try:
        yield
    finally:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()
        except DBAPIError:
            pass  # the session is gone, and its locks with it
        finally:
            conn.close()
