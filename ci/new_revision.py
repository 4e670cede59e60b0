"""A new revision: the next numbered file on the single head, written by Alembic from the
project's template (or autogenerate against a scratch database at head), proven to parse."""

from __future__ import annotations

import ast
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import RevisionContext
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from alembic.util import CommandError

from ci.alembic_env import apply, run_env
from ci.config import Config
from ci.errors import BadInput
from ci.findings import display_path
from ci.history import History, load_history
from ci.naming import new_id, slugify
from ci.stages import targets


def next_name(config: Config, history: History, slug: str) -> tuple[str, str, str | None]:
    """The next revision id, its file name, and the head it builds on."""
    naming = config.naming
    head = history.head()
    parsed = naming.parse_revision(head.id) if head else None
    if head is None:
        number = 1
    elif parsed is not None and parsed.number is not None:
        number = parsed.number + 1
    else:
        number = len(history.revisions) + 1
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


def docstring_safe(message: str) -> str:
    """The message as it can stand inside the template's triple-quoted docstring."""
    return message.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


@dataclass(frozen=True)
class NewRevision:
    """The revision file written, and whether autogenerate found nothing to put in it."""

    path: Path
    empty: bool = False


def _autogenerate(config: Config, history: History, cfg_for: Callable[[sa.Connection],
                  AlembicConfig], command_args: dict[str, Any]) -> tuple[list[Script], bool]:
    """Alembic's autogenerate against a scratch database brought to head and stamped there,
    through dbci's env.py runner (so env.py is proven to use that database)."""
    with targets.scratch(config) as target, targets.connect(target) as conn:
        cfg = cfg_for(conn)
        context = RevisionContext(cfg, history.script_dir, command_args)

        def body(migration: MigrationContext) -> None:
            for rev in history.order():
                apply(rev, "upgrade")
            migration.stamp(history.script_dir, "heads")
            context.run_autogenerate(migration.get_current_heads(), migration)

        run_env(config, history, conn, body, template_args=context.template_args,
                revision_context=context)
        empty = all(ops.upgrade_ops is None or ops.upgrade_ops.is_empty()
                    for ops in context.generated_revisions)
        return [s for s in context.generate_scripts() if s is not None], empty


def new(config: Config, message: str, autogenerate: bool = False) -> NewRevision:
    """Write the next revision file; with ``autogenerate``, fill it from the ORM's differences.

    The message may hold any text (backslashes, quotes); a file that does not parse as Python
    afterwards (a template that cannot carry it) is removed, never left behind.
    """
    slug = slugify(message)
    if not slug:
        raise BadInput(f"message {message!r} has no letters or digits to name the file; "
                       "describe the change, e.g. 'add links to datasets'")
    history = load_history(config)
    revision, filename, head = next_name(config, history, slug)
    _check_writable(history.versions_dir)
    stem = filename.removesuffix(".py")
    safe, base = docstring_safe(message), head or "head"
    empty = False
    written = history.versions_dir / filename
    try:
        if not autogenerate:
            script = command.revision(_named_config(config, stem), message=safe,
                                      rev_id=revision, head=base)
            scripts = [script] if isinstance(script, Script) else []
        else:
            scripts, empty = _autogenerate(
                config, history, lambda conn: _named_config(config, stem, conn),
                {"message": safe, "rev_id": revision, "head": base, "autogenerate": True,
                 "sql": False, "splice": False, "branch_label": None, "version_path": None,
                 "depends_on": None})
    except CommandError as exc:
        raise BadInput(f"{display_path(history.versions_dir)}: {exc}") from exc
    except OSError as exc:  # a full disk while Alembic wrote it: no half file stays
        written.unlink(missing_ok=True)
        raise BadInput(f"cannot write {display_path(written)}: {exc.strerror}; nothing was "
                       "written") from exc
    except SyntaxError:  # Alembic reads back what it wrote: the message broke the template
        _must_parse(written, message, history)
        raise
    if len(scripts) != 1:
        raise BadInput(f"{display_path(history.versions_dir)}: Alembic wrote {len(scripts)} "
                       "revisions (process_revision_directives?); dbci expects one")
    path = Path(scripts[0].path)
    _must_parse(path, message, history)
    return NewRevision(path, empty)


def _must_parse(path: Path, message: str, history: History) -> None:
    """Remove a written revision that is not valid Python, and say which template wrote it."""
    try:
        ast.parse(path.read_text(), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError) as exc:
        path.unlink(missing_ok=True)
        template = Path(history.script_dir.dir) / "script.py.mako"
        raise BadInput(f"{display_path(template)}: the revision it "
                       f"renders for message {message!r} is not valid Python ({exc}); nothing "
                       "was written") from exc
