"""The Dagster instance folder the CLI uses: `$DAGSTER_HOME`, given the repository's instance
configuration when it has none, and the lock that lets `init` run twice at once safely."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from filelock import FileLock

from marketing_pipeline import settings
from marketing_pipeline.errors import ConfigurationError
from marketing_pipeline.store.database import exclusive, parse_database_url

if TYPE_CHECKING:
    from importlib.abc import Traversable

# The instance's settings, written down in one place: the repository's dagster.yaml. The package carries it
# (`launch/dagster.yaml` links to it, and a build copies it in), so an install without the source tree (a
# wheel, a container image) has the same settings. `init` writes them, with the storage chosen, into
# DAGSTER_HOME, which is where Dagster reads them.
INSTANCE_SETTINGS: Traversable = resources.files(__package__) / "dagster.yaml"
# The workspace `dagster dev` and the daemon load (one code location, marketing_pipeline.definitions).
REPOSITORY_WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"
POSTGRES_STORAGE = {"postgres": {"postgres_url": {"env": settings.DAGSTER_POSTGRES_URL}}}
# Beside Dagster's SQLite storage (which lives in the instance folder).
INIT_LOCK_FILE = ".marketing-pipeline-init.lock"
DAGSTER_STORAGE_LOCK = "marketing-pipeline: set up Dagster's storage"


def instance_settings(source: Traversable | None = None) -> dict[str, Any]:
    """The instance settings the package carries. Missing or empty, they fail loudly: an instance written
    without them would silently lose the run queue, the one-run-per-sync limit, run monitoring and retries."""
    source = source or INSTANCE_SETTINGS
    if not source.is_file():
        raise ConfigurationError(
            f"the instance settings are missing from this install ({source}): it was built without "
            "marketing_pipeline/launch/dagster.yaml; reinstall the package from the repository (`pip install .`)"
        )
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(config, dict) or "run_coordinator" not in config:
        raise ConfigurationError(f"the instance settings in {source} are not the repository's dagster.yaml")
    return config


def instance_config(*, postgres: bool, source: Traversable | None = None) -> dict[str, Any]:
    """The repository's instance configuration, with PostgreSQL storage (read from DAGSTER_POSTGRES_URL
    when the instance starts) or Dagster's default SQLite storage in the instance folder."""
    config = instance_settings(source)
    config.setdefault("telemetry", {"enabled": False})
    if postgres:
        config = {"storage": POSTGRES_STORAGE, **config}
    return config


def write_instance_config(home: Path, *, postgres: bool) -> Path:
    """`home/dagster.yaml`, unless another process wrote it first: written whole, then put in place."""
    path = home / "dagster.yaml"
    storage = "PostgreSQL (DAGSTER_POSTGRES_URL)" if postgres else "SQLite in this folder"
    header = f"# Written by `marketing-pipeline init` from the repository's dagster.yaml; storage: {storage}.\n"
    body = yaml.safe_dump(instance_config(postgres=postgres), sort_keys=False)  # before anything is written
    draft = home / f".dagster.yaml.{os.getpid()}.draft"
    draft.write_text(header + body, encoding="utf-8")
    try:
        os.link(draft, path)  # atomic, and fails rather than replace a file that is already there
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path


def dagster_postgres_url() -> str | None:
    """DAGSTER_POSTGRES_URL, checked: a postgresql:// URL (or None when unset)."""
    url = settings.value(settings.DAGSTER_POSTGRES_URL)
    if url is None:
        return None
    if parse_database_url(url, settings.DAGSTER_POSTGRES_URL).get_backend_name() != "postgresql":
        raise ConfigurationError(f"{settings.DAGSTER_POSTGRES_URL} must be a postgresql:// URL")
    return url


def ensure_dagster_home(*, postgres: bool | None = None) -> Path:
    """`$DAGSTER_HOME` (set to the default if unset), given a dagster.yaml if it has none: PostgreSQL
    storage when DAGSTER_POSTGRES_URL is set (unless `postgres` says otherwise), else SQLite."""
    home = settings.dagster_home().resolve()
    os.environ[settings.DAGSTER_HOME] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    # Checked even when dagster.yaml exists (Dagster would only say "Can't load plugin"); the demo passes False.
    pg_url = dagster_postgres_url() if postgres is not False else None
    if not (home / "dagster.yaml").exists():
        write_instance_config(home, postgres=pg_url is not None if postgres is None else postgres)
    return home


def _resolve(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"env"}:
        return os.environ.get(str(value["env"]))
    return value


def storage_postgres_urls(home: Path) -> list[str]:
    """The PostgreSQL databases the instance in `home` keeps Dagster's storage in, from its dagster.yaml."""
    path = home / "dagster.yaml"
    config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}
    sections = [(config.get("storage") or {}).get("postgres")]
    sections += [
        (config.get(name) or {}).get("config") for name in ("run_storage", "event_log_storage", "schedule_storage")
    ]
    urls: list[str] = []
    for section in sections:
        if not isinstance(section, dict):
            continue
        url = _resolve(section.get("postgres_url"))
        if not url and isinstance(section.get("postgres_db"), dict):
            from dagster_postgres.utils import pg_url_from_config

            url = pg_url_from_config({"postgres_db": {k: _resolve(v) for k, v in section["postgres_db"].items()}})
        if url and url not in urls:
            urls.append(url)
    return urls


@contextmanager
def initialising(home: Path) -> Iterator[None]:
    """Set up the instance in `home` one process at a time: a file lock beside its SQLite storage, and an
    advisory lock on each PostgreSQL database its storage is in (Dagster creates its tables and stamps
    their Alembic revision with no lock of its own: two at once leave two heads)."""
    with ExitStack() as stack:
        stack.enter_context(FileLock(home / INIT_LOCK_FILE))
        for url in storage_postgres_urls(home):
            stack.enter_context(
                exclusive(url, DAGSTER_STORAGE_LOCK, settings.DAGSTER_POSTGRES_URL, label="Dagster storage database")
            )
        yield


def settle_daemon_cursors() -> list[str]:
    """Start the daemon's run-event consumer at the end of the (new) event log, as it would itself, so its
    first start does not warn "No cursor for event type ..., ignoring older events" at a newcomer. Only
    cursors that are missing are set; the keys are the daemon's own.

    Also gives the run storage its id now (`init` runs this under its lock): the first process to ask
    creates it, and two first runs at once would each create one."""
    import dagster as dg

    from marketing_pipeline.launch.dagster_internals import settle_run_event_cursors
    from marketing_pipeline.launch.instance_identity import identity_of

    with dg.DagsterInstance.get() as instance:
        identity_of(instance)
        return settle_run_event_cursors(instance)
