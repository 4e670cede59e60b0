"""Alembic environment of the reference project.

The database comes, in this order, from ``config.attributes["connection"]`` (an Engine or a
Connection, as dbci and pytest-alembic hand it over), from ``sqlalchemy.url``, or from the
``DATABASE_URL`` environment variable.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from orm import Base

config = context.config
target_metadata = Base.metadata
SCHEMAS = {"persistence_schema", "public"}


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Let autogenerate look at the project's own schemas only."""
    if type_ == "schema":
        return name is None or name in SCHEMAS
    return True


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
        compare_server_default=True,
        **kwargs,
    )


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "")
    if not url:
        raise SystemExit("No database: set sqlalchemy.url in alembic.ini or DATABASE_URL")
    return url


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the connection dbci hands over, or on one of our own."""
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = create_engine(_url(), poolclass=pool.NullPool)
    if isinstance(connectable, Connection):
        _run(connectable)
        return
    with connectable.connect() as connection:
        _run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
