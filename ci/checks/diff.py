"""Diff: the schema SQL this branch's revisions add over the base branch's head."""

from __future__ import annotations

import ast
import contextlib
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
from ci.runner import at_head
from ci.schemadiff import Captured, capture, migra_sql


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
        with project_at(ref, config) as base_config, at_head(base_config) as connection:
            before = capture(connection)
    if head is None:
        with at_head(config) as connection:
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
    code = [Path(history.script_dir.env_py_location)]
    for rev in prefix:
        modules = _project_modules(rev, config.project_dir)
        if modules is None:
            return None
        code += modules
    top = Path(os.path.commonpath([config.project_dir.resolve(),
                                   config.script_location.resolve(),
                                   *(p.resolve() for p in code)]))
    then = files_at(ref, top)
    same = all(then.get(str(p.resolve().relative_to(top))) == p.read_bytes() for p in set(code))
    return len(prefix) if same else None


def _project_modules(rev: Revision, project: Path) -> list[Path] | None:
    """The files of the project's own modules a revision imports (None: one cannot be found,
    or is imported relatively)."""
    names: list[str] = []
    for node in ast.walk(rev.tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module is None:
                return None
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names
                                     if f"{node.module}.{a.name}" in sys.modules)]
    installed = [Path(sysconfig.get_paths()[key]).resolve()
                 for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    files = []
    for name in names:
        origin = _origin(name)
        if origin is None:
            return None
        if not origin:
            continue  # built in, or a namespace package: no code of its own
        path = Path(origin).resolve()
        if path.is_relative_to(project.resolve()) and \
                not any(path.is_relative_to(folder) for folder in installed):
            files.append(path)
    return files


def _origin(name: str) -> str | None:
    """The file a module is loaded from; "" when it has none (built in, a namespace package);
    None when it cannot be found."""
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__file__", None) or ""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return (spec.origin or "") if spec.has_location else ""
