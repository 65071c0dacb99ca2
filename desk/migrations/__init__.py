"""Alembic migrations of the desk's database; run them with `opinion-desk db upgrade`."""
