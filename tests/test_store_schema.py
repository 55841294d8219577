"""The Alembic history builds the schema on both backends and is safe to re-run."""

import sqlalchemy as sa

from corpus.store.db import _migrated as migrated_cache
from corpus.store.db import get_engine, migrate


def test_migrate_creates_tables_and_is_idempotent(db_url):
    migrate(db_url)
    migrated_cache.clear()
    migrate(db_url)  # a second run finds nothing to do
    names = set(sa.inspect(get_engine(db_url)).get_table_names())
    assert {"reports", "sections", "passages", "suggestions", "outbox", "tasks",
            "annotations", "codings", "alembic_version"} <= names
