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
