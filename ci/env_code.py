"""What env.py's code says of itself, read from its source (none of it runs): whether it runs on
the database dbci hands it (``config.attributes["connection"]``, or ``sqlalchemy.url``, which
dbci sets too), the patch that makes one that does neither use the handed connection, and the
project's own modules it takes ``target_metadata`` from (the ORM)."""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

URL = "sqlalchemy.url"
#: What builds an asyncio engine: env.py's own database then, never dbci's (dbci's connection
#: and URL are a synchronous driver's).
ASYNC_ENGINES = ("async_engine_from_config", "create_async_engine")
#: What env.py runs on, when it runs on dbci's database.
Honours = Literal["connection", "url"]


@dataclass(frozen=True)
class EnvVerdict:
    """Whether env.py runs on dbci's database: ``honours`` says how (None: it does not), ``why``
    says it in words, at ``line``; ``patch``, where it does not, is a unified diff that makes it
    use the handed connection (None where dbci cannot write one for this env.py)."""

    honours: Honours | None
    why: str
    line: int | None = None
    patch: str | None = None


def judge(source: str, shown: str) -> EnvVerdict:
    """The verdict on env.py's ``source`` (a SyntaxError where it does not parse); ``shown`` is
    its path as the patch names it (``a/<shown>``: relative to the repository's root, as ``git
    apply`` and ``patch -p1`` read it there)."""
    tree = ast.parse(source)
    nodes = sorted((n for n in ast.walk(tree) if isinstance(n, ast.expr | ast.stmt)),
                   key=lambda n: (n.lineno, n.col_offset))
    handed = next((n for n in nodes if _reads_connection(n)), None)
    if handed is not None:
        return EnvVerdict("connection", "it runs on config.attributes['connection'] when that "
                          "is set", handed.lineno)
    awaited = next((n for n in nodes if _call(n, *ASYNC_ENGINES)), None)
    if awaited is not None:
        return EnvVerdict(None, "it builds an asyncio engine, which cannot use dbci's "
                          "sqlalchemy.url (a synchronous driver's), and ignores the connection "
                          "dbci hands it", awaited.lineno, _async_patch(source, tree, shown))
    sets = next((n for n in nodes if _sets_url(n)), None)
    reads = next((n for n in nodes if _reads_url(n)), None)
    if reads is not None and sets is None:
        return EnvVerdict("url", "it builds its engine from sqlalchemy.url, which dbci sets to "
                          "its own database", reads.lineno)
    found = _engine_statements(tree)
    line = sets.lineno if sets is not None else found.first.lineno if found else None
    why = ("it sets sqlalchemy.url itself, so it migrates the database that names, not dbci's"
           if sets is not None else "it builds its engine from neither "
           "config.attributes['connection'] nor sqlalchemy.url")
    patch = _patch(source, tree, found.first, found.block[found.stop], found.name,
                   shown) if found else None
    return EnvVerdict(None, why, line, patch)


