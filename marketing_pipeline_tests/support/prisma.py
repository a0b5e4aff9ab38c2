"""The NestJS app's side of the shared tables, in tests: the real Prisma 7 client generated from the
specification's models (`prisma_app/`), driven through `scripts/app.ts` (run with tsx), one process per
call, as the app's marketing service would call it."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

APP = Path(__file__).parent.parent / "prisma_app"
INSTALL = APP / "install.sh"
CLIENT = APP / "generated" / "prisma" / "client.ts"
TSX = APP / "node_modules" / ".bin" / "tsx"
INSTALLED_LOCK = APP / "node_modules" / ".package-lock.json"  # npm writes it on every install
SOURCES = (APP / "package.json", APP / "package-lock.json", APP / "prisma" / "schema.prisma")


class PrismaCallError(RuntimeError):
    """A call the Prisma client refused (its message, one line)."""


def installed() -> bool:
    """The packages and the generated client are there, and newer than what they are made from."""
    if not (CLIENT.exists() and TSX.exists() and INSTALLED_LOCK.exists()):
        return False
    built = min(CLIENT.stat().st_mtime, INSTALLED_LOCK.stat().st_mtime)
    return all(source.stat().st_mtime <= built for source in SOURCES)


def ensure_installed() -> None:
    """Install and generate when needed, one process at a time (pytest-xdist workers share the folder).
    Raises with the installer's own words when it cannot (no Node, no registry)."""
    with FileLock(APP / ".install.lock"):
        if installed():
            return
        done = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not installed():
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"{INSTALL.name} failed: " + " | ".join(tail))


@dataclass(frozen=True)
class PrismaApp:
    """The app's Prisma client on one PostgreSQL database."""

    database_url: str

    def call(self, command: str, *args: str) -> Any:
        env = {**os.environ, "DATABASE_URL": self.database_url}
        done = subprocess.run(
            [str(TSX), "scripts/app.ts", command, *args],
            cwd=APP,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise PrismaCallError(done.stderr.strip() or f"{command} exited with {done.returncode}")
        return json.loads(done.stdout)

    def create_sync(self, **data: Any) -> dict[str, Any]:
        return self.call("create-sync", json.dumps(data))

    def update_sync(self, sync_id: str, **data: Any) -> dict[str, Any]:
        return self.call("update-sync", sync_id, json.dumps(data))

    def delete_sync(self, sync_id: str) -> dict[str, Any]:
        return self.call("delete-sync", sync_id)

    def list_syncs(self) -> list[dict[str, Any]]:
        return self.call("list-syncs")

    def get_sync(self, sync_id: str) -> dict[str, Any]:
        """The sync with its last 10 runs (`GET /syncs/:id`)."""
        return self.call("get-sync", sync_id)

    def list_runs(self, sync_id: str) -> list[dict[str, Any]]:
        return self.call("list-runs", sync_id)

    def get_run(self, sync_id: str, run_id: str) -> dict[str, Any]:
        return self.call("get-run", sync_id, run_id)

    def sync_key(self, sync_id: str) -> str | None:
        """The sync's key (its Dagster partition), read from our schema with `$queryRaw`."""
        return self.call("sync-key", sync_id)
