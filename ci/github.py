"""Everything dbci tells GitHub Actions: annotations, ``::add-mask::``, the step summary, and
the body of the pull-request comment that carries the check report."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ci.db import masking
from ci.findings import Finding

#: The first line of dbci's pull-request comment, so a workflow finds and updates its own.
COMMENT_MARKER = "<!-- dbci check -->"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    """A workflow command: ``::error file=F,line=L,title=T::message``."""
    props = []
    if finding.file:
        props.append(f"file={_escape_property(_in_workspace(finding.file))}")
        if finding.line:
            props.append(f"line={finding.line}")
    props.append(f"title={_escape_property(f'dbci {finding.check}: {finding.rule}')}")
    message = finding.message + (f"\nfix: {finding.hint}" if finding.hint else "")
    return f"::error {','.join(props)}::{_escape_data(message)}"


def _in_workspace(file: str) -> str:
    """``file`` (relative to the working directory) as an annotation must name it: relative to
    ``$GITHUB_WORKSPACE``, the repository's root, which GitHub reads a relative path from, also
    in a step that runs in a project's folder below it."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if not workspace:
        return file
    try:
        return Path(os.path.abspath(file)).relative_to(Path(workspace).resolve()).as_posix()
    except ValueError:  # outside the repository: as it is
        return file


def add_mask(secret: str) -> str:
    """The workflow command that hides ``secret`` in the rest of the job's log."""
    return f"::add-mask::{_escape_data(secret)}"


def append_step_summary(markdown: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when the job has one, masked; a summary that cannot
    be written fails nothing (the log and the exit code still say it all)."""
    name = os.environ.get("GITHUB_STEP_SUMMARY")
    if name:
        with contextlib.suppress(OSError), Path(name).open("a", encoding="utf-8") as handle:
            handle.write(masking.mask(markdown))


def comment_body(markdown: str) -> str:
    """The pull-request comment: the report under a marker a workflow can find it by."""
    return f"{COMMENT_MARKER}\n{masking.mask(markdown)}"
