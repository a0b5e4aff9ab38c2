"""The README tells the truth about the code: every variable the project reads is in its configuration
table, the schedule names it shows are the real ones, and the sections other files point to exist."""

from __future__ import annotations

import re
from pathlib import Path

from marketing_pipeline import settings
from marketing_pipeline.defs.names import schedule_name
from marketing_pipeline.store.schema import OUR_SCHEMA, PRISMA_TABLES, VERSION_TABLE, metadata
from marketing_pipeline.store.seed import FIRST_SYNC

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", README, flags=re.M | re.S)
    assert match, f"the README has no section {title!r}"
    return match.group(1)


def test_every_variable_is_in_the_configuration_table() -> None:
    table = section("Configuration")
    names = {
        value
        for name, value in vars(settings).items()
        if isinstance(value, str) and name.isupper() and not name.startswith("DEFAULT_") and value.isupper()
    }
    assert {"MARKETING_ALERT_WEBHOOK_URL", "SMTP_PASSWORD", "CW_BASE_URL"} <= names
    missing = sorted(name for name in names if f"`{name}`" not in table)
    assert missing == []


def test_sections_other_files_point_to_exist() -> None:
    pointers = re.findall(r"README's \"([^\"]+)\"", (REPO / "dagster.yaml").read_text(encoding="utf-8"))
    assert pointers
    for title in pointers:
        section(title)


def test_the_schedule_names_shown_are_the_real_ones() -> None:
    real = schedule_name(str(FIRST_SYNC["key"]))
    assert f"`{real}`" in section("Schedules")
    assert "marketing_sync_<key>" not in README


def test_the_tables_shown_to_the_nestjs_team_are_the_real_ones() -> None:
    """Which tables are the app's (Prisma's schema) and which are ours (our schema), as schema.py has them."""
    rows = [line for line in section("Sharing the database with the NestJS app").splitlines() if line.startswith("| `")]
    theirs, ours = (set(re.findall(r"`(\w+)`", row.split(" | ")[0])) for row in rows[:2])
    assert theirs == set(PRISMA_TABLES)
    assert ours == {t.name for t in metadata.tables.values() if t.schema == OUR_SCHEMA} | {VERSION_TABLE}
    assert f"the schema `{OUR_SCHEMA}`" in rows[1]
