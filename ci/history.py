"""The revision history, read through Alembic's ScriptDirectory and RevisionMap."""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError, RevisionMap
from alembic.util import CommandError

from ci import compat
from ci.config import Config
from ci.errors import BadInput
from ci.findings import display_path

#: Folders of ``script_location`` whose ``<revision>.sql`` files belong to a revision: rows the
#: round trip loads after it, and seed patches run after it.
FIXTURE_FOLDERS = ("roundtrip_data", "seed")

#: ``autocommit_block()``, or ``op.execute("COMMIT")`` (how revisions ran ``CONCURRENTLY``
#: before it): a revision that commits part of its work itself.
#: A revision that commits part of its work itself: an autocommit block, a ``COMMIT``
#: statement, or ``.commit()`` on the connection (``op.get_bind().commit()``).
_COMMITS = re.compile(r"""\bautocommit_block\b|(['"])\s*COMMIT\s*;?\s*\1|\.commit\(\s*\)""",
                      re.IGNORECASE)
_DOC_FIELD = re.compile(r"^\s*(Revision ID|Revises):[ \t]*(.*?)\s*$", re.MULTILINE)


@dataclass(eq=False)
class Revision:
    """One revision file: Alembic's Script plus where things stand in its source."""

    script: Script

    @property
    def id(self) -> str:
        return self.script.revision

    @property
    def down_revisions(self) -> tuple[str, ...]:
        """What ``down_revision`` names (merges name several)."""
        down = self.script.down_revision
        if down is None:
            return ()
        return (down,) if isinstance(down, str) else tuple(down)

    @cached_property
    def path(self) -> Path:
        return Path(self.script.path)

    @property
    def display(self) -> str:
        """The path as findings show it."""
        return display_path(self.path)

    @cached_property
    def source(self) -> str:
        return self.path.read_text()

    @cached_property
    def commits_itself(self) -> bool:
        """Whether the revision commits part of its work itself (no one transaction holds it)."""
        return bool(_COMMITS.search(self.source))

    @cached_property
    def tree(self) -> ast.Module:
        return ast.parse(self.source, filename=str(self.path))

    def assignment_line(self, name: str) -> int | None:
        """The line of the module-level ``name = ...``."""
        for node in self.tree.body:
            targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return node.lineno
        return None

    def function(self, name: str) -> ast.FunctionDef | None:
        """The module-level ``def name``."""
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node
        return None

    def docstring_field(self, name: str) -> tuple[str, int] | None:
        """The value and line of ``Revision ID:`` or ``Revises:`` in the module docstring."""
        doc = self.tree.body[0] if self.tree.body else None
        if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str)):
            return None
        for match in _DOC_FIELD.finditer(doc.value.value):
            if match.group(1) == name:
                line = doc.lineno + doc.value.value.count("\n", 0, match.start(1))
                return match.group(2), line
        return None

    def lines_matching(self, pattern: re.Pattern[str]) -> list[tuple[int, re.Match[str]]]:
        """Every ``(line number, match)`` of a pattern over the source lines."""
        return [
            (number, match)
            for number, text in enumerate(self.source.splitlines(), start=1)
            if (match := pattern.search(text))
        ]


@dataclass
class History:
    """Every revision file of a project, and their graph when it is one Alembic can build."""

    config: Config
    script_dir: ScriptDirectory
    revisions: list[Revision]
    duplicates: dict[str, list[Revision]] = field(default_factory=dict)
    unknown_down: list[tuple[Revision, str]] = field(default_factory=list)
    cycle: tuple[str, ...] = ()
    graph: RevisionMap | None = None

    @cached_property
    def by_id(self) -> dict[str, Revision]:
        """Each revision by its id (the first file, where several share one)."""
        out: dict[str, Revision] = {}
        for rev in self.revisions:
            out.setdefault(rev.id, rev)
        return out

    def get(self, revision_id: str) -> Revision:
        if revision_id in self.by_id:
            return self.by_id[revision_id]
        raise BadInput(f"unknown revision {revision_id!r} in {display_path(self.versions_dir)}")

    @property
    def versions_dir(self) -> Path:
        return Path(self.script_dir.versions)

    @property
    def heads(self) -> list[Revision]:
        """Revisions nothing builds on, in file order."""
        if self.graph is None:
            return []
        heads = set(self.graph.heads)
        return [r for r in self.revisions if r.id in heads]

    def children(self, revision_id: str) -> list[Revision]:
        return self._children.get(revision_id, [])

    @cached_property
    def _children(self) -> dict[str, list[Revision]]:
        out: dict[str, list[Revision]] = {}
        for rev in self.revisions:
            for down in rev.down_revisions:
                out.setdefault(down, []).append(rev)
        return out

    def order(self) -> list[Revision]:
        """Every revision, each after its parents (Alembic's own topological order); any
        history Alembic can build: branches, merges and several heads included."""
        if self.graph is None or self.duplicates:
            raise BadInput(f"{display_path(self.versions_dir)}: the history is broken; "
                           "run `dbci lint` to see why")
        return list(self._order)

    @cached_property
    def _order(self) -> list[Revision]:
        assert self.graph is not None
        return [self.get(s.revision)
                for s in self.graph.iterate_revisions("heads", "base")][::-1]

    def head(self) -> Revision | None:
        """The one head new revisions build on (None for an empty history); refuses several."""
        self.order()  # a broken history says so first
        heads = self.heads
        if len(heads) > 1:
            names = ", ".join(h.id for h in heads)
            raise BadInput(f"{display_path(self.versions_dir)}: several heads ({names}); "
                           "run `dbci renumber` to put this branch's revisions on one line")
        return heads[0] if heads else None

    def fixtures(self, folder: str) -> dict[str, Path]:
        """The ``<script_location>/<folder>/<revision>.sql`` files, by the revision they name."""
        where = self.config.script_location / folder
        return {p.stem: p for p in sorted(where.glob("*.sql"))} if where.is_dir() else {}

    def orphan_fixtures(self) -> list[Path]:
        """Fixture files whose name is no revision of this history: never loaded."""
        ids = {r.id for r in self.revisions}
        return [path for folder in FIXTURE_FOLDERS
                for name, path in self.fixtures(folder).items() if name not in ids]

    def ancestors(self, revision_id: str) -> set[str]:
        """The revisions strictly below one (needs a buildable graph)."""
        assert self.graph is not None
        below = {s.revision for s in self.graph.iterate_revisions(revision_id, "base")}
        return below - {revision_id}

    @cached_property
    def exempt(self) -> set[str]:
        """The revisions the rules about how one is written leave alone: those before
        ``first_revision``, and ``exempt_through`` with those before it (adopting dbci on a
        history whose head the rules would refuse: a merge, a downgrade that is ``pass``)."""
        settings = self.config.settings
        exempt: set[str] = set()
        for key, last, through in (("first_revision", settings.first_revision, False),
                                   ("exempt_through", settings.exempt_through, True)):
            if not last:
                continue
            if last not in {r.id for r in self.revisions}:
                raise BadInput(f"{key} {last!r} in [tool.dbci] is not a revision in "
                               f"{display_path(self.versions_dir)}")
            if self.graph is not None:
                exempt |= self.ancestors(last) | ({last} if through else set())
        return exempt


