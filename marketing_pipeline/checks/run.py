"""Run every check: the independent ones at once (ConnectWise, Encharge, the store, Dagster, the webserver,
alerts), each chain in its own order; what each says is scrubbed of secrets before anyone sees it."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from marketing_pipeline.checks import apis, deployment
from marketing_pipeline.checks.verdicts import CHECKS, Finding, Status, in_order
from marketing_pipeline.errors import one_line
from marketing_pipeline.store.models import Sync
from marketing_pipeline.transport.redact import scrub

GROUPS = {
    "connectwise": [c for c, _ in CHECKS if c.startswith("connectwise.")],
    "encharge": ["encharge.account"],
    "store": ["store.database", "store.syncs"],
    "dagster": ["dagster.instance", "dagster.daemon"],
    "webserver": ["dagster.webserver"],
    "alerts": ["alerts.webhook", "alerts.email"],
}


def _guarded(group: str, probe: Callable[[], list[Finding]]) -> Callable[[], list[Finding]]:
    """A probe that fails unexpectedly is a finding to fix (its first check), never a traceback."""

    def run() -> list[Finding]:
        started = time.perf_counter()
        try:
            return probe()
        except Exception as exc:
            reason = one_line(str(exc)) or type(exc).__name__
            message = f"unexpected failure while checking: {reason}"
            return [Finding(GROUPS[group][0], Status.FIX, message, seconds=time.perf_counter() - started)]

    return run


def run_checks(*, send_test_alert: bool = False) -> tuple[list[Finding], float]:
    """Every finding, in report order, and the wall time of the whole check."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(GROUPS), thread_name_prefix="check") as pool:
        store: Future[tuple[list[Finding], list[Sync] | None]] = pool.submit(deployment.check_store)

        def syncs() -> list[apis.SyncFilter]:
            try:
                return deployment.sync_filters(store.result()[1])
            except Exception:
                return deployment.sync_filters(None)

        def store_findings() -> list[Finding]:
            return store.result()[0]

        futures = [
            pool.submit(_guarded("connectwise", lambda: apis.check_connectwise(syncs))),
            pool.submit(_guarded("encharge", apis.check_encharge)),
            pool.submit(_guarded("store", store_findings)),
            pool.submit(_guarded("dagster", deployment.check_dagster)),
            pool.submit(_guarded("webserver", deployment.check_webserver)),
            pool.submit(_guarded("alerts", lambda: deployment.check_alerts(send_test_alert))),
        ]
        findings = [finding for future in futures for finding in future.result()]
    secrets = deployment.alert_settings().secrets()
    safe = [replace(f, message=one_line(scrub(f.message, secrets), limit=1000)) for f in findings]
    return in_order(safe), time.perf_counter() - started
