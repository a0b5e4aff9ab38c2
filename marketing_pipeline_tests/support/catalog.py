"""What one PostgreSQL schema holds, from the system catalogs: every relation, column (type, nullability,
default, in order), constraint, index and trigger, and every type, function and view. Two schemas that
Prisma would introspect differently cannot have equal catalogs: `prisma db push` compares the same things.

Prisma's reference is its `db push` DDL for the specification's models (`prisma_app/prisma_db_push.sql`)
applied to an empty database: its schema engine, which would run `db push` or `migrate diff` itself,
cannot be downloaded on these machines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

PRISMA_APP = Path(__file__).parent.parent / "prisma_app"
PRISMA_DB_PUSH = PRISMA_APP / "prisma_db_push.sql"

RELATIONS = """
SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema ORDER BY c.relname
"""
COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
       a.attidentity, a.attgenerated, a.attcollation <> 0 AND a.attcollation <> t.typcollation
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""
CONSTRAINTS = """
SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.condeferrable, k.condeferred
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema ORDER BY c.relname, k.conname
"""
INDEXES = """
SELECT c.relname, i.relname, pg_get_indexdef(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema ORDER BY c.relname, i.relname
"""
# Internal triggers are how PostgreSQL enforces foreign keys (ours into Prisma's tables among them):
# Prisma does not see them, and neither do we.
TRIGGERS = """
SELECT c.relname, g.tgname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND NOT g.tgisinternal ORDER BY c.relname, g.tgname
"""
TYPES = """
SELECT t.typname, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = :schema AND t.typtype IN ('e', 'd', 'b', 'r', 'm') ORDER BY t.typname
"""
FUNCTIONS = """
SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :schema ORDER BY 1, 2
"""


def schema_catalog(url: str, schema: str = "public") -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: [tuple(row) for row in conn.execute(text(query), {"schema": schema})]
                for name, query in (
                    ("relations", RELATIONS),
                    ("columns", COLUMNS),
                    ("constraints", CONSTRAINTS),
                    ("indexes", INDEXES),
                    ("triggers", TRIGGERS),
                    ("types", TYPES),
                    ("functions", FUNCTIONS),
                )
            }
    finally:
        engine.dispose()


def apply_prisma_db_push(url: str) -> None:
    """Run what `prisma db push` runs for the specification's models in an empty database."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(PRISMA_DB_PUSH.read_text())
    finally:
        engine.dispose()
