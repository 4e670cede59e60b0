"""Lint's deployed-history rule: revisions that exist on the base branch are never edited
(rule: ``ci/rules/deployed.py``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from ci.findings import Finding, display_path
from ci.history import History
from ci.rules.deployed import EDITED_DEPLOYED_REVISION

MARKER_LINE = re.compile(r"\s*#\s*dbci:")


def check_deployed(history: History, base: History, ref: str) -> Iterator[Finding]:
    """Each revision file at ``ref`` must be byte for byte the same here."""
    current_ids = {r.id: r for r in history.revisions}
    for old in base.revisions:
        rel = old.path.relative_to(base.versions_dir)
        path = history.versions_dir / rel
        if path.is_file():
            before, after = old.source, path.read_text()
            if _code(before) == _code(after):
                continue
            line = _first_changed_line(before, after)
            yield EDITED_DEPLOYED_REVISION.at_file(
                display_path(path), f"{old.id} exists on {ref} and was changed here (first at "
                f"line {line})", line=line, revision=old.id)
            continue
        moved = current_ids.get(old.id)
        where = f"moved to {moved.display}" if moved else "deleted"
        yield EDITED_DEPLOYED_REVISION.at_file(
            display_path(path), f"{old.id} exists on {ref} as {rel} and was {where}",
            revision=old.id)


def _code(source: str) -> list[str]:
    """The source without whole-line ``# dbci:`` markers."""
    return [line for line in source.splitlines() if not MARKER_LINE.match(line)]


def _first_changed_line(before: str, after: str) -> int:
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, _, _, j1, _ in matcher.get_opcodes():
        if tag != "equal":
            return j1 + 1
    return 1
