"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage import db
from storage.models import Base


def test_migrations_match_the_models(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        assert db.is_current(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_upgrade_twice_is_harmless(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        db.upgrade(engine)
        assert db.is_current(engine)
    finally:
        engine.dispose()
