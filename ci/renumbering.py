"""Renumbering: this branch's new revisions moved after the base branch's head, their files,
ids, parents, docstrings and fixtures rewritten as one change."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from ci.atomic_files import replace_files
from ci.checks.lint import history_findings
from ci.config import Config
from ci.errors import EXIT_FINDINGS, DbciError
from ci.findings import Result, display_path
from ci.gitrefs import default_base, load_base
from ci.history import FIXTURE_FOLDERS, History, Revision, load_history


@dataclass(frozen=True)
class Move:
    """One revision's new place: its new id, file and parent."""

    revision: Revision
    new_id: str
    new_path: Path
    new_down: str | None


class CannotRenumber(DbciError):
    """The branch's revisions cannot be put on one line automatically (exit 1)."""

    exit_code = EXIT_FINDINGS


def _branch_line(history: History, ours: list[Revision], base_ids: set[str]) -> list[Revision]:
    """This branch's revisions in order: one starts on the base history, each next builds on it."""
    roots = [r for r in ours if all(d in base_ids for d in r.down_revisions)]
    if len(roots) != 1:
        names = ", ".join(r.id for r in roots) or "none"
        raise CannotRenumber(f"this branch's revisions must start from one revision of the base "
                             f"history; found {names}. Fix down_revision by hand")
    line = roots
    mine = {r.id for r in ours}
    while children := [c for c in history.children(line[-1].id) if c.id in mine]:
        if len(children) > 1:
            raise CannotRenumber(f"{line[-1].id} has several children on this branch "
                                 f"({', '.join(c.id for c in children)}); make them one line")
        line.append(children[0])
    if len(line) != len(ours):
        rest = ", ".join(r.id for r in ours if r not in line)
        raise CannotRenumber(f"revisions {rest} are not on this branch's line; fix them by hand")
    return line


def plan(config: Config, history: History, base: History, ref: str) -> list[Move]:
    """The moves that put this branch's revisions after the head of ``ref``; empty if in place."""
    base_ids = {r.id for r in base.revisions}
    head = base.head()
    if head is None:
        return []
    if head.id not in {r.id for r in history.revisions}:
        raise CannotRenumber(f"{ref}'s head {head.id} is not in this tree; merge or rebase onto "
                             f"{ref} first")
    ours = [r for r in history.revisions if r.id not in base_ids]
    if not ours:
        return []
    naming = config.naming
    head_name = naming.parse_revision(head.id)
    start = (head_name.number if head_name and head_name.number is not None
             else len(base.revisions))
    moves, down = [], head.id
    for offset, rev in enumerate(_branch_line(history, ours, base_ids), start=1):
        new_id, filename = naming.renumbered(rev.id, rev.path.name, start + offset)
        moves.append(Move(rev, new_id, rev.path.with_name(filename), down))
        down = new_id
    if all(m.new_id == m.revision.id and m.new_path == m.revision.path
           and m.revision.down_revisions == ((m.new_down,) if m.new_down else ()) for m in moves):
        return []
    return moves


def rewrite(move: Move) -> str:
    """The revision's source with its id, parent and docstring lines moved."""
    rev = move.revision
    lines = rev.source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []  # (line index, start col, end col, text)
    for node in rev.tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = {t.id for t in targets if isinstance(t, ast.Name)}
        value = node.value
        if value.lineno != value.end_lineno:
            continue
        values = {"revision": move.new_id, "down_revision": move.new_down}
        for name in names & values.keys():
            old = lines[value.lineno - 1].encode()[value.col_offset:value.end_col_offset].decode()
            quote = old[0] if old[:1] in ("'", '"') else '"'
            text = "None" if values[name] is None else f"{quote}{values[name]}{quote}"
            edits.append((value.lineno - 1, value.col_offset, value.end_col_offset or 0, text))
    for name, new in (("Revision ID", move.new_id), ("Revises", move.new_down or "")):
        found = rev.docstring_field(name)
        if found is not None:
            index = found[1] - 1
            prefix = lines[index].split(":", 1)[0]
            ending = "\n" if lines[index].endswith("\n") else ""
            lines[index] = f"{prefix}: {new}".rstrip() + ending
    for index, start, end, text in sorted(edits, reverse=True):
        line = lines[index].encode()
        lines[index] = (line[:start] + text.encode() + line[end:]).decode()
    return "".join(lines)


def _fixtures_moved(history: History, moves: list[Move]) -> tuple[dict[Path, str], list[Path]]:
    """The fixture files named after a moved revision, under its new id."""
    writes: dict[Path, str] = {}
    removes: list[Path] = []
    for folder in FIXTURE_FOLDERS:
        files = history.fixtures(folder)
        for move in moves:
            old = files.get(move.revision.id)
            if old is not None and move.new_id != move.revision.id:
                writes[old.with_name(f"{move.new_id}.sql")] = old.read_text()
                removes.append(old)
    return writes, removes


def renumber(config: Config, base: str | None = None) -> Result:
    """Rename and rewrite this branch's revisions so they follow the base head; all or nothing."""
    ref = base or default_base(config)
    history = load_history(config)
    moves = plan(config, history, load_base(config, ref), ref)
    if not moves:
        result = Result(lines=[f"renumber: nothing to move, this branch already follows {ref}"],
                        data={"renamed": []})
    else:
        writes, removes = _fixtures_moved(history, moves)
        writes.update({m.new_path: rewrite(m) for m in moves})
        replace_files(writes, removes=[*removes, *(m.revision.path for m in moves)])
        result = Result(
            lines=[f"renamed {display_path(m.revision.path)} -> {display_path(m.new_path)}"
                   for m in moves],
            data={"renamed": [{"from": display_path(m.revision.path),
                               "to": display_path(m.new_path),
                               "revision_from": m.revision.id, "revision_to": m.new_id}
                              for m in moves]})
    result.findings = history_findings(load_history(config))
    return result
