"""What a command points at: a scratch database, a database given by URL, or a deployed stage.

A target knows its URL (the password masked the moment it is known), a name safe to print, and
whether dbci may create or drop databases there: only scratch databases are dbci's own.
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from ci.alembic_env import upgrade
from ci.config import Config
from ci.db import masking
from ci.db.runners import APPLICATION, create_engine, is_connection_lost
from ci.db.runners import connect as hand_over
from ci.db.scratch import may_create_databases, scratch_database
from ci.db.urls import normalize_url
from ci.errors import BadInput, OutsideFailure, error_line
from ci.history import load_history
from ci.settings import Stage


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


def scratch(config: Config, lend: bool = True) -> contextlib.AbstractContextManager[Target]:
    """A fresh empty database for one run: on the embedded server, or on the server of the given
    URL; dropped afterwards (a lent database, unless ``lend`` is False, is emptied instead)."""
    if config.database_url:  # refused as the flag or variable it came from
        normalize_url(config.database_url, config.database_url_source)
    return scratch_on(config.database_url, lend=lend)


def may_create(config: Config) -> bool:
    """Whether dbci may create scratch databases where :func:`scratch` makes them."""
    if config.database_url:
        normalize_url(config.database_url, config.database_url_source)
    return may_create_databases(config.database_url)


@contextlib.contextmanager
def scratch_on(server: str | None, beside: Target | None = None,
               lend: bool = True) -> Iterator[Target]:
    """A scratch database on ``server`` (None: the embedded one). ``beside`` is the stage a
    command also works on: dbci never creates a database on a stage's server."""
    if server and beside is not None and _same_server(server, beside.url):
        raise BadInput(f"the scratch server is {beside.display}'s own server; dbci never creates "
                       "databases there: pass --scratch-url naming another server, or none")
    with scratch_database(server, lend) as url:
        yield Target(Kind.SCRATCH, url)


def _same_server(one: str, other: str) -> bool:
    a, b = make_url(normalize_url(one)), make_url(other)
    return (a.host or a.query.get("host"), a.port or 5432) == (
        b.host or b.query.get("host"), b.port or 5432)


def stage(config: Config, name: str, tunnel_port: int | None = None,
          tunnel: str | None = None, log: Callable[[str], None] = print) -> Target:
    """A deployed stage: its URL from ``--database-url`` on the command line, else from its
    AWS Secrets Manager secret (an exported ``DATABASE_URL`` is ignored, with a notice to
    ``log``: a shell's variable must never decide which database a migration changes);
    through ``127.0.0.1:PORT`` when a tunnel port is given (or set), or through an SSM port
    forward (``--tunnel ssm`` or the stage's ``tunnel``) that lives as long as the command
    (``config.resources``)."""
    settings = stage_settings(config, name)
    if tunnel_port and tunnel:
        raise BadInput("--tunnel and --tunnel-port do not go together: --tunnel ssm opens a "
                       "forward, --tunnel-port uses one already open; pass one")
    if not (tunnel_port or tunnel) and settings.tunnel_port and settings.tunnel:
        raise BadInput(f"[tool.dbci.stages.{name}] sets both tunnel and tunnel_port; keep one")
    port = tunnel_port or (None if tunnel else settings.tunnel_port)
    ssm = not port and (tunnel or settings.tunnel) == "ssm"
    if ssm:
        ssm_target(name, settings)  # refused before AWS is asked for the secret
    url = stage_url(config, name, settings, log)
    if ssm:
        from ci.stages.tunnel import ssm_forward

        instance, host, host_port = ssm_endpoint(name, settings, url)
        port = config.resources.enter_context(ssm_forward(name, instance, host, host_port))
    if port:
        parsed = make_url(normalize_url(url))
        query = {k: v for k, v in parsed.query.items() if k not in ("host", "port")}
        url = parsed.set(host="127.0.0.1", port=port, query=query).render_as_string(
            hide_password=False)
    return Target(Kind.STAGE, normalize_url(url), stage=name)


def stage_settings(config: Config, name: str) -> Stage:
    """``[tool.dbci.stages.<name>]``; an unknown stage is bad input."""
    settings = config.settings.stages.get(name)
    if settings is None:
        raise BadInput(f"unknown stage {name!r}; known: {', '.join(config.settings.stages)} "
                       f"(a new one is a [tool.dbci.stages.{name}] table)")
    return settings


def stage_url(config: Config, name: str, settings: Stage,
              log: Callable[[str], None] = print) -> str:
    """The stage's URL as given by ``--database-url`` on the command line, or read from its
    secret, before any tunnel; checked where it came from."""
    if config.database_url and config.database_url_source == "--database-url":
        return normalize_url(config.database_url, "--database-url")
    if config.database_url:
        log(f"dbci: the exported DATABASE_URL is ignored for stage {name}: a stage's database "
            "comes from --database-url on the command line or from its secret")
    secret = settings.secret or config.settings.secret_name.format(stage=name)
    from ci import aws  # boto3 takes a while to import: only stages need it

    return normalize_url(url_from_secret(secret, aws.secret_json(secret)), f"secret {secret!r}")


def ssm_endpoint(name: str, settings: Stage, url: str) -> tuple[str, str, int]:
    """Where an SSM port forward to ``url``'s database goes: the stage's ``ssm_target``, and
    the URL's host and port."""
    instance = ssm_target(name, settings)
    parsed = make_url(normalize_url(url))
    if not parsed.host:  # no host, or libpq's ?host=/folder: a Unix socket
        raise BadInput(f"an SSM tunnel: stage {name}'s database has no TCP host (a Unix socket, "
                       "or none), which an SSM port forward cannot reach")
    return instance, parsed.host, parsed.port or 5432


