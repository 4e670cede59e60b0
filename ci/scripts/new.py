"""``dbci new MESSAGE``: write the next numbered revision on the single head."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import Script
from alembic.util import CommandError

from ci import targets
from ci.command import Command
from ci.config import Config
from ci.errors import EXIT_OK, BadInput
from ci.findings import Result, display_path
from ci.history import History, load_history
from ci.naming import new_id, slugify
from ci.output import Printer
from ci.runner import upgrade


def next_name(config: Config, history: History, slug: str) -> tuple[str, str, str | None]:
    """The next revision id, its file name, and the head it builds on."""
    naming = config.naming
    chain = history.chain()
    head = chain[-1] if chain else None
    parsed = naming.parse_revision(head.id) if head else None
    if head is None:
        number = 1
    elif parsed is not None and parsed.number is not None:
        number = parsed.number + 1
    else:
        number = len(chain) + 1
    rev_id = new_id()
    return (naming.revision(number, rev_id, slug), naming.filename(number, rev_id, slug),
            head.id if head else None)


def _check_writable(folder: Path) -> None:
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise BadInput(f"{display_path(folder)}: cannot write here ({exc.strerror}); "
                       "nothing was written") from exc


def _named_config(config: Config, stem: str,
                  connection: sa.Connection | None = None) -> AlembicConfig:
    """An Alembic Config whose file_template is exactly this revision's file name."""
    cfg = config.alembic(connection)
    cfg.set_main_option("file_template", stem.replace("%", "%%%%"))  # ini, then %-format
    return cfg


def _autogenerate(config: Config, history: History, stem: str, message: str, revision: str,
                  head: str | None) -> Script | None:
    """Alembic's autogenerate against a scratch database brought to head and stamped there."""
    with targets.scratch(config) as target, targets.connect(target) as conn:
        upgrade(config, history, conn, history.chain())
        cfg = _named_config(config, stem, conn)
        command.stamp(cfg, "head")
        conn.commit()
        result = command.revision(cfg, message=message, rev_id=revision, head=head or "head",
                                  autogenerate=True)
    return result if not isinstance(result, list) else None


def new(config: Config, message: str, autogenerate: bool = False) -> Path:
    """Write the next revision file; with ``autogenerate``, fill it from the ORM's differences."""
    slug = slugify(message)
    if not slug:
        raise BadInput(f"message {message!r} has no letters or digits to name the file; "
                       "describe the change, e.g. 'add links to datasets'")
    history = load_history(config)
    revision, filename, head = next_name(config, history, slug)
    _check_writable(history.versions_dir)
    stem = filename.removesuffix(".py")
    try:
        if not autogenerate:
            script = command.revision(_named_config(config, stem), message=message,
                                      rev_id=revision, head=head or "head")
        else:
            script = _autogenerate(config, history, stem, message, revision, head)
    except CommandError as exc:
        raise BadInput(f"{display_path(history.versions_dir)}: {exc}") from exc
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", nargs="+", help="what the revision does, e.g. 'add links'")
    parser.add_argument("--autogenerate", action="store_true",
                        help="fill it from the ORM's differences with a scratch database at head")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the new file's path."""
    path = new(config, " ".join(args.message), autogenerate=args.autogenerate)
    printer.result(Result(lines=[display_path(path)], data={"path": display_path(path)}))
    return EXIT_OK


COMMAND = Command("new", "write the next numbered revision on the current head", run, arguments)
