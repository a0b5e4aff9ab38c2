"""What `marketing-pipeline check` says, without I/O: the checks in their order, a verdict each (one line:
what is right, or what to fix), the rules that turn what was seen into a verdict, the report and the exit
code. The probes that look at ConnectWise, Encharge, the databases and Dagster live beside this module."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from marketing_pipeline.sync.domain import FilterConfig


class Status(str, Enum):
    OK = "ok"  # right as it is
    WARN = "warn"  # works, but a real deployment should change it (or something is not running yet)
    FIX = "fix"  # the sync cannot work, or would do something wrong, until this is fixed
    OFF = "off"  # an optional part that is not configured
    SKIPPED = "skipped"  # not looked at, because something it needs failed first


# Exit codes, for deployment scripts.
EXIT_OK = 0  # nothing to fix (warnings and channels that are off are fine)
EXIT_FIX = 1  # something to fix (with --strict, a warning too)
EXIT_USAGE = 2  # the command was called wrongly (click's own usage errors also exit 2)

# Every check, in the order they are reported: (id, what it looks at).
CHECKS: tuple[tuple[str, str], ...] = (
    ("connectwise.site", "ConnectWise site"),
    ("connectwise.keys", "ConnectWise keys"),
    ("connectwise.role", "ConnectWise role"),
    ("connectwise.ids", "ConnectWise ids"),
    ("encharge.account", "Encharge account"),
    ("store.database", "marketing database"),
    ("store.syncs", "syncs"),
    ("dagster.instance", "Dagster instance"),
    ("dagster.daemon", "Dagster daemon"),
    ("dagster.webserver", "Dagster webserver"),
    ("alerts.webhook", "webhook alerts"),
    ("alerts.email", "email alerts"),
)
TITLES = dict(CHECKS)
ORDER = {check: n for n, (check, _) in enumerate(CHECKS)}
MARKS = {Status.OK: "ok", Status.WARN: "WARN", Status.FIX: "FIX", Status.OFF: "off", Status.SKIPPED: "skip"}


@dataclass(frozen=True)
class Finding:
    check: str  # one of CHECKS
    status: Status
    message: str  # one line, no secret
    subject: str | None = None  # what it is about when a check has several findings (a sync's key)
    details: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def title(self) -> str:
        title = TITLES[self.check]
        return f"{title} ({self.subject})" if self.subject else title


def skipped(check: str, because: str) -> Finding:
    return Finding(check, Status.SKIPPED, f"not checked: {because}")


# --- the rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupLists:
    """ConnectWise's names behind the ids a filter uses."""

    company_types: Mapping[int, str]
    company_statuses: Mapping[int, str]
    contact_types: Mapping[int, str]
    inactive_statuses: frozenset[int] = frozenset()


def record_names(records: Iterable[Any], label: str = "name") -> dict[int, str]:
    """`{id: name}` of a setup list's raw records; contact types carry `description` where the others carry
    `name`, so either is read."""
    names: dict[int, str] = {}
    for record in records:
        if not isinstance(record, dict) or not isinstance(record.get("id"), int):
            continue
        text = record.get(label) or record.get("name") or record.get("description")
        names[record["id"]] = str(text) if text is not None else ""
    return names


_FILTER_PARTS = (
    # (field, list, what one id is, how it reads in the summary)
    ("companyTypes", "company_types", "company type", "company types {}"),
    ("companyExcludeTypes", "company_types", "company type", "not {}"),
    ("companyStatuses", "company_statuses", "company status", "statuses {}"),
    ("contactTypes", "contact_types", "contact type", "contact types {}"),
    ("contactExcludeTypes", "contact_types", "contact type", "not {}"),
)


def filter_ids_verdict(sync_label: str, filters: FilterConfig, lists: SetupLists) -> Finding:
    """Each id of a sync's filter with its ConnectWise name ("48 Fully Managed"); an id ConnectWise does not
    have is something to fix (the filter would silently match nobody through it)."""
    values = filters.model_dump(by_alias=True)
    unknown: list[str] = []
    named: dict[str, list[str]] = {}
    inactive: list[str] = []
    for name, list_name, kind, _ in _FILTER_PARTS:
        table: Mapping[int, str] = getattr(lists, list_name)
        for ident in values.get(name) or []:
            if ident not in table:
                unknown.append(f"{kind} {ident} ({name})")
                continue
            named.setdefault(name, []).append(f"{ident} {table[ident]}".rstrip())
            if name == "companyStatuses" and ident in lists.inactive_statuses:
                inactive.append(f"{ident} {table[ident]}")
    details = {"names": named, "unknown": unknown}
    if unknown:
        return Finding(
            "connectwise.ids",
            Status.FIX,
            f"ConnectWise has no {'; no '.join(unknown)}: correct the sync's filter "
            f"(`marketing-pipeline syncs update {sync_label} --company-type ...`, or its filterConfig)",
            subject=sync_label,
            details=details,
        )
    summary = []
    for name, _, _, template in _FILTER_PARTS:
        if named.get(name):
            text = template.format(", ".join(named[name]))
            summary.append(f"({text})" if text.startswith("not ") else text)
    message = _join_parts(summary)
    if inactive:
        return Finding(
            "connectwise.ids",
            Status.WARN,
            f"{message}; status {', '.join(inactive)} is marked inactive in ConnectWise: is that intended?",
            subject=sync_label,
            details=details,
        )
    return Finding("connectwise.ids", Status.OK, message, subject=sync_label, details=details)