def ssm_target(name: str, settings: Stage) -> str:
    """The instance a stage's SSM port forward goes through; bad configuration when unset."""
    if settings.ssm_target is None:
        raise BadInput(f"an SSM tunnel needs the instance it goes through: set [tool.dbci.stages."
                       f"{name}] ssm_target = \"i-...\" (its EC2 instance id)")
    return settings.ssm_target


#: The shapes of a stage's secret dbci reads, each with the keys it needs.
RDS_KEYS = ("username", "password", "host", "port", "dbname")


def url_from_secret(name: str, secret: dict[str, Any]) -> str:
    """A database URL from a secret holding ``database_uri``, the RDS layout, or rdev's
    ``remote_dev_uri`` (completed by ``REMOTE_DEV_PREFIX``, the stack's database)."""
    for key in ("password", "database_uri", "remote_dev_uri"):
        value = secret.get(key)
        if isinstance(value, str):
            masking.register_url(value) if key != "password" else masking.register(value)
    if isinstance(secret.get("database_uri"), str):
        return str(secret["database_uri"])
    if all(isinstance(secret.get(k), str | int) for k in RDS_KEYS):
        if not str(secret["port"]).isdigit():
            raise BadInput(f"secret {name!r}: port {str(secret['port'])[:40]!r} is not a "
                           "number; set it to the server's port (5432)")
        host = str(secret["host"])
        socket = host.startswith("/")  # libpq: a host that is a folder is a Unix socket's
        return URL.create("postgresql", username=str(secret["username"]),
                          password=str(secret["password"]), host=None if socket else host,
                          port=int(secret["port"]), database=str(secret["dbname"]),
                          query={"host": host} if socket else {}
                          ).render_as_string(hide_password=False)
    if isinstance(secret.get("remote_dev_uri"), str):
        prefix = os.environ.get("REMOTE_DEV_PREFIX", "").strip("/")
        if not prefix:
            raise BadInput(f"secret {name!r} holds remote_dev_uri, which needs the stack's "
                           "REMOTE_DEV_PREFIX (e.g. /mystack) as its database; set it")
        base = make_url(str(secret["remote_dev_uri"]))
        return base.set(database=prefix).render_as_string(hide_password=False)
    missing = [k for k in RDS_KEYS if k not in secret]
    raise BadInput(f"secret {name!r} holds none of the shapes dbci reads: database_uri; the RDS "
                   f"layout {', '.join(RDS_KEYS)} (it lacks {', '.join(missing) or 'none'}, or "
                   f"one is not text); or remote_dev_uri. Its keys: "
                   f"{', '.join(sorted(secret)) or 'none'}")


def given(config: Config) -> Target:
    """The database named by ``--database-url``/``DATABASE_URL``."""
    if not config.database_url:
        raise BadInput("no database given; pass --database-url URL or set DATABASE_URL")
    return Target(Kind.DATABASE, normalize_url(config.database_url,
                                               config.database_url_source))


#: The server option that makes every transaction of a session read-only from its first one.
READ_ONLY = "-c default_transaction_read_only=on"


def session_options(url: str, read_only: bool = False,
                    settings: dict[str, str] | None = None) -> str:
    """libpq's ``options`` for a session: the URL's own, then ``settings`` (each ``-c name=value``,
    spaces and backslashes escaped as libpq wants), then read-only if asked."""
    own = make_url(url).query.get("options")
    escaped = {name: value.replace("\\", "\\\\").replace(" ", "\\ ")
               for name, value in (settings or {}).items()}
    return " ".join([*([own] if isinstance(own, str) else own or ()),
                     *(f"-c {name}={value}" for name, value in escaped.items()),
                     *([READ_ONLY] if read_only else [])])


@contextlib.contextmanager
def connect(target: Target, *, application_name: str = APPLICATION, read_only: bool = False,
            settings: dict[str, str] | None = None) -> Iterator[sa.Connection]:
    """One connection to a target, its engine disposed afterwards: read-only if asked (the
    session starts with ``default_transaction_read_only=on``), with session ``settings``
    (``lock_timeout``...). They and ``application_name`` are in the engine's URL, so an env.py
    that builds an engine of its own from ``sqlalchemy.url`` (which dbci sets from it) gets the
    same session. Losing the server, here or while the connection is in use, is one line naming
    it (exit 3)."""
    options = session_options(target.url, read_only, settings)
    url = make_url(target.url).update_query_dict(
        {"application_name": application_name, **({"options": options} if options else {})})
    engine = create_engine(url.render_as_string(hide_password=False),
                           application_name=application_name)
    connected = False
    try:
        with hand_over(engine) as connection:
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


@contextlib.contextmanager
def at_head(config: Config) -> Iterator[sa.Connection]:
    """A connection to a scratch database brought to the project's head."""
    with scratch(config) as target, connect(target) as connection:
        history = load_history(config)
        upgrade(config, history, connection, history.order())
        yield connection


def hold_tunnel(config: Config, stage: str, local_port: int,
                log: Callable[[str], None]) -> str:
    """Forward 127.0.0.1:``local_port`` to a stage's database through its ``ssm_target`` until
    the session ends by itself (why, in one line) or the command is interrupted."""
    settings = stage_settings(config, stage)
    ssm_target(stage, settings)  # refused before AWS is asked for the secret
    url = stage_url(config, stage, settings, log)
    instance, host, port = ssm_endpoint(stage, settings, url)
    from ci.stages.tunnel import ssm_session  # as in stage(): only commands that tunnel load it

    with ssm_session(stage, instance, host, port, local_port=local_port) as session:
        log(f"tunnel: stage {stage}'s database on 127.0.0.1:{local_port} through {instance}; "
            "Ctrl-C ends it")
        return f"the SSM port forward through {instance} ended ({session.wait()})"
