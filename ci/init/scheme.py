"""The ``[tool.dbci]`` naming settings that make ``dbci lint`` pass on a history as it stands,
proven by running lint's own rules on it with them: the settings the project has; else a scheme
every revision follows; else ``exempt_through`` at today's head, which exempts it and the
revisions before it (with a scheme the head follows, which new revisions continue)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.checks.lint import lint_files
from ci.config import Config
from ci.errors import EXIT_FINDINGS, DbciError
from ci.findings import Finding, count, display_path
from ci.history import History, Revision, load_history
from ci.naming import NamingScheme
from ci.output import text_line
from ci.settings import Settings

#: Schemes histories are written in that dbci's formats express (revision_format,
#: file_format), dbci's own first.
SCHEMES = (
    ("{number}_{id}", "{revision}_{slug}.py"),  # 07_0123456789ab_add_x.py
    ("{number}_{slug}", "{revision}.py"),  # revision "07_add_x" in 07_add_x.py
    ("{id}", "{number}_{id}_{slug}.py"),  # numbers in the file names only
    ("{id}", "{revision}_{slug}.py"),  # Alembic's own: 0123456789ab_add_x.py
)
#: dbci's default zero padding of numbers.
WIDTH = 2


@dataclass(frozen=True)
class Proven:
    """Settings lint passes with: the ``[tool.dbci]`` keys to write (those that change), why
    they were chosen, and how many revisions lint passed on."""

    keys: dict[str, Any]
    reasons: list[str]
    revisions: int


@dataclass(frozen=True)
class _Option:
    keys: dict[str, Any]
    why: str


def prove(config: Config, table: dict[str, Any], pyproject: Path) -> Proven:
    """The settings that make lint pass on the history, written into ``table`` (the project's
    ``[tool.dbci]`` as read from ``pyproject``); a DbciError (exit 1) saying why when none do."""
    table = {k.replace("-", "_"): v for k, v in table.items()}
    history = load_history(config)
    found = _lint(config)
    if not found:
        naming = config.naming
        return Proven({}, [f"naming: lint passes with the settings the project has (revision ids "
                           f"{naming.revision_format!r}, files {naming.file_format!r}); nothing "
                           "to set"], len(history.revisions))
    tried = [("the settings the project has", found)]
    for option in _options(config, history, table):
        keys = {k: v for k, v in option.keys.items() if table.get(k) != v}
        candidate = dataclasses.replace(
            config, settings=Settings.from_table({**table, **keys}, pyproject))
        found = _lint(candidate)
        if not found:
            lines = [f"{key} = {value!r}" for key, value in keys.items()]
            return Proven(keys, [f"naming: {', '.join(lines)}: {option.why}; with the settings "
                                 f"the project has, lint finds {_first(tried[0][1])}"],
                          len(history.revisions))
        tried.append((option.why, found))
    why, closest = min(tried, key=lambda t: len(t[1]))
    raise DbciError(f"{display_path(history.versions_dir)}: no [tool.dbci] settings make dbci "
                    f"lint pass on this history as it stands; the closest ({why}) still finds "
                    f"{_first(closest)}; fix that, then run dbci init again",
                    exit_code=EXIT_FINDINGS)


def _lint(config: Config) -> list[Finding]:
    return lint_files(config)[0].findings


def _first(findings: list[Finding]) -> str:
    """``3 problems, the first: <file:line: [check/rule] message>``."""
    return f"{count(len(findings), 'problem')}, the first: {text_line(findings[0])}"


def _options(config: Config, history: History, table: dict[str, Any]) -> Iterator[_Option]:
    """What to try, in order: a scheme every revision the rules cover follows; then
    exempt_through at the one head (a merge, a downgrade that is ``pass``: deployed, it cannot
    change), with the project's scheme where the head follows it, else with one it follows,
    else alone (new revisions then follow the project's scheme)."""
    checked = [r for r in history.revisions if r.id not in history.exempt]
    for keys in _schemes(config, checked, table):
        yield _Option(keys, "every revision follows it")
    heads = history.heads
    if len(heads) != 1:
        return  # lint's graph rules say why (several heads, a cycle, an unknown parent)
    head = heads[0]
    through = {"exempt_through": head.id}
    exempt = "today's head and the revisions before it are exempt from the rules"
    if config.naming.parse_revision(head.id) and config.naming.parse_file(head.path.name):
        yield _Option(through, f"{exempt}; the head follows the project's scheme")
        return
    for keys in _schemes(config, heads, table):
        yield _Option({**through, **keys}, f"{exempt}, and the head follows that scheme, "
                      "which new revisions continue")
    yield _Option(through, f"{exempt}; new revisions follow the project's scheme")


def _schemes(config: Config, revisions: list[Revision],
             table: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The keys of each scheme other than the project's that every one of ``revisions``
    follows, its zero padding read from their numbers."""
    for revision_format, file_format in SCHEMES:
        naming = NamingScheme(revision_format, file_format)
        names = [(naming.parse_revision(r.id), naming.parse_file(r.path.name))
                 for r in revisions]
        if not revisions or not all(rev and file for rev, file in names):
            continue
        widths = [len(n.number_text) for pair in names for n in pair if n and n.number_text]
        width = min(widths, default=WIDTH)
        if NamingScheme(revision_format, file_format, width) == config.naming:
            continue
        padding = {"number_width": width} if width != WIDTH or "number_width" in table else {}
        yield {"revision_format": revision_format, "file_format": file_format, **padding}