def _join_parts(parts: Sequence[str]) -> str:
    """ "company types 48 Fully Managed (not 35 Owner); statuses ...": an exclusion follows its inclusion."""
    joined: list[str] = []
    for part in parts:
        if part.startswith("(not ") and joined:
            joined[-1] += f" {part}"
        else:
            joined.append(part)
    return "; ".join(joined)


def migration_verdict(shown_url: str, current: str | None, head: str, behind: int | None) -> Finding:
    """Where the marketing tables stand against this install's migrations. `behind` is None when the
    database's revision is one this install does not know (a newer install migrated it)."""
    details = {"revision": current, "head": head, "behind": behind}
    if current is None:
        return Finding(
            "store.database",
            Status.FIX,
            f"{shown_url} answers but has no marketing tables yet: run `marketing-pipeline init`",
            details=details,
        )
    if behind is None:
        return Finding(
            "store.database",
            Status.FIX,
            f"{shown_url} is at migration {current}, which this install does not know (head {head}): a newer "
            "marketing-pipeline migrated it; run that version here too",
            details=details,
        )
    if behind:
        return Finding(
            "store.database",
            Status.FIX,
            f"{shown_url} is {behind} migration{'s' if behind != 1 else ''} behind (at {current}, head {head}): "
            "run `marketing-pipeline init` (it migrates, and adds nothing that is already there)",
            details=details,
        )
    return Finding("store.database", Status.OK, f"{shown_url}: migrations at head ({head})", details=details)


def missing_instance_settings(written: Mapping[str, Any], packaged: Mapping[str, Any]) -> list[str]:
    """Sections of the package's instance settings that an instance's dagster.yaml lacks (an instance
    written by hand, or by an install that did not carry them). Values a deployment changed are its own."""
    return [name for name in packaged if name != "telemetry" and name not in written]


def daemon_verdict(ages: Mapping[str, float], required: Sequence[str], tolerance_seconds: float) -> Finding:
    """`ages`: seconds since each daemon's last heartbeat. Every required daemon must be recent."""
    details = {"secondsSinceHeartbeat": dict(ages), "required": list(required)}
    if not ages:
        return Finding(
            "dagster.daemon",
            Status.WARN,
            "no daemon has ever heartbeated on this instance: schedules, sensors, queued runs and run retries "
            "wait until `dagster-daemon run` starts",
            details=details,
        )
    stale = sorted(name for name in required if ages.get(name, float("inf")) > tolerance_seconds)
    if stale:
        newest = min(ages.values())
        return Finding(
            "dagster.daemon",
            Status.WARN,
            f"no recent heartbeat from {', '.join(stale)} (the newest of any daemon {_ago(newest)}): is "
            "`dagster-daemon run` running against this instance?",
            details=details,
        )
    newest = max(ages[name] for name in required) if required else min(ages.values())
    return Finding(
        "dagster.daemon",
        Status.OK,
        f"heartbeating: {len(required)} daemons, the oldest heartbeat {_ago(newest)}",
        details=details,
    )


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


# --- the report ----------------------------------------------------------------------------------------


def in_order(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (ORDER[f.check], f.subject or ""))


def exit_code(findings: Iterable[Finding], *, strict: bool = False) -> int:
    failing = {Status.FIX, Status.WARN} if strict else {Status.FIX}
    return EXIT_FIX if any(f.status in failing for f in findings) else EXIT_OK


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    found = [f.status for f in findings]
    return {status.value: found.count(status) for status in Status}


def summary_line(findings: Sequence[Finding], seconds: float) -> str:
    tally = counts(findings)
    parts = [f"{tally['fix']} to fix" if tally["fix"] else "nothing to fix"]
    parts += [f"{tally[name]} {word}" for name, word in (("warn", "warnings"), ("ok", "ok"), ("off", "off"))]
    if tally["skipped"]:
        parts.append(f"{tally['skipped']} not checked")
    return f"{', '.join(parts)} ({seconds:.1f} s)"


def report_lines(findings: Sequence[Finding], seconds: float) -> list[str]:
    """One line per finding (`FIX   ConnectWise keys   ...   [0.3 s]`), then the summary."""
    ordered = in_order(findings)
    width = max((len(f.title) for f in ordered), default=0)
    lines = [f"{MARKS[f.status]:<5} {f.title:<{width}}  {f.message}  [{f.seconds:.1f} s]" for f in ordered]
    return [*lines, summary_line(ordered, seconds)]


def report_json(findings: Sequence[Finding], seconds: float, *, strict: bool = False) -> dict[str, Any]:
    ordered = in_order(findings)
    code = exit_code(ordered, strict=strict)
    return {
        "ok": code == EXIT_OK,
        "exitCode": code,
        "seconds": round(seconds, 3),
        "counts": counts(ordered),
        "checks": [
            {
                "id": f.check,
                "title": f.title,
                "subject": f.subject,
                "status": f.status.value,
                "message": f.message,
                "seconds": round(f.seconds, 3),
                "details": dict(f.details),
            }
            for f in ordered
        ],
    }
