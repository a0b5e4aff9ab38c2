"""What "the audience converged" means, checked against the dataset's manifest and a snapshot taken before."""

from __future__ import annotations

from collections import Counter
from typing import Any

from marketing_pipeline.sandbox.dataset import TAG
from marketing_pipeline.sandbox.launch import Sandboxes

VOLATILE = ("tags", "updatedAt", "firstName", "lastName", "company", "name")


def assert_converged(boxes: Sandboxes, before: dict[str, dict[str, Any]]) -> None:
    manifest = boxes.dataset.manifest
    people = list(boxes.encharge.people.values())
    emails = Counter((p.get("email") or "").lower() for p in people if p.get("email"))
    duplicated = [e for e, n in emails.items() if n > 1]
    assert duplicated == [], f"people duplicated: {duplicated}"
    after = boxes.encharge.snapshot()
    lost = set(before) - set(after)
    assert lost == set(), f"people lost: {lost}"
    assert set(after) - set(before) <= manifest.creates
    tagged = {key for key, p in after.items() if TAG in p["tags"]}
    assert tagged == manifest.audience, f"missing {manifest.audience - tagged}, extra {tagged - manifest.audience}"
    for key, person in before.items():
        now = after[key]
        assert set(now["tags"]) - {TAG} == set(person["tags"]) - {TAG}, f"other tags of {key} changed"
        assert now["unsubscribed"] == person["unsubscribed"], f"subscription of {key} changed"
        if key in manifest.untouched or key in manifest.in_sync:
            assert {k: v for k, v in now.items() if k != "updatedAt"} == {
                k: v for k, v in person.items() if k != "updatedAt"
            }, f"{key} was touched"
        else:
            assert {k: v for k, v in now.items() if k not in VOLATILE} == {
                k: v for k, v in person.items() if k not in VOLATILE
            }, f"{key} changed beyond the sync's fields"


def assert_safe(
    boxes: Sandboxes,
    before: dict[str, dict[str, Any]],
    *,
    converged: bool = True,
    deleted: frozenset[str] = frozenset(),
    also_tagged: frozenset[str] = frozenset(),
    left_out: frozenset[str] = frozenset(),
) -> None:
    """The guarantees, person by person (`before` is `snapshot_by_id()`, so people sharing an address up to
    case stay apart): nobody lost but those a test deleted, nobody duplicated (people who signed up while
    the sync ran are new, and never created twice), no tag but the sync's and no subscription changed;
    and, when `converged`, exactly the audience carries the tag (plus `also_tagged`: people the sync
    cannot see, who keep it; minus `left_out`: addresses the sync may not write to, say).
    """
    after = boxes.encharge.snapshot_by_id()
    lost = set(before) - set(after) - deleted
    assert lost == set(), f"people lost: {[before[i].get('email') for i in lost]}"
    known = {(p.get("email") or "").lower() for i, p in before.items() if i not in deleted}
    new = [p["email"].lower() for i, p in after.items() if i not in before and p.get("email")]  # not anonymous
    assert [e for e in new if e in known] == [], "people created again although they exist"
    assert len(new) == len(set(new)), f"new people duplicated: {sorted(new)}"
    for person_id, was in before.items():
        if person_id not in after:
            continue
        now = after[person_id]
        assert set(now["tags"]) - {TAG} == set(was["tags"]) - {TAG}, f"other tags of {was.get('email')} changed"
        assert now.get("unsubscribed") == was.get("unsubscribed"), f"subscription of {was.get('email')} changed"
        assert now.get("archived") == was.get("archived"), f"{was.get('email')} (un)archived"
    if converged:
        tagged = {(p.get("email") or "").lower() for p in after.values() if TAG in p["tags"]}
        expected = (boxes.dataset.manifest.audience | also_tagged) - left_out
        assert tagged == expected, f"missing {expected - tagged}, extra {tagged - expected}"
