"""dbci: checks and staged migrations for Alembic + PostgreSQL projects."""
