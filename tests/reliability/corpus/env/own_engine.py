"""An env.py that always makes an engine of its own, never the one handed over (the bad-input corpus)."""

from alembic import context
from sqlalchemy import create_engine, pool

from orm import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    context.configure(connection=create_engine("sqlite://", poolclass=pool.NullPool).connect(), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
