"""What a sync did, per contact and in total, in the seed's words ("83 synced, 12 new, 3 removed")."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from marketing_pipeline.sync.domain import SyncCounts
from marketing_pipeline.sync.plan_types import PlanCounts, SyncPlan

DETAILS_LIMIT = 10_000  # per-contact rows kept in a run record; failures are always kept
SHARED_LIMIT = 1_000  # people shared with other syncs listed in a run record (the notes give the count)


@dataclass(frozen=True)
class ActionResult:
    action: str  # create / update / add_tag / remove_tag / skip
    email: str | None
    status: str  # ok / failed / skipped / planned (dry run) / not_sent (the writes stopped before it)
    reason: str | None = None
    error: str | None = None
    person_id: str | None = None
    contact_id: int | None = None
    changes: str | None = None

    def as_detail(self) -> dict[str, Any]:
        out = {
            "action": self.action,
            "email": self.email,
            "status": self.status,
            "reason": self.reason,
            "error": self.error,
            "personId": self.person_id,
            "contactId": self.contact_id,
            "changes": self.changes,
        }
        return {k: v for k, v in out.items() if v is not None}


def _key(result: ActionResult) -> str:
    return (result.email or result.person_id or str(result.contact_id)).lower()


@dataclass(frozen=True)
class SyncOutcome:
    """`brake` is why the plan was (or, in a dry run, would be) stopped; `forced` that the operator
    overrode it; `duplicates` the addresses several Encharge people share; `shared` the people other syncs'
    audiences hold too, each with the sync that owns their fields (`sync.owners`); `notes` what else the operator
    should know about the reads (people counted but not listed, people found by lookup); `reads` the reads'
    own figures by API (`encharge`: people read, counts before and after, people listed twice, short pages;
    `connectwise`: records that changed while it was read); `tag_ownership` the tag's carriers the sync
    did not tag, while it does not own its tag; `stopped` why the writes stopped before the plan
    was through (the sync was paused), None when they did not."""

    plan: PlanCounts
    results: list[ActionResult]
    dry_run: bool
    plan_fingerprint: str
    brake: str | None = None
    forced: bool = False
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    shared: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reads: dict[str, Any] = field(default_factory=dict)
    stopped: str | None = None
    tag_ownership: dict[str, Any] | None = None  # `Ownership.as_details()`: while the sync does not own its tag

    @property
    def failures(self) -> list[ActionResult]:
        return [r for r in self.results if r.status == "failed"]

    def counts(self) -> SyncCounts:
        ok = Counter()
        changed_people: set[str] = set()
        # People the apply step found gone (deleted since the read): skipped on top of the plan's skips.
        gone = {_key(r) for r in self.results if r.status == "skipped" and r.action != "skip"}
        for result in self.results:
            if result.status != "ok":
                continue
            ok[result.action] += 1
            if result.action in ("update", "add_tag"):
                changed_people.add(_key(result))
        return SyncCounts(
            contacts_total=self.plan.contacts_total,
            contacts_created=ok["create"],
            contacts_updated=len(changed_people),
            contacts_removed=ok["remove_tag"],
            contacts_skipped=self.plan.skip + len(gone),
            contacts_failed=len({_key(r) for r in self.failures}),
        )

    def summary(self) -> str:
        if self.dry_run:
            p = self.plan
            line = (
                f"Dry run: would create {p.create}, update {p.update}, tag {p.add_tag}, "
                f"untag {p.remove_tag}; {p.skip} skipped"
            )
            return line + (f"; the real run would be braked: {self.brake}" if self.brake else "")
        if self.stopped:
            failed = f", {self.counts().contacts_failed} failed" if self.failures else ""
            made, left = self.changes_made, self.not_sent
            return f"Stopped before the plan was through: {made} change(s) made, {left} not sent{failed}"
        return summary_line(self.counts())

    @property
    def changes_made(self) -> int:
        return sum(1 for r in self.results if r.status == "ok" and r.action != "skip")

    @property
    def not_sent(self) -> int:
        return sum(1 for r in self.results if r.status == "not_sent")

    def details(self, limit: int = DETAILS_LIMIT) -> dict[str, Any]:
        failures = [r.as_detail() for r in self.failures]
        others = [r.as_detail() for r in self.results if r.status != "failed"]
        kept = others[: max(0, limit - len(failures))]
        return {
            "dryRun": self.dry_run,
            "planHash": self.plan_fingerprint,
            "summary": self.summary(),
            "forced": self.forced,
            "brake": self.brake,
            "duplicates": self.duplicates,
            "sharedPeople": self.shared[:SHARED_LIMIT],
            "notes": self.notes,
            "reads": self.reads,
            "contacts": failures + kept,
            "truncated": len(others) - len(kept),
            "tagOwnership": self.tag_ownership,
        }


def summary_line(counts: SyncCounts) -> str:
    synced = counts.contacts_total - counts.contacts_skipped - counts.contacts_failed
    line = f"{synced} synced, {counts.contacts_created} new, {counts.contacts_removed} removed"
    if counts.contacts_failed:
        line += f", {counts.contacts_failed} failed"
    return line


def planned_results(plan: SyncPlan) -> list[ActionResult]:
    """Results for a dry run: every action planned, nothing written."""
    return [
        ActionResult(
            action=row.action,
            email=row.email,
            person_id=row.person_id,
            contact_id=row.contact_id,
            status="skipped" if row.action == "skip" else "planned",
            reason=row.reason,
            changes=row.changes,
        )
        for row in plan.actions.itertuples(index=False)
    ]
