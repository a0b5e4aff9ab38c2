"""Issue 22, finding 4, end to end: the sync knows whom it tagged, and taking its tag from people it never
tagged (tagged by hand, or by a previous owner of the tag) is a decision an operator makes once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

from marketing_pipeline.cli import main
from marketing_pipeline.sandbox.dataset import TAG, first_email
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.schema import marketing_sync_tag_adoption
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.pipeline import Pipeline, audience_metadata, members_leave, step_failure

PARTNERS = [f"partner{i}@partners.example.org" for i in range(12)]


def never_run(pipeline: Pipeline) -> Pipeline:
    """The first sync as `init` makes it on a new install: it has never run, and owns no tag yet."""
    with get_engine(pipeline.store.url).begin() as conn:
        conn.execute(delete(marketing_sync_tag_adoption))
    return pipeline


def hand_tag(pipeline: Pipeline, emails: list[str]) -> None:
    for email in emails:
        pipeline.boxes.encharge.add_person({"email": email, "firstName": "Part", "lastName": "Ner", "tags": TAG})


def test_the_first_run_never_takes_the_tag_from_people_it_did_not_tag_unless_approved(pipeline: Pipeline) -> None:
    """Finding 4: the first run of a sync whose tag was kept by hand untagged all 12 partners (under 20%)."""
    never_run(pipeline)
    hand_tag(pipeline, PARTNERS)
    former = pipeline.boxes.dataset.manifest.tag_removals  # three more, tagged before this sync ever ran
    losing = sorted([*PARTNERS, *former])

    dry = pipeline.run(dry_run=True)
    assert dry.success and audience_metadata(dry)["braked"] is True
    record = pipeline.last_run()
    ownership = record.details["tagOwnership"]
    assert sorted(p["email"].lower() for p in ownership["wouldLoseTheTag"]) == losing
    assert ownership["carriersNotTaggedBySync"] >= len(losing)
    assert (
        f"the plan would take the tag '{TAG}' from {len(losing)} people this sync never tagged"
        in (record.details["summary"])
    )
    reviewed = record.details["planHash"]

    pipeline.boxes.encharge.clear_log()
    braked = pipeline.run()
    assert not braked.success and pipeline.writes() == 0 and "never tagged" in step_failure(braked)
    assert all(TAG in pipeline.boxes.encharge.tags_of(email) for email in losing)

    approved = pipeline.run(approved_plan_hash=reviewed)  # the operator's decision, made once
    assert approved.success and pipeline.last_run().contacts_removed == len(losing)
    assert not any(TAG in pipeline.boxes.encharge.tags_of(email) for email in losing)
    adoption = pipeline.store.tag_adoption(pipeline.store.get_sync(SYNC_KEY))
    assert adoption.owns(TAG) and adoption.adopted_how == f"approved plan {reviewed}"

    # From now on the specification's rule holds: whoever carries the tag outside the audience loses it.
    hand_tag(pipeline, ["latecomer@partners.example.org"])
    leaving = members_leave(pipeline, 1, newest_first=True)
    assert pipeline.run().success and pipeline.last_run().contacts_removed == 2
    assert TAG not in pipeline.boxes.encharge.tags_of(leaving[0])


def leave_by_email(pipeline: Pipeline, email: str) -> None:
    for contact in pipeline.boxes.dataset.contacts:
        if (first_email(contact) or "").strip().lower() == email:
            contact["inactiveFlag"] = True


@pytest.mark.parametrize("upsert_answer", ["people", "bare"])
def test_people_the_sync_tagged_lose_it_without_a_decision_and_hand_tagged_ones_wait(
    pipeline: Pipeline, upsert_answer: str
) -> None:
    """Also where Encharge's answer to a create names no id ("bare"): the new person is tagged by address,
    and the write record's address says the sync tagged them."""
    never_run(pipeline)
    pipeline.boxes.encharge.modes.configure({"upsert_answer": upsert_answer})
    manifest = pipeline.boxes.dataset.manifest
    for email in manifest.tag_removals:  # nobody outside the audience carries the tag yet
        pipeline.boxes.encharge.find(email=email)["tags"].remove(TAG)
    assert pipeline.run().success  # nobody loses the tag: nothing to decide, and nothing decided
    sync = pipeline.store.get_sync(SYNC_KEY)
    assert not pipeline.store.tag_adoption(sync).owns(TAG)  # members tagged before it ran carry it

    created = sorted(manifest.creates)[0]  # a contact the sync created and tagged leaves: its own to untag
    leave_by_email(pipeline, created)
    assert pipeline.run().success and pipeline.last_run().contacts_removed == 1
    assert TAG not in pipeline.boxes.encharge.tags_of(created)

    earlier = sorted(manifest.in_sync)[0]  # a member who carried the tag before the sync ran leaves: braked
    leave_by_email(pipeline, earlier)
    braked = pipeline.run()
    assert not braked.success and "1 people this sync never tagged" in step_failure(braked)
    assert step_failure(braked).strip().endswith(f"they are {earlier}")
    assert TAG in pipeline.boxes.encharge.tags_of(earlier)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_adopt_setting_from_the_cli_lets_the_first_run_apply_and_shows_in_syncs_show(
    pipeline: Pipeline, sandboxes: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    never_run(pipeline)
    hand_tag(pipeline, PARTNERS)
    monkeypatch.setenv("MARKETING_DATABASE_URL", pipeline.store.url)
    runner = CliRunner()
    shown = runner.invoke(main, ["syncs", "show", SYNC_KEY], catch_exceptions=False).output
    assert "Tag: not yet owned: a run that would untag people this sync never tagged waits for approval" in shown
    out = runner.invoke(main, ["syncs", "update", SYNC_KEY, "--adopt-existing-tag"], catch_exceptions=False)
    assert out.exit_code == 0 and "Tag: adopts the tag's existing carriers" in out.output
    shown = json.loads(runner.invoke(main, ["syncs", "show", SYNC_KEY, "--json"], catch_exceptions=False).output)
    assert shown["tagOwnership"]["adoptExistingTag"] is True and shown["tagOwnership"]["ownsTag"] is True

    assert pipeline.run().success
    assert not any(TAG in pipeline.boxes.encharge.tags_of(email) for email in PARTNERS)
    assert pipeline.last_run().details["tagOwnership"] is None  # it owns its tag


def test_a_store_fixture_sync_is_braked_on_another_tag_until_adopted_again(store: SyncStore) -> None:
    sync = store.get_sync(SYNC_KEY)
    store.adopt_tag(sync, "test")
    assert store.tag_adoption(sync).owns(TAG) and not store.tag_adoption(sync).owns("another-tag")
