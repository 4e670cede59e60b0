"""Writing files as one change: every file written and removed, or the tree as it was."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from ci.errors import BadInput, DbciError, OutsideFailure
from ci.findings import display_path


def replace_files(writes: Mapping[Path, str], removes: Iterable[Path] = ()) -> None:
    """Write every file (temporary file, then rename) and remove the others, or change nothing.

    All new contents reach disk before any file is touched; then files are replaced and
    removed one by one, and if one of those steps fails (a file that cannot be removed, a
    folder turned read-only) the ones done are undone from the old contents kept in memory.
    """
    removes = [p for p in removes if p not in writes]
    for path in [*writes, *removes]:
        if path.exists() and not path.is_file():  # a rename would replace a device or a pipe
            raise BadInput(f"{display_path(path)}: not a regular file; nothing was changed")
    staged: dict[Path, str] = {}
    try:
        for path, text in writes.items():
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dbci-", suffix=".tmp")
            staged[path] = tmp
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        before = {p: (p.read_bytes(), p.stat().st_mode & 0o777)
                  for p in [*writes, *removes] if p.exists()}
    except OSError as exc:
        _discard(staged.values())
        raise _failure(exc)(f"cannot write {display_path(exc.filename or '.')}: "
                            f"{exc.strerror}; nothing was changed") from exc
    done: list[Path] = []
    try:
        for path, tmp in staged.items():
            os.replace(tmp, path)
            done.append(path)
        for path in removes:
            path.unlink(missing_ok=True)
            done.append(path)
    except OSError as exc:
        _discard(staged.values())
        undone = _undo(done, before)
        state = ("nothing was changed" if undone else
                 "undoing the files already changed failed too: check them with `git status`")
        raise _failure(exc)(f"cannot change {display_path(exc.filename or '.')}: "
                            f"{exc.strerror}; {state}") from exc


def _failure(error: OSError) -> type[DbciError]:
    """A disk that is full or failing is an outside failure; a folder one may not write, or a
    file in the way, is the user's to fix."""
    return OutsideFailure if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO) else BadInput


def _discard(temporary: Iterable[str]) -> None:
    for tmp in temporary:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _undo(done: list[Path], before: Mapping[Path, tuple[bytes, int]]) -> bool:
    """Put each changed path back as it was; False when one could not be."""
    ok = True
    for path in reversed(done):
        try:
            if path in before:
                data, mode = before[path]
                path.write_bytes(data)
                os.chmod(path, mode)
            else:
                path.unlink(missing_ok=True)
        except OSError:
            ok = False
    return ok
