"""The one place that prints: results as text, GitHub annotations, or one JSON document.

Everything goes through masked streams, so no password dbci knows of reaches output. stdout
carries only the product (the report, the SQL, the JSON document), so ``> file`` is always
safe; every workflow command (``::add-mask::``, ``::error``...) goes to stderr, which the
runner reads as it reads stdout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TextIO

from ci import github
from ci.db import masking
from ci.findings import Finding, Result


@dataclass
class Printer:
    """Writes a Result as text (default), plus GitHub annotations, or as one JSON document."""

    out: TextIO
    err: TextIO
    json: bool = False
    github: bool = False
    _stop_listening: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.out = masking.MaskedStream(self.out)  # type: ignore[assignment]
        self.err = masking.MaskedStream(self.err)  # type: ignore[assignment]
        if self.github:
            self._stop_listening = masking.listen(self._add_mask)

    def _add_mask(self, secret: str) -> None:
        """``::add-mask::`` for a new secret, on stderr at once, unmasked (it is the mask)."""
        self.err.stream.write(github.add_mask(secret) + "\n")  # type: ignore[attr-defined]
        self.err.flush()

    def close(self) -> None:
        """Stop hearing of new secrets."""
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def document(self, doc: dict[str, Any]) -> None:
        """One JSON document on stdout."""
        self.out.write(json.dumps(doc, indent=2, default=str) + "\n")

    def result(self, result: Result) -> None:
        """Print a command's result in the chosen form."""
        if self.json:
            self.document({"ok": result.ok, "findings": [f.to_json() for f in result.findings],
                           **result.data})
            if self.github:
                self.annotations(result.findings)
            return
        for line in result.lines:
            self.out.write(line + "\n")
        for finding in result.findings:
            self.out.write(text_line(finding) + "\n")
            if finding.hint:
                self.out.write(f"    fix: {finding.hint}\n")
            if finding.doc_url:
                self.out.write(f"    doc: {finding.doc_url}\n")
            if finding.detail:
                self.out.write(_indent(finding.detail) + "\n")
        for line in result.summary:
            self.out.write(line + "\n")
        if self.github:
            self.annotations(result.findings)

    def annotations(self, findings: list[Finding]) -> None:
        """One ``::error`` workflow command per finding, on stderr."""
        for finding in findings:
            self.err.write(github.annotation(finding) + "\n")

    def log(self, message: str) -> None:
        """A line of what is happening (a migration's steps, its retries), on stderr at once."""
        self.err.write(message + "\n")
        self.err.flush()

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
