"""Findings and results: what checks return, before anything is printed."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ci import about
from ci.errors import EXIT_FINDINGS, EXIT_OK


@dataclass(frozen=True)
class Finding:
    """One problem a check found: at a revision file, at another file (env.py), or at a stage."""

    check: str
    rule: str
    message: str
    revision: str | None = None
    file: str | None = None
    line: int | None = None
    object: str | None = None
    stage: str | None = None
    hint: str | None = None
    detail: str | None = None
    doc: str | None = None  # the rule's doc: ``docs/rules.md#<rule>``, or squawk's page

    @property
    def doc_url(self) -> str | None:
        """:attr:`doc` as a link readable anywhere (JSON keeps the contract's ``doc``)."""
        return about.absolute(self.doc) if self.doc else None

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON shape: keys that do not apply are left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def where(self) -> str:
        """``file:line``, the file, the revision, the stage, or the check."""
        if self.file:
            return f"{self.file}:{self.line}" if self.line else self.file
        if self.stage:
            return f"stage {self.stage}"
        return self.revision or self.check


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 revision``, ``2 revisions``."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def display_path(path: str | os.PathLike[str]) -> str:
    """A path relative to the working directory when below it (as GitHub annotations want)."""
    p = Path(path).absolute()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


class Verdict:
    """What every result shares: ``ok`` when it holds no finding, and the exit code saying so
    (a result whose verdict rests on more than its findings overrides ``ok``)."""

    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """No finding."""
        return not self.findings

    @property
    def exit_code(self) -> int:
        """0 when ok, else 1."""
        return EXIT_OK if self.ok else EXIT_FINDINGS


@dataclass
class Result(Verdict):
    """What a command prints: lines to show first, the findings, a closing summary, and data
    for the JSON document."""

    findings: list[Finding] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
