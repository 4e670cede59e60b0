"""Writing several files as one change: all of them or none."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from ci.errors import BadInput


def replace_files(writes: Mapping[Path, str], removes: Iterable[Path] = ()) -> None:
    """Write every file (temporary file, then rename) and remove the others, or change nothing.

    All new contents reach disk before any file is replaced, so a failure while writing them
    (a full disk, a read-only folder) leaves every file as it was.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in writes.items():
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dbci-", suffix=".tmp")
            staged.append((tmp, path))
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
            os.chmod(tmp, mode)
    except OSError as exc:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise BadInput(f"cannot write {exc.filename or 'a file'}: {exc.strerror}; "
                       "nothing was changed") from exc
    for tmp, path in staged:
        os.replace(tmp, path)
    for path in removes:
        if path not in writes:
            path.unlink(missing_ok=True)
