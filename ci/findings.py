"""Findings, and the one place that turns them into text, annotations, JSON or markdown."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO


@dataclass(frozen=True)
class Finding:
    """One problem a check found, at a revision, file and line where they apply."""

    check: str
    rule: str
    message: str
    revision: str | None = None
    file: str | None = None
    line: int | None = None
    object: str | None = None
    hint: str | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON shape: keys that do not apply are left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def where(self) -> str:
        """``file:line``, the file, the revision, or the check."""
        if self.file:
            return f"{self.file}:{self.line}" if self.line else self.file
        return self.revision or self.check


def display_path(path: str | os.PathLike[str]) -> str:
    """A path relative to the working directory when below it (as GitHub annotations want)."""
    p = Path(path).absolute()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


@dataclass
class Result:
    """What a command returns: lines to show first, the findings, a closing summary, and data
    for the JSON document."""

    findings: list[Finding] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass
class Printer:
    """Writes a Result as text (default), plus GitHub annotations, or as one JSON document."""

    out: TextIO
    err: TextIO
    json: bool = False
    github: bool = False

    def result(self, result: Result) -> None:
        """Print a command's result in the chosen form."""
        if self.json:
            doc = {"ok": result.ok, "findings": [f.to_json() for f in result.findings]}
            doc.update(result.data)
            self.out.write(json.dumps(doc, indent=2, default=str) + "\n")
            return
        for line in result.lines:
            self.out.write(line + "\n")
        for finding in result.findings:
            self.out.write(text_line(finding) + "\n")
            if finding.hint:
                self.out.write(f"    fix: {finding.hint}\n")
            if finding.detail:
                self.out.write(_indent(finding.detail) + "\n")
        for line in result.summary:
            self.out.write(line + "\n")
        if self.github:
            self.annotations(result.findings)

    def annotations(self, findings: list[Finding]) -> None:
        """One ``::error`` workflow command per finding."""
        for finding in findings:
            self.out.write(annotation(finding) + "\n")

    def progress(self, message: str) -> None:
        """A status line for people on a terminal; silent in JSON mode and in CI logs."""
        if not self.json and self.err.isatty():
            self.err.write(f"\r\033[K{message}")
            self.err.flush()

    def progress_done(self) -> None:
        if not self.json and self.err.isatty():
            self.err.write("\r\033[K")
            self.err.flush()


def text_line(finding: Finding) -> str:
    """``file:line: [check/rule] message``."""
    return f"{finding.where}: [{finding.check}/{finding.rule}] {finding.message}"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines())


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    """A GitHub workflow command: ``::error file=F,line=L,title=T::message``."""
    props = []
    if finding.file:
        props.append(f"file={_escape_property(finding.file)}")
        if finding.line:
            props.append(f"line={finding.line}")
    props.append(f"title={_escape_property(f'dbci {finding.check}: {finding.rule}')}")
    message = finding.message + (f"\nfix: {finding.hint}" if finding.hint else "")
    return f"::error {','.join(props)}::{_escape_data(message)}"