def _load_script(script_dir: ScriptDirectory, path: Path) -> Script | None:
    shown = display_path(path)
    try:
        return compat.load_script(script_dir, path)
    except SyntaxError as exc:
        at = f"{shown}:{exc.lineno}" if exc.lineno else shown
        raise BadInput(f"{at}: syntax error ({exc.msg}); fix the file") from exc
    except CommandError as exc:
        raise BadInput(f"{shown}: no `revision = \"...\"` in the file; add it") from exc
    except AttributeError as exc:
        if "down_revision" not in str(exc):
            raise BadInput(f"{shown}: cannot be imported ({exc}); fix the file") from exc
        raise BadInput(f"{shown}: no `down_revision = ...` in the file; add it "
                       "(None for the first revision)") from exc
    except (Exception, SystemExit) as exc:  # a revision module runs arbitrary code on import
        raise BadInput(f"{shown}: cannot be imported ({type(exc).__name__}: {exc}); "
                       "fix the file") from exc


def _scripts(script_dir: ScriptDirectory) -> Iterable[Script]:
    for path in compat.revision_paths(script_dir):
        script = _load_script(script_dir, path)
        if script is not None:
            yield script


#: Histories loaded in this process, by what they were loaded from (``dbci check`` asks for
#: the same history in each of its steps; a changed file changes the key).
_LOADED: dict[tuple[object, ...], History] = {}


def _fingerprint(config: Config, script_dir: ScriptDirectory) -> tuple[object, ...]:
    files = []
    for path in compat.revision_paths(script_dir):
        try:
            stat = path.stat()
        except OSError as exc:
            raise BadInput(f"{display_path(path)}: {exc.strerror} (a broken symlink?); fix "
                           "or remove it") from exc
        files.append((str(path), stat.st_mtime_ns, stat.st_size))
    return (config.ini_path, config.ini_path.stat().st_mtime_ns,
            config.settings.model_dump_json(), tuple(files))


def load_history(config: Config) -> History:
    """Load every revision file; report what keeps Alembic from building the graph."""
    try:
        script_dir = ScriptDirectory.from_config(config.alembic())
    except CommandError as exc:
        raise BadInput(f"{display_path(config.ini_path)}: {exc}") from exc
    key = _fingerprint(config, script_dir)
    if key not in _LOADED:
        if len(_LOADED) >= 4:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = _load(config, script_dir)
    return _LOADED[key]


def env_only(config: Config) -> History:
    """The project's script directory with no revision loaded: enough to run its env.py (for
    ``target_metadata``) without reading every revision file."""
    try:
        return History(config, ScriptDirectory.from_config(config.alembic()), [])
    except CommandError as exc:
        raise BadInput(f"{display_path(config.ini_path)}: {exc}") from exc


def _load(config: Config, script_dir: ScriptDirectory) -> History:
    revisions = sorted((Revision(s) for s in _scripts(script_dir)), key=lambda r: r.path.name)
    history = History(config, script_dir, revisions)
    by_id: dict[str, list[Revision]] = {}
    for rev in revisions:
        by_id.setdefault(rev.id, []).append(rev)
    history.duplicates = {k: v for k, v in by_id.items() if len(v) > 1}
    history.unknown_down = [(r, d) for r in revisions for d in r.down_revisions if d not in by_id]
    if history.unknown_down:
        return history
    unique = [revs[0].script for revs in by_id.values()]
    graph = RevisionMap(lambda: unique)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph.heads  # noqa: B018 - building the map detects cycles
    except RevisionError as exc:
        history.cycle = tuple(getattr(exc, "revisions", ()) or ())
        return history
    history.graph = graph
    compat.share_revision_map(script_dir, graph)  # Alembic's commands reuse the loaded modules
    return history
