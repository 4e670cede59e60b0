"""An env.py that never runs the migrations (the bad-input corpus)."""

from alembic import context

from orm import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    context.configure(connection=context.config.attributes["connection"], target_metadata=target_metadata)
    with context.begin_transaction():
        pass  # forgot context.run_migrations()


run_migrations_online()
