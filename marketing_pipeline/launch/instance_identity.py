"""Which Dagster instance this is, and whether it is the deployment's.

An instance is identified by its run storage (the id Dagster keeps in it: processes that share the storage
see the same runs), never by its URL (which may carry a password). Every run's link records the instance
that launched it; the daemon records the instance it runs (the deployment's) every minute, through the
registry sensor. A shell whose instance differs cannot see the deployment's runs, so launching from it
would split the history, miss the UI's queue and alerts, and (before issue 22) could take a live run's lock.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dagster as dg

from marketing_pipeline import settings
from marketing_pipeline.errors import ConfigurationError, MarketingPipelineError
from marketing_pipeline.launch.dagster_internals import run_storage_id
from marketing_pipeline.store.daemon_instances import DaemonSighting
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.storable import utcnow
from marketing_pipeline.sync.clock import readable_age

# The registry sensor reports the daemon's instance every minute: one seen this recently is running now.
DAEMON_LIVE_WITHIN = timedelta(minutes=10)


class WrongDagsterInstanceError(MarketingPipelineError):
    """This shell's Dagster instance is not the one the deployment's daemon runs."""


@dataclass(frozen=True)
class InstanceIdentity:
    run_storage_id: str | None  # None when the storage keeps no id (an in-memory instance)
    dagster_home: str

    def describe(self) -> str:
        return f"this Dagster instance (DAGSTER_HOME={self.dagster_home})"


def identity_of(instance: dg.DagsterInstance) -> InstanceIdentity:
    """The instance's run storage id (Dagster's own, kept in its `instance_info` table) and its folder."""
    return InstanceIdentity(run_storage_id=run_storage_id(instance), dagster_home=str(instance.root_directory))


def record_daemon(instance: dg.DagsterInstance, store: SyncStore) -> None:
    """Note in the store that a daemon runs this instance (called from the daemon's registry sensor)."""
    identity = identity_of(instance)
    if identity.run_storage_id:
        store.record_daemon(identity.run_storage_id, identity.dagster_home, socket.gethostname())


def deployment_check(store: SyncStore, identity: InstanceIdentity) -> str | None:
    """Refuse an instance that is not the one a daemon is running now; a note (for stderr) when it differs
    from the one a daemon ran earlier (the deployment may have moved: this cannot tell); None when it is
    the deployment's, or no daemon ever said."""
    sighting = store.daemon_instance()
    if sighting is None or identity.run_storage_id is None or sighting.run_storage_id == identity.run_storage_id:
        return None
    age = utcnow() - sighting.seen_at
    where = _daemon(sighting, age)
    if age <= DAEMON_LIVE_WITHIN:
        raise WrongDagsterInstanceError(
            f"{identity.describe()} is not the deployment's: {where}. Runs launched here would miss its run "
            "history, its one-run-per-sync queue and its alerts, and it cannot see the runs in progress there. "
            "Set DAGSTER_HOME (and DAGSTER_POSTGRES_URL, if its storage is PostgreSQL) to the deployment's"
        )
    return f"warning: {identity.describe()} is not the one the deployment's daemon last ran ({where})"


def _daemon(sighting: DaemonSighting, age: timedelta) -> str:
    return (
        f"the daemon runs DAGSTER_HOME={sighting.dagster_home} (run storage {sighting.run_storage_id[:8]}) on "
        f"host {sighting.host}, last seen {readable_age(age)} ago"
    )


def dagster_home_in_use() -> Path:
    """The DAGSTER_HOME this process uses (without creating anything)."""
    return settings.dagster_home().resolve()


@contextmanager
def existing_instance(home: Path) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance in `home`, which must have been set up (`init`): a command that decides from
    what an instance knows must never decide from an empty one made by a mistyped DAGSTER_HOME."""
    if not (home / "dagster.yaml").exists():
        raise ConfigurationError(
            f"no Dagster instance at DAGSTER_HOME={home} (no dagster.yaml): set DAGSTER_HOME to the deployment's, "
            "or run `marketing-pipeline init` there first"
        )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance
