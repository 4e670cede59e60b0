"""An env.py that raises KeyboardInterrupt though nobody pressed Ctrl-C (the bad-input corpus)."""

from alembic import context

from orm import Base
raise KeyboardInterrupt

target_metadata = Base.metadata


def run_migrations_online() -> None:
    context.configure(connection=context.config.attributes["connection"], target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