def _const(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _call(node: ast.AST, *names: str) -> ast.Call | None:
    """``name(...)`` or ``<anything>.name(...)``, for one of ``names``."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return node if name in names else None


def _is_attributes(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "attributes"


def _reads_connection(node: ast.AST) -> bool:
    """``<config>.attributes.get("connection")`` or ``<config>.attributes["connection"]``."""
    call = _call(node, "get")
    if call is not None:
        assert isinstance(call.func, ast.Attribute)
        return _is_attributes(call.func.value) and _const(next(iter(call.args), None)) == \
            "connection"
    return (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
            and _is_attributes(node.value) and _const(node.slice) == "connection")


def _sets_url(node: ast.AST) -> bool:
    """``sqlalchemy.url`` given by env.py itself: ``set_main_option``, ``set_section_option``,
    ``section["sqlalchemy.url"] = ...``, a dict that holds it, ``engine_from_config(url=...)``."""
    call = _call(node, "set_main_option", "set_section_option")
    if call is not None:
        return URL in [_const(a) for a in call.args]
    if isinstance(node, ast.Subscript):
        return isinstance(node.ctx, ast.Store) and _const(node.slice) == URL
    if isinstance(node, ast.Dict):
        return URL in [_const(k) for k in node.keys]
    call = _call(node, "engine_from_config", "async_engine_from_config")
    return call is not None and any(k.arg == "url" for k in call.keywords)


def _reads_url(node: ast.AST) -> bool:
    """``get_main_option("sqlalchemy.url")``, or an engine from the ini section's
    ``sqlalchemy.*`` keys (``engine_from_config``'s default prefix)."""
    call = _call(node, "get_main_option", "get_section_option")
    if call is not None:
        return URL in [_const(a) for a in call.args]
    call = _call(node, "engine_from_config")
    if call is None:
        return False
    prefix = next((k.value for k in call.keywords if k.arg == "prefix"),
                  call.args[1] if len(call.args) > 1 else None)
    return prefix is None or _const(prefix) == "sqlalchemy."


@dataclass(frozen=True)
class _Engine:
    """The statements that build the engine env.py connects with: ``block[start:stop + 1]``
    (the assignment of ``name`` and the ones before it that it reads from)."""

    block: list[ast.stmt]
    start: int
    stop: int
    name: str

    @property
    def first(self) -> ast.stmt:
        return self.block[self.start]


def _blocks(tree: ast.AST) -> Iterator[list[ast.stmt]]:
    """Every list of statements: the module's, a function's, an ``if``'s ..."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value


def _connected(stmt: ast.stmt) -> str | None:
    """``X`` of ``with X.connect() as connection:``."""
    if not isinstance(stmt, ast.With):
        return None
    for item in stmt.items:
        call = _call(item.context_expr, "connect")
        if call is not None and isinstance(call.func, ast.Attribute) and \
                isinstance(call.func.value, ast.Name):
            return call.func.value.id
    return None


def _written(stmt: ast.stmt) -> set[str]:
    """The names a statement binds or changes (``d[k] = v`` and ``d.update(...)`` change d)."""
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
        targets = [stmt.target]
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and \
            isinstance(stmt.value.func, ast.Attribute):
        targets = [stmt.value.func.value]
    names = set()
    for target in targets:
        while isinstance(target, ast.Attribute | ast.Subscript):
            target = target.value
        names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _read(stmt: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _engine_statements(tree: ast.Module) -> _Engine | None:
    """Where env.py builds what it connects with: the last assignment of ``X`` before ``with
    X.connect()`` (in that block, else at module level), with the statements right before it
    that it reads from."""
    for block in _blocks(tree):
        for index, stmt in enumerate(block):
            name = _connected(stmt)
            if name is None:
                continue
            for where, before in ((block, block[:index]), (tree.body, tree.body)):
                assigned = [i for i, s in enumerate(before) if name in _written(s)
                            and isinstance(s, ast.Assign | ast.AnnAssign)]
                if assigned:
                    stop = start = assigned[-1]
                    reads = _read(where[stop])
                    while start > 0 and _written(where[start - 1]) & reads:
                        start -= 1
                        reads |= _read(where[start])
                    return _Engine(where, start, stop, name)
    return None


def _config_name(tree: ast.Module) -> str:
    """How env.py names Alembic's Config: ``config`` after ``config = context.config``."""
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Attribute) and \
                stmt.value.attr == "config" and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], ast.Name):
            return stmt.targets[0].id
    return "context.config"


def _in_strings(tree: ast.AST) -> set[int]:
    """Lines that start inside a string literal: indenting them would change its value."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant | ast.JoinedStr) and node.end_lineno:
            lines |= set(range(node.lineno + 1, node.end_lineno + 1))
    return lines


def _indent_unit(lines: list[str]) -> str:
    """One level of the file's indentation (four spaces unless it says otherwise)."""
    for line in lines:
        stripped = line.lstrip(" \t")
        if stripped.strip() and stripped != line:
            return line[:len(line) - len(stripped)]
    return "    "


