"""The check's verdicts and report, without I/O: names behind ids, migrations, heartbeats, exit codes."""

from __future__ import annotations

import pytest

from marketing_pipeline.checks.verdicts import (
    CHECKS,
    EXIT_FIX,
    EXIT_OK,
    Finding,
    SetupLists,
    Status,
    daemon_verdict,
    exit_code,
    filter_ids_verdict,
    migration_verdict,
    missing_instance_settings,
    record_names,
    report_json,
    report_lines,
)
from marketing_pipeline.sync.domain import FilterConfig

LISTS = SetupLists(
    company_types={48: "Fully Managed", 35: "Owner", 5: "Partner"},
    company_statuses={1: "Active", 2: "Inactive", 19: "Active - Onboarding"},
    contact_types={1: "Approver", 2: "Decision Maker", 19: "Managed Group"},
    inactive_statuses=frozenset({2}),
)


def filters(**changes: list[int]) -> FilterConfig:
    base = {"companyTypes": [48], "companyStatuses": [1], "contactTypes": [1, 2], "contactExcludeTypes": [19]}
    return FilterConfig.model_validate({**base, **changes})


def test_every_id_is_shown_with_its_name() -> None:
    finding = filter_ids_verdict("s", filters(companyExcludeTypes=[35, 5]), LISTS)
    assert finding.status is Status.OK and finding.subject == "s"
    assert finding.message == (
        "company types 48 Fully Managed (not 35 Owner, 5 Partner); statuses 1 Active; "
        "contact types 1 Approver, 2 Decision Maker (not 19 Managed Group)"
    )


def test_an_id_connectwise_does_not_have_is_to_fix() -> None:
    finding = filter_ids_verdict("s", filters(companyTypes=[48, 99], contactTypes=[7]), LISTS)
    assert finding.status is Status.FIX
    assert finding.message.startswith(
        "ConnectWise has no company type 99 (companyTypes); no contact type 7 (contactTypes): correct the sync's filter"
    )
    assert finding.details["unknown"] == ["company type 99 (companyTypes)", "contact type 7 (contactTypes)"]


def test_an_inactive_status_in_the_filter_is_a_warning() -> None:
    finding = filter_ids_verdict("s", filters(companyStatuses=[1, 2]), LISTS)
    assert finding.status is Status.WARN and "status 2 Inactive is marked inactive" in finding.message


def test_contact_types_are_named_by_their_description() -> None:
    records = [{"id": 1, "description": "Approver"}, {"id": 2, "name": "Other"}, {"id": "x"}, "junk"]
    assert record_names(records, label="description") == {1: "Approver", 2: "Other"}


@pytest.mark.parametrize(
    ("current", "behind", "status", "says"),
    [
        ("0003", 0, Status.OK, "db: migrations at head (0003)"),
        ("0001", 2, Status.FIX, "db is 2 migrations behind (at 0001, head 0003): run `marketing-pipeline init`"),
        ("0002", 1, Status.FIX, "db is 1 migration behind (at 0002, head 0003)"),
        (None, None, Status.FIX, "db answers but has no marketing tables yet: run `marketing-pipeline init`"),
        ("0099", None, Status.FIX, "db is at migration 0099, which this install does not know (head 0003)"),
    ],
)
def test_migrations(current: str | None, behind: int | None, status: Status, says: str) -> None:
    finding = migration_verdict("db", current, "0003", behind)
    assert finding.status is status and finding.message.startswith(says)


def test_instance_settings_missing_from_a_dagster_yaml() -> None:
    packaged = {"run_coordinator": {}, "concurrency": {}, "run_retries": {}, "telemetry": {}}
    assert missing_instance_settings({"run_coordinator": {"x": 1}, "storage": {}}, packaged) == [
        "concurrency",
        "run_retries",
    ]


def test_the_daemon_heartbeat() -> None:
    required = ["SCHEDULER", "SENSOR"]
    assert daemon_verdict({}, required, 180).status is Status.WARN
    stale = daemon_verdict({"SCHEDULER": 5, "SENSOR": 4000}, required, 180)
    assert stale.status is Status.WARN and stale.message.startswith("no recent heartbeat from SENSOR (the newest")
    assert "5 s ago" in stale.message
    fine = daemon_verdict({"SCHEDULER": 5, "SENSOR": 31}, required, 180)
    assert fine.status is Status.OK and fine.message == "heartbeating: 2 daemons, the oldest heartbeat 31 s ago"


def test_exit_codes_and_the_report() -> None:
    ok = Finding("encharge.account", Status.OK, "fine", seconds=0.25)
    warn = Finding("dagster.daemon", Status.WARN, "no daemon")
    fix = Finding("connectwise.keys", Status.FIX, "wrong key")
    assert exit_code([ok, warn]) == EXIT_OK
    assert exit_code([ok, warn], strict=True) == EXIT_FIX
    assert exit_code([ok, fix]) == EXIT_FIX
    lines = report_lines([warn, ok, fix], 1.234)
    assert lines == [
        "FIX   ConnectWise keys  wrong key  [0.0 s]",
        "ok    Encharge account  fine  [0.2 s]",
        "WARN  Dagster daemon    no daemon  [0.0 s]",
        "1 to fix, 1 warnings, 1 ok, 0 off (1.2 s)",
    ]
    report = report_json([ok, fix], 2.0)
    assert report["ok"] is False and report["exitCode"] == 1 and report["counts"]["fix"] == 1
    assert [c["id"] for c in report["checks"]] == ["connectwise.keys", "encharge.account"]
    assert {c for c, _ in CHECKS} >= {c["id"] for c in report["checks"]}
