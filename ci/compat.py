"""Every use of another library's private API, and every patch of one, in one place.

Each function says which release it was checked on (:data:`CHECKED_ON`);
``tests/test_compat.py`` exercises each against the installed libraries, so a release that
breaks one fails there, naming the function, and not deep inside a run.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
from collections.abc import Iterator
from inspect import signature
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory

#: The releases the functions below were checked on.
CHECKED_ON = {"alembic": "1.20.1", "sqlalchemy": "2.1.9", "schemainspect": "3.1.1663587362"}


# Alembic's script directory (alembic.script.base, 1.20)

def load_script(script_dir: ScriptDirectory, path: Path) -> Script | None:
    """One revision file as Alembic loads it (``Script._from_path``): None for a file that is no
    revision; what importing it raises passes through."""
    return Script._from_path(script_dir, path)


def revision_paths(script_dir: ScriptDirectory) -> Iterator[Path]:
    """The files Alembic reads as revisions, in every version location that exists
    (``ScriptDirectory._version_locations``, ``Script._list_py_dir``)."""
    for folder in script_dir._version_locations:
        if Path(folder).is_dir():
            yield from (Path(p) for p in Script._list_py_dir(script_dir, Path(folder)))


def steps(script: ScriptDirectory, direction: str, destination: Any, current: Any) -> list[Any]:
    """The steps ``alembic upgrade`` or ``downgrade`` would run from ``current`` to
    ``destination`` (``ScriptDirectory._upgrade_revs`` / ``_downgrade_revs``, what
    ``command.upgrade`` and ``command.downgrade`` plan with)."""
    plan = script._upgrade_revs if direction == "upgrade" else script._downgrade_revs
    return list(plan(destination, current))


# Alembic's migration context (alembic.runtime.migration, 1.20)

def begin_per_revision(context: MigrationContext) -> Any:
    """The transaction block ``run_migrations`` opens per revision under
    ``transaction_per_migration`` (``begin_transaction(_per_migration=True)``): a no-op unless
    env.py asked for it."""
    return context.begin_transaction(_per_migration=True)


def type_memo(context: MigrationContext) -> dict[str, Any]:
    """A copy of Alembic's memo of the named types (enums) its operations created or dropped in
    this run (``context.impl.memo``): SQLAlchemy consults it to make each only once per run, so
    where the round trip undoes a step, the memo must forget it too."""
    return {kind: set(names) for kind, names in context.impl.memo.items()}


def restore_type_memo(context: MigrationContext, memo: dict[str, Any]) -> None:
    """Put back Alembic's memo as :func:`type_memo` copied it."""
    context.impl.memo.clear()
    context.impl.memo.update({kind: set(names) for kind, names in memo.items()})


def adopt_transaction(context: MigrationContext, connection: sa.Connection) -> None:
    """After ``op.get_bind().commit()`` ended the transaction Alembic holds
    (``context._transaction``): Alembic takes the connection's new one as its own."""
    ended = context._transaction
    if ended is not None and not ended.is_active:
        context._transaction = connection.get_transaction() or connection.begin()


def restart_transaction(context: MigrationContext, connection: sa.Connection) -> None:
    """After a rollback of the whole transaction: where Alembic held one, it holds a new one."""
    if context._transaction is not None:
        context._transaction = connection.begin()


# Alembic's autogenerate (alembic.autogenerate.compare.util, 1.20)

#: The parameters of the Alembic method :func:`each_schema_reflected_at_once` mends.
_PRE_CACHE = ("self", "schema", "tablenames", "all_available_tablenames", "info_key",
              "inspector_method")


@contextlib.contextmanager
def each_schema_reflected_at_once() -> Iterator[None]:
    """Mend Alembic's autogenerate for as long as it compares (checked on 1.20).

    It reflects each schema's tables in bulk up front, but keeps one cache entry per kind of
    object whatever the schema, and skips the bulk read when that entry exists: every schema
    after the first falls back to several queries per table. Here each schema's bulk read is
    merged into the entry instead. The results are the same either way; an Alembic without
    that method, or with another signature for it, is left alone.
    """
    try:
        helper = importlib.import_module("alembic.autogenerate.compare.util")._InspectorConv
        original = helper._pre_cache
    except (ImportError, AttributeError):
        original = None
    if original is None or tuple(signature(original).parameters) != _PRE_CACHE:
        yield
        return

    def pre_cache(self: Any, schema: str | None, tablenames: list[str],
                  all_available_tablenames: Any, info_key: str, inspector_method: Any) -> None:
        cache = self.inspector.info_cache
        earlier = cache.pop(info_key, None)
        original(self, schema, tablenames, all_available_tablenames, info_key, inspector_method)
        if isinstance(earlier, dict):  # keep the earlier schemas' tables in any case
            now = cache.get(info_key)
            cache[info_key] = earlier | now if isinstance(now, dict) else earlier

    helper._pre_cache = pre_cache
    try:
        yield
    finally:
        helper._pre_cache = original


# schemainspect's import (3.1)

def load_inspector() -> None:
    """Import schemainspect ahead of a capture made deep in a call stack.

    Its import finds its own package for each of its 17 query files with ``inspect.stack()``,
    which reads the source lines of every frame, and ``inspect.getmodule`` on those frames,
    which walks every loaded module (a long history's revisions too): inside env.py's run over
    a long history that took about a second, and 0.2 s near the bottom of the stack. It needs
    the frames alone, and a frame's module is the one its globals are, so while it imports
    neither is looked up the slow way."""
    if "schemainspect" in sys.modules:
        return
    stack, getmodule = inspect.stack, inspect.getmodule

    def frames_only(context: int = 1) -> list[inspect.FrameInfo]:
        return stack(0)[1:]  # not this frame: the caller looks for the first frame outside

    def module_of(object: object, _filename: str | None = None) -> ModuleType | None:
        if inspect.isframe(object):  # (named as inspect names it)
            return sys.modules.get(object.f_globals.get("__name__", ""))
        return getmodule(object, _filename)

    inspect.stack, inspect.getmodule = frames_only, module_of
    try:
        import schemainspect  # noqa: F401
    finally:
        inspect.stack, inspect.getmodule = stack, getmodule
