"""``dbci new MESSAGE``: write the next numbered revision on the single head."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command
from alembic.util import CommandError

from ci.config import Config
from ci.database import create_engine, scratch_database
from ci.errors import EXIT_OK, BadInput
from ci.findings import Printer, Result, display_path
from ci.history import History, load_history
from ci.naming import new_id, slugify


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
    cfg = config.alembic()
    cfg.set_main_option("file_template", stem.replace("%", "%%%%"))
    try:
        if not autogenerate:
            script = command.revision(cfg, message=message, rev_id=revision, head=head or "base")
        else:
            with scratch_database(config.database_url) as url:
                engine = create_engine(url)
                with engine.connect() as conn:
                    cfg = config.alembic(conn)
                    cfg.set_main_option("file_template", stem.replace("%", "%%%%"))
                    config.add_import_paths()
                    command.upgrade(cfg, "head")
                    conn.commit()
                    script = command.revision(cfg, message=message, rev_id=revision,
                                              head=head or "base", autogenerate=True)
                engine.dispose()
    except CommandError as exc:
        raise BadInput(f"{display_path(history.versions_dir)}: {exc}") from exc
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the new file's path."""
    path = new(config, " ".join(args.message), autogenerate=args.autogenerate)
    printer.result(Result(lines=[display_path(path)], data={"path": display_path(path)}))
    return EXIT_OK
