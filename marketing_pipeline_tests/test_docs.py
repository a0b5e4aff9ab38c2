"""The README tells the truth about the code: every variable the project reads is in its configuration
table, the schedule names it shows are the real ones, and the sections other files point to exist."""

from __future__ import annotations

import re
from pathlib import Path

from marketing_pipeline import settings
from marketing_pipeline.defs.dagster_names import schedule_name
from marketing_pipeline.store.schema import OUR_SCHEMA, PRISMA_TABLES, VERSION_TABLE, metadata
from marketing_pipeline.store.seed import FIRST_SYNC

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", README, flags=re.M | re.S)
    assert match, f"the README has no section {title!r}"
    return match.group(1)


def test_every_variable_is_in_the_configuration_table_with_its_default() -> None:
    """The table's rows against the settings model: each variable has a row, and the row shows the model's
    default (a number as the table writes it: `30`, not `30.0`)."""
    rows = {}
    for line in section("Configuration").splitlines():
        if line.startswith("| `"):
            for name in re.findall(r"`([A-Z_]+)`", line.split("|")[1]):
                rows[name] = line.rsplit("|", 2)[-2]
    assert {"MARKETING_ALERT_WEBHOOK_URL", "SMTP_PASSWORD", "CW_BASE_URL"} <= set(settings.VARIABLES)
    assert sorted(set(settings.VARIABLES) - set(rows)) == []
    for name in settings.VARIABLES:
        default = settings.default(name)
        if default is not None:
            shown = f"{default:g}" if isinstance(default, float) else str(default)
            assert shown in rows[name], f"the README shows {rows[name].strip()!r} as {name}'s default, not {shown}"


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
