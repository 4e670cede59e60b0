"""What env.py's code says of itself: the connection dbci hands it used or not, read statically;
the patch dbci writes applies with git and patch, and the patched env.py uses the connection."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, git

from ci.env_code import judge, metadata_modules, project_module

#: Alembic's own template (`alembic init`): its engine comes from the ini's sqlalchemy.url.
GENERIC = '''\
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
target_metadata = None


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )

    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)

        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
'''
#: The data portal's env.py, the worked example: its URL comes from AWS through the stage.
PORTAL = '''\
from alembic import context
from sqlalchemy import engine_from_config, pool

from backend.common.corpora_config import CorporaDbConfig
from backend.layers.persistence.orm import metadata

config = context.config
target_metadata = metadata


def run_migrations_online():
    """Run migrations in 'online' mode."""
    alembic_config = config.get_section(config.config_ini_section)
    alembic_config["sqlalchemy.url"] = CorporaDbConfig().database_uri
    connectable = engine_from_config(
        alembic_config, prefix="sqlalchemy.", poolclass=pool.NullPool
    )

    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
'''
#: An engine from an environment variable, at module level, the script's last line unended.
OWN_URL = '''\
import os

from alembic import context
from sqlalchemy import create_engine
from models import Base as Model

MESSAGE = """a string
that spans lines"""
target_metadata = Model.metadata
engine = create_engine(
    os.environ["APP_DATABASE_URL"],
    connect_args={"options": """-c
search_path=app"""},
)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()'''


#: ``alembic init -t async``'s env.py, its comments left out.
ASYNC = '''\
import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

config = context.config
target_metadata = None


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"))
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    connectable = async_engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await connectable.dispose()


def run_migrations_online() -> None:
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''


def test_the_reference_and_the_cookbook_use_the_handed_connection() -> None:
    for path in (REPO / "database" / "env.py", FIXTURES / "cookbook_env" / "migrations" / "env.py"):
        verdict = judge(path.read_text(), "env.py")
        assert (verdict.honours, verdict.patch) == ("connection", None), path


def test_alembic_s_template_uses_the_url_dbci_sets() -> None:
    verdict = judge(GENERIC, "migrations/env.py")
    assert (verdict.honours, verdict.line, verdict.patch) == ("url", 11, None)


@pytest.mark.parametrize(("source", "why", "line"), [
    (PORTAL, "it sets sqlalchemy.url itself", 14),
    (OWN_URL, "it builds its engine from neither", 10),
])
def test_an_env_py_with_a_database_of_its_own_gets_a_patch(source: str, why: str,
                                                           line: int) -> None:
    verdict = judge(source, "migrations/env.py")
    assert verdict.honours is None and verdict.why.startswith(why) and verdict.line == line
    assert verdict.patch is not None
    assert verdict.patch.startswith("--- a/migrations/env.py\n+++ b/migrations/env.py\n")


def test_the_portal_patch_is_the_readme_s_pattern() -> None:
    patch = judge(PORTAL, "migrations/env.py").patch
    assert patch is not None
    assert textwrap.dedent("""\
        -    alembic_config = config.get_section(config.config_ini_section)
        -    alembic_config["sqlalchemy.url"] = CorporaDbConfig().database_uri
        -    connectable = engine_from_config(
        -        alembic_config, prefix="sqlalchemy.", poolclass=pool.NullPool
        -    )
        +    connectable = config.attributes.get("connection")
        +    if connectable is None:  # not run by dbci: build the engine as before
        +        alembic_config = config.get_section(config.config_ini_section)
        +        alembic_config["sqlalchemy.url"] = CorporaDbConfig().database_uri
        +        connectable = engine_from_config(
        +            alembic_config, prefix="sqlalchemy.", poolclass=pool.NullPool
        +        )
        """) in patch


@pytest.mark.parametrize("source", [PORTAL, OWN_URL, ASYNC, PORTAL.replace("\n", "\r\n"),
                                    ASYNC.replace("\n", "\r\n")],
                         ids=["portal", "own-url", "async", "portal-crlf", "async-crlf"])
@pytest.mark.parametrize("tool", [["git", "apply"], ["patch", "-p1", "--quiet"]])
def test_the_patch_applies_and_the_result_uses_the_connection(tmp_path: Path, source: str,
                                                              tool: list[str]) -> None:
    """A file with CRLF line ends gets a patch whose lines end so too, and stays CRLF."""
    env_py = tmp_path / "migrations" / "env.py"
    env_py.parent.mkdir()
    env_py.write_bytes(source.encode())
    git(tmp_path, "init", "-q")
    patch = judge(source, "migrations/env.py").patch
    assert patch is not None
    done = subprocess.run(tool, input=patch.encode(), cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr
    patched = env_py.read_bytes().decode()
    assert judge(patched, "migrations/env.py").honours == "connection"
    if "\r\n" in source:
        assert patched.count("\n") == patched.count("\r\n") > source.count("\r\n")
    if source is OWN_URL:  # multi-line strings keep their value; the rest is indented
        assert '"""a string\nthat spans lines"""' in patched
        assert '"""-c\nsearch_path=app"""' in patched
        assert patched.endswith("context.run_migrations()")  # still no newline at the end


def test_an_async_env_py_gets_the_cookbook_s_asyncio_patch() -> None:
    """Its engine reads sqlalchemy.url, but an asyncio one cannot run on dbci's (a synchronous
    driver's): the patch runs its migrations function on the handed connection instead."""
    verdict = judge(ASYNC, "migrations/env.py")
    assert (verdict.honours, verdict.line) == (None, 25)
    assert verdict.why.startswith("it builds an asyncio engine")
    assert verdict.patch is not None and textwrap.dedent("""\
        -    asyncio.run(run_async_migrations())
        +    connectable = config.attributes.get("connection")
        +    if connectable is None:  # not run by dbci: build the engine as before
        +        asyncio.run(run_async_migrations())
        +    else:  # dbci's connection
        +        do_run_migrations(connectable)
        """) in verdict.patch


def test_an_env_py_dbci_cannot_patch_says_so() -> None:
    """An async env.py that never runs a coroutine itself: no patch; the verdict stands."""
    source = textwrap.dedent('''\
        import os
        from alembic import context
        from sqlalchemy.ext.asyncio import create_async_engine

        async def run_async_migrations():
            connectable = create_async_engine(os.environ["URL"])
            async with connectable.connect() as connection:
                await connection.run_sync(do_run_migrations)
        ''')
    verdict = judge(source, "env.py")
    assert (verdict.honours, verdict.patch) == (None, None)


def test_the_orm_is_the_module_target_metadata_comes_from(tmp_path: Path) -> None:
    assert metadata_modules(PORTAL) == ["backend.layers.persistence.orm"]
    assert metadata_modules(OWN_URL) == ["models"]
    assert metadata_modules((REPO / "database" / "env.py").read_text()) == ["orm"]
    (tmp_path / "backend").mkdir()
    (tmp_path / "models.py").write_text("")
    assert project_module("backend.layers.persistence.orm", [tmp_path]) == tmp_path / "backend"
    assert project_module("models", [tmp_path]) == tmp_path / "models.py"
    assert project_module("sqlalchemy", [tmp_path]) is None
