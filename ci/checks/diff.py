"""Diff: the schema SQL this branch's revisions add over the base branch's head."""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from ci.config import Config
from ci.errors import BadInput
from ci.findings import count
from ci.gitrefs import default_base, files_at, project_at
from ci.history import History, Revision
from ci.schemadiff import Captured, capture, migra_sql
from ci.stages import targets


def resolve_base(config: Config, base: str | None) -> str | None:
    """The ref to compare with: the one given, else the default base branch if there is one."""
    if base is not None:
        return base
    with contextlib.suppress(BadInput):
        return default_base(config)
    return None


@dataclass(frozen=True)
class DiffResult:
    """migra's statements from the base head's schema to this head's."""

    base: str | None
    sql: list[str]

    @property
    def summary(self) -> str:
        """``3 statement(s) over main``."""
        over = f"over {self.base}" if self.base else "over an empty database"
        return f"{count(len(self.sql), 'statement')} {over}"


def diff(config: Config, base: str | None = None, head: Captured | None = None,
         before: Captured | None = None) -> DiffResult:
    """migra's SQL from the base head's schema (an empty one without a base) to this head's.

    ``head`` is this head's schema, ``before`` the base head's, when the caller captured them
    already (see :func:`base_prefix`).
    """
    ref = resolve_base(config, base)
    if ref is not None and before is None:
        with project_at(ref, config) as base_config, targets.at_head(base_config) as connection:
            before = capture(connection)
    if head is None:
        with targets.at_head(config) as connection:
            head = capture(connection)
    return DiffResult(ref, migra_sql(before, head))


def base_prefix(config: Config, history: History, base_history: History, ref: str) -> int | None:
    """How many revisions, first in this branch's order, build exactly the base head's schema:
    the base's revisions, unchanged, run by the same env.py with the same project modules they
    import. None when that cannot be told: the base head is then built on its own."""
    try:
        prefix = history.order()[:len(base_history.revisions)]
    except BadInput:
        return None
    base = {r.id: r.source for r in base_history.revisions}
    if any(base.get(r.id) != r.source for r in prefix):
        return None
    names: set[str] = set()
    for rev in prefix:
        imported = _imports(rev)
        if imported is None:
            return None
        names |= imported
    code = {Path(history.script_dir.env_py_location).resolve()}
    for name in names:
        origin = _origin(name)
        if origin is None:
            return None
        if origin.parts and origin.is_relative_to(config.project_dir.resolve()) and \
                not any(origin.is_relative_to(folder) for folder in _installed()):
            code.add(origin)
    top = Path(os.path.commonpath([config.project_dir.resolve(),
                                   config.script_location.resolve(), *code]))
    then = files_at(ref, top)
    same = all(then.get(str(path.relative_to(top))) == path.read_bytes() for path in code)
    return len(prefix) if same else None


def _imports(rev: Revision) -> set[str] | None:
    """The modules a revision imports, by name (None: it imports relatively)."""
    names: set[str] = set()
    for node in ast.walk(rev.tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module is None:
                return None
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names
                                     if f"{node.module}.{a.name}" in sys.modules)}
    return names


@functools.cache
def _installed() -> list[Path]:
    """The folders of the standard library and installed packages."""
    return [Path(sysconfig.get_paths()[key]).resolve()
            for key in ("stdlib", "platstdlib", "purelib", "platlib")]


def _origin(name: str) -> Path | None:
    """The file a module is loaded from; ``Path()`` when it has none (built in, a namespace
    package); None when it cannot be found."""
    module = sys.modules.get(name)
    if module is not None:
        file = getattr(module, "__file__", None)
    else:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        file = spec.origin if spec.has_location else None
    return Path(file).resolve() if file else Path()
