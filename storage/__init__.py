"""Persistence: SQLAlchemy 2.0 models, repository functions and Alembic
migrations. Nothing outside this package writes SQL."""
