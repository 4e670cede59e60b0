"""Running revisions in-process, through the project's own env.py, on one connection."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from ci import targets
from ci.config import Config
from ci.errors import BadInput
from ci.history import History, Revision, load_history

_MISSING_EXTENSION = re.compile(
    r'extension "([^"]+)" is not available'
    r'|could not open extension control file ".*/([^/"]+)\.control"'
)


class RevisionFailed(Exception):
    """A revision's upgrade or downgrade raised; carries the revision and a one-line reason."""

    def __init__(self, revision: Revision, direction: str, error: BaseException) -> None:
        self.revision = revision
        self.direction = direction
        self.error = error
        super().__init__(f"{direction} of {revision.id} failed: {error_line(error)}")


def error_line(error: BaseException) -> str:
    """The first line of what the database (or Python) said."""
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


def run_env(config: Config, history: History, connection: sa.Connection,
            body: Callable[[MigrationContext], None]) -> None:
    """Run the project's env.py on ``connection``, with ``body`` in place of Alembic's steps.

    env.py configures the MigrationContext as it always does (schemas, version table, the
    connection dbci hands over); ``body`` then drives revisions on it with ``op`` bound.
    """
    config.add_import_paths()
    cfg = config.alembic(connection)

    def driver(heads: Any, context: MigrationContext) -> list[Any]:
        body(context)
        return []

    with EnvironmentContext(cfg, history.script_dir, fn=driver):
        history.script_dir.run_env()


def apply(rev: Revision, direction: str) -> None:
    """Run a revision's ``upgrade()`` or ``downgrade()``; failures name the revision."""
    try:
        getattr(rev.script.module, direction)()
    except DBAPIError as exc:
        match = _MISSING_EXTENSION.search(str(exc.orig))
        if match:
            name = match.group(1) or match.group(2)
            raise BadInput(
                f"{rev.display}: {rev.id} needs the extension {name}, which this PostgreSQL "
                "lacks (the embedded build has no OpenSSL: no pgcrypto or uuid-ossp); set "
                "DATABASE_URL to a full PostgreSQL server"
            ) from exc
        raise RevisionFailed(rev, direction, exc) from exc
    except (BadInput, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise RevisionFailed(rev, direction, exc) from exc


def _literal(cursor: Any, statement: str, parameters: Any) -> str:
    mogrify = getattr(cursor, "mogrify", None)
    if parameters and mogrify is not None:
        text = mogrify(statement, parameters)
        return text.decode() if isinstance(text, bytes) else str(text)
    return statement


@dataclass(frozen=True)
class Statement:
    """One statement a revision sent, parameters rendered in, and whether it ran in autocommit."""

    sql: str
    autocommit: bool


@contextlib.contextmanager
def capture_statements(connection: sa.Connection) -> Iterator[list[Statement]]:
    """Record every statement sent on ``connection``."""
    statements: list[Statement] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        options = context.execution_options if context is not None else {}
        autocommit = options.get("isolation_level") == "AUTOCOMMIT"
        batches = parameters if executemany else [parameters]
        statements.extend(Statement(_literal(cursor, statement, p), autocommit) for p in batches)

    event.listen(connection, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", before)


def upgrade(config: Config, history: History, connection: sa.Connection,
            revisions: list[Revision],
            then: Callable[[MigrationContext], None] | None = None) -> None:
    """Apply ``revisions`` in order through env.py (no version stamps); then call ``then``."""

    def body(context: MigrationContext) -> None:
        for rev in revisions:
            apply(rev, "upgrade")
        if then is not None:
            then(context)

    run_env(config, history, connection, body)


@contextlib.contextmanager
def at_head(config: Config) -> Iterator[sa.Connection]:
    """A connection to a scratch database brought to the project's head."""
    with targets.scratch(config) as target, targets.connect(target) as connection:
        history = load_history(config)
        upgrade(config, history, connection, history.chain())
        yield connection
