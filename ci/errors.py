"""Exit codes and the one error type for expected failures."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
EXIT_OUTSIDE = 3


class DbciError(Exception):
    """An expected failure: one line for the user and the exit code it maps to."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
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
