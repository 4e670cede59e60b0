"""What a command points at: a scratch database, a database given by URL, or a deployed stage.

A target knows its URL (the password masked the moment it is known), a name safe to print, and
whether dbci may create or drop databases there: only scratch databases are dbci's own.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ci import database, masking
from ci.config import Config
from ci.database import create_engine, is_connection_lost, normalize_url, scratch_database
from ci.errors import BadInput, OutsideFailure, error_line


class Kind(enum.Enum):
    """What a target is, and so what dbci may do to it."""

    SCRATCH = "scratch"  # dbci created it for one run and drops it afterwards
    DATABASE = "database"  # given by URL: dbci never creates or drops it
    STAGE = "stage"  # a deployed stage: only explicit commands (migrate) change it


@dataclass(frozen=True)
class Target:
    """A database dbci connects to."""

    kind: Kind
    url: str = field(repr=False)
    stage: str | None = None

    def __post_init__(self) -> None:
        masking.register_url(self.url)

    @property
    def may_create_databases(self) -> bool:
        """Whether dbci may create or drop databases here: scratch only, never a stage."""
        return self.kind is Kind.SCRATCH

    @property
    def display(self) -> str:
        """A name safe to print: the URL without its password, and the stage."""
        url = make_url(self.url)
        where = f"{url.host or url.query.get('host') or 'localhost'}"
        where += f":{url.port}" if url.port else ""
        where += f"/{url.database}" if url.database else ""
        return f"stage {self.stage} ({where})" if self.stage else masking.mask(where)

    def engine(self, **options: Any) -> sa.Engine:
        """An engine without a pool on this target."""
        return create_engine(self.url, **options)


@contextlib.contextmanager
def scratch(config: Config) -> Iterator[Target]:
    """A fresh empty database for one run: on the embedded server, or on the server of the given
    URL; dropped afterwards (a lent database is emptied instead)."""
    with scratch_database(config.database_url) as url:
        yield Target(Kind.SCRATCH, url)


def given(config: Config) -> Target:
    """The database named by ``--database-url``/``DATABASE_URL``."""
    if not config.database_url:
        raise BadInput("no database given; pass --database-url URL or set DATABASE_URL")
    return Target(Kind.DATABASE, normalize_url(config.database_url))


@contextlib.contextmanager
def connect(target: Target) -> Iterator[sa.Connection]:
    """One connection to a target, its engine disposed afterwards. Losing the server, here or
    while the connection is in use, is one line naming it (exit 3)."""
    engine = target.engine()
    connected = False
    try:
        with database.connect(engine) as connection:
            connected = True
            yield connection
    except Exception as exc:
        if is_connection_lost(exc):
            what = "lost the connection to" if connected else "cannot reach"
            raise OutsideFailure(f"{what} {target.display} ({error_line(exc)}); is the server "
                                 "up?") from exc
        raise
    finally:
        engine.dispose()