def _async_patch(source: str, tree: ast.Module, shown: str) -> str | None:
    """The Alembic cookbook's asyncio recipe: ``asyncio.run(...)`` only when dbci handed no
    connection, else the function env.py runs in ``run_sync`` on dbci's connection; None
    where env.py does not show both."""
    ran = next((s for s in ast.walk(tree) if isinstance(s, ast.Expr)
                and (call := _call(s.value, "run", "run_until_complete")) is not None
                and call.args and isinstance(call.args[0], ast.Call)), None)
    synced = next((c for n in ast.walk(tree) if (c := _call(n, "run_sync")) is not None
                   and c.args and isinstance(c.args[0], ast.Name)), None)
    if ran is None or synced is None:
        return None
    assert isinstance(synced.args[0], ast.Name)
    return _patch(source, tree, ran, ran, "connectable", shown,
                  otherwise=f"{synced.args[0].id}(connectable)")


def _patch(source: str, tree: ast.Module, first_stmt: ast.stmt, last_stmt: ast.stmt,
           name: str, shown: str, otherwise: str | None = None) -> str | None:
    """The unified diff that runs the statements from ``first_stmt`` to ``last_stmt`` (which
    build the engine ``name``) only when dbci handed no connection, as the reference
    ``database/env.py`` does, and ``otherwise`` when it did; None when the result would not
    say so itself. The file's own line ends (CRLF too) and indentation are kept."""
    lines = source.splitlines(keepends=True)
    first, last = first_stmt.lineno, last_stmt.end_lineno or first_stmt.lineno
    indent = lines[first - 1][:len(lines[first - 1]) - len(lines[first - 1].lstrip(" \t"))]
    unit, strings = _indent_unit(lines), _in_strings(tree)
    end = "\r\n" if lines[0].endswith("\r\n") else "\n"
    if not lines[-1].endswith("\n"):
        lines[-1] += end  # the diff below says the file lacks it
    wrapped = [line if number in strings or not line.strip() else unit + line
               for number, line in enumerate(lines[first - 1:last], start=first)]
    new = [*lines[:first - 1],
           f'{indent}{name} = {_config_name(tree)}.attributes.get("connection"){end}',
           f"{indent}if {name} is None:  # not run by dbci: build the engine as before{end}",
           *wrapped,
           *([f"{indent}else:  # dbci's connection{end}", f"{indent}{unit}{otherwise}{end}"]
             if otherwise else []),
           *lines[last:]]
    patched = "".join(new)
    try:
        if judge(patched, shown).honours != "connection":
            return None
    except SyntaxError:
        return None
    diff = "".join(difflib.unified_diff(lines, new, f"a/{shown}", f"b/{shown}"))
    return diff if source.endswith("\n") else _no_newline_at_end(diff, last == len(lines),
                                                                 last + 3 >= len(lines))


def _no_newline_at_end(diff: str, removed: bool, shown: bool) -> str:
    """Say, as git does, that the file's last line has no newline: after the removed line when
    the patch replaces it (the new one gets its newline), after the diff when it ends on it."""
    marker = "\\ No newline at end of file\n"
    lines = diff.splitlines(keepends=True)
    if removed:
        at = max(i for i, line in enumerate(lines) if line.startswith("-")
                 and not line.startswith("---"))
        lines.insert(at + 1, marker)
    elif shown:
        lines.append(marker)
    return "".join(lines)


def metadata_modules(source: str) -> list[str]:
    """The modules env.py imports ``target_metadata`` from (dotted names, in order): those
    that bind a name its value reads, else every module it imports."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                bound[alias.asname or alias.name] = node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = alias.name
    values = [s.value for s in tree.body if isinstance(s, ast.Assign | ast.AnnAssign)
              and s.value is not None and "target_metadata" in _written(s)]
    read = {n.id for value in values for n in ast.walk(value) if isinstance(n, ast.Name)}
    named = [module for name, module in bound.items() if name in read]
    return list(dict.fromkeys(named or bound.values()))


def project_module(module: str, search: list[Path]) -> Path | None:
    """The folder or file of a module's top-level package in one of the ``search`` folders (the
    project's own code: ``prepend_sys_path``), never an installed one."""
    top = module.split(".")[0]
    for folder in search:
        for candidate in (folder / top, folder / f"{top}.py"):
            if candidate.is_dir() or candidate.is_file():
                return candidate
    return None
