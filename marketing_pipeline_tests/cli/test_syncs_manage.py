"""`syncs create` and `syncs update --name/--description/--tag/--filter`: sync management without SQL,
checked before anything is written."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner, Result

from marketing_pipeline.cli import main
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import FIRST_SYNC
from marketing_pipeline_tests.support import SYNC_KEY

FILTER = '{"companyTypes": [1], "companyStatuses": [1], "contactTypes": [2]}'


@pytest.fixture
def cli(store: SyncStore, tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MARKETING_DATABASE_URL", store.url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args))

    return run


def test_create_with_filter_flags_and_a_schedule(cli, store: SyncStore) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "syncs", "create", "Partner News", "--tag", "partner-news", "--company-type", "1", "--company-type", "5",
        "--company-status", "1", "--contact-type", "2", "--weekly", "wed", "--at", "08:30", "--description", "Hi",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.search(r"Dagster: partition [a-z, -]*partner-news added\.", result.output)
    sync = store.get_sync("partner-news")
    assert (sync.name, sync.tag_name, sync.schedule, sync.enabled, sync.description) == (
        "Partner News", "partner-news", "30 8 * * 3", True, "Hi",
    )  # fmt: skip
    assert sync.filter_config is not None and sync.filter_config.company_types == [1, 5]
    created = cli("syncs", "create", "Quiet", "--tag", "quiet", "--filter", FILTER, "--disabled", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["enabled"] is False and json.loads(created.output)["schedule"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tag", "Managed-Client-Newsletter", "--filter", FILTER], "is already the tag of sync"),
        (["--tag", "a,b", "--filter", FILTER], "contains a comma"),
        (["--tag", "news ", "--filter", FILTER], "has a space at one end"),
        (["--tag", "news.letter", "--filter", FILTER], "contains '.'; an Encharge tag may hold only letters A-Z"),
        (["--tag", "Kunden für News", "--filter", FILTER], "contains 'ü'"),
        (["--tag", "x" * 101, "--filter", FILTER], "is 101 characters long (at most 100)"),
        (["--tag", "x"], "a sync needs a filter"),
        (["--tag", "x", "--filter", "[1"], "--filter is not JSON"),
        (["--tag", "x", "--filter", "[1]"], "--filter must be a JSON object"),
        (
            ["--tag", "x", "--filter", '{"companyTypes": ["1"], "companyStatuses": [1], "contactTypes": [2]}'],
            "filterConfig.companyTypes[0]: Input should be a valid integer",
        ),
        (
            ["--tag", "x", "--filter", '{"companyTypes": [1], "companyStatuses": [1], "contactTypes": [2], "z": 1}'],
            "filterConfig.z: Extra inputs are not permitted",
        ),
        (["--tag", "x", "--company-type", "1"], "filterConfig.companyStatuses: Field required"),
        (["--tag", "x", "--filter", FILTER, "--company-type", "1"], "either --filter or the filter flags"),
        (["--tag", "x", "--filter", FILTER, "--monthly", "31"], "--monthly takes a day from 1 to 28"),
        (["--tag", "x", "--filter", FILTER, "--schedule", "0 6 31 2 *"], "February has no day 31"),
    ],
)
def test_create_refuses_and_writes_nothing(cli, store: SyncStore, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("syncs", "create", "New Sync", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert [s.key for s in store.list_syncs()] == [SYNC_KEY]


def test_update_name_description_tag_and_filter(cli, store: SyncStore) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "syncs", "update", SYNC_KEY, "--name", "Client News", "--description", "Monthly news", "--tag", "client-news",
        "--contact-type", "3", "--contact-type", "4",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sync = store.get_sync(SYNC_KEY)
    assert (sync.name, sync.description, sync.tag_name) == ("Client News", "Monthly news", "client-news")
    assert sync.filter_config is not None
    kept = FIRST_SYNC["filter_config"]["companyTypes"]
    assert (sync.filter_config.contact_types, sync.filter_config.company_types) == ([3, 4], kept)  # the rest kept
    assert cli("syncs", "update", SYNC_KEY, "--filter", FILTER).exit_code == 0
    assert store.get_sync(SYNC_KEY).filter_config.contact_types == [2]  # type: ignore[union-attr]
    assert cli("syncs", "update", SYNC_KEY, "--description", "").exit_code == 0
    assert store.get_sync(SYNC_KEY).description is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "  "], "name cannot be empty"),
        (["--name", "two\nlines"], "contains a control character"),
        (["--filter", '{"companyTypes": []}'], "filterConfig.companyTypes: List should have at least 1 item"),
        (["--tag", "other", "--company-status", "-"], "Invalid value for '--company-status'"),
        ([], "nothing to change"),
    ],
)
def test_update_refuses_all_or_nothing(cli, store: SyncStore, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    before = store.get_sync(SYNC_KEY)
    result = cli("syncs", "update", SYNC_KEY, "--disable", *args) if args else cli("syncs", "update", SYNC_KEY)
    assert result.exit_code != 0 and message in result.output, result.output
    assert store.get_sync(SYNC_KEY) == before


def test_a_second_syncs_tag_is_refused_on_update(cli, store: SyncStore) -> None:  # type: ignore[no-untyped-def]
    assert cli("syncs", "create", "Other", "--tag", "other", "--filter", FILTER).exit_code == 0
    result = cli("syncs", "update", "other", "--tag", "MANAGED-CLIENT-NEWSLETTER")
    assert result.exit_code == 1 and "is already the tag of sync 'managed-client-newsletter'" in result.stderr
