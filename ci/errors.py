"""Exit codes, the one error type for expected failures, and where user code failed."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
EXIT_OUTSIDE = 3
#: SIGINT and SIGTERM, as shells report them (128 + the signal's number).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class DbciError(Exception):
    """An expected failure: one line for the user, the exit code it maps to, and optional
    detail (a few lines shown above that line: what to change, and how)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, exit_code: int | None = None,
                 detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0])


class BadInput(DbciError):
    """Unreadable or malformed file, unknown revision, ref or stage (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class OutsideFailure(DbciError):
    """A database, git, squawk or AWS call failed (exit 3)."""

    exit_code = EXIT_OUTSIDE


def error_line(error: BaseException) -> str:
    """The first line of what the database (or Python) said, and PostgreSQL's hint (often the
    fix: "You might need to specify USING ...")."""
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    line = text.splitlines()[0] if text else type(orig).__name__
    if not isinstance(orig, Exception) and line != type(orig).__name__:
        line = f"{type(orig).__name__}: {line}"  # SystemExit(0) says "0" on its own
    hint = getattr(getattr(orig, "diag", None), "message_hint", None)
    return f"{line} (HINT: {hint})" if hint else line


def described(error: BaseException) -> str:
    """``TypeName: first line``, as Python shows an exception."""
    orig = getattr(error, "orig", None) or error
    text = error_line(error)
    return type(orig).__name__ if text == type(orig).__name__ else f"{type(orig).__name__}: {text}"


def user_frame(error: BaseException, root: Path) -> str | None:
    """``path:line`` of the innermost frame of ``error`` in a file below ``root`` (the
    project), outside any installed package: where the project's own code failed."""
    prefixes = tuple(str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix})
    found = None
    places = [(f.filename, f.lineno) for f in traceback.extract_tb(error.__traceback__)]
    if isinstance(error, SyntaxError) and error.filename:  # where the parser stopped
        places.append((error.filename, error.lineno))
    for filename, lineno in places:
        path = Path(filename)
        if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>: no file
            continue
        try:
            rel = path.resolve().relative_to(root.resolve())
        except (ValueError, OSError):
            continue
        if not str(path.resolve()).startswith(prefixes):
            found = f"{rel}:{lineno}"
    return found


def internal(error: BaseException) -> OutsideFailure:
    """dbci's own bug, said as one line that tells how to report it."""
    return OutsideFailure(f"internal error ({described(error)}); this is a bug in dbci, not in "
                          "your project: please report it to dbci's maintainers (the issue "
                          "tracker of the repository you installed it from) with the output of "
                          "the same command run with --debug")
