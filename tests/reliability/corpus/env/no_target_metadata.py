"""An env.py without the ORM's metadata (the bad-input corpus)."""

from alembic import context

from orm import Base

target_metadata = None


def run_migrations_online() -> None:
    context.configure(connection=context.config.attributes["connection"], target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
