"""The given database lent as the scratch one, where the role may not create databases: runs
that share it take turns, and each finds it empty and leaves it so."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ci.db.runners import ADMIN_APPLICATION, create_engine, run_script
from ci.db.urls import mask_url
from ci.errors import BadInput

#: The advisory lock a run holds on a database it was lent (a role without CREATEDB), so runs
#: that share one take turns.
LENT_LOCK = 0x64626369  # "dbci"


#: Databases this process was lent (URL -> how many scratch databases use it now).
_LENT: dict[str, int] = {}


def lent(url: str) -> bool:
    """Whether a scratch database's URL is a database this process was lent (the role may not
    create databases): there is no second one to be had."""
    return url in _LENT


@contextlib.contextmanager
def lent_database(url: str) -> Iterator[str]:
    """The given database as the scratch one.

    Runs that share it take turns (an advisory lock, which the server releases when a run is
    killed). The first use must find it empty, or holding only what a killed dbci run left
    (its ``dbci_track`` schema says so), which is dropped; it is emptied when the outermost use
    ends. A nested use empties it on entry, so callers capture what they need from one scratch
    database before they ask for the next.
    """
    engine = create_engine(url)
    outermost = url not in _LENT
    try:
        with contextlib.ExitStack() as stack:
            if outermost:
                lock_engine = create_engine(url, ADMIN_APPLICATION)
                stack.callback(lock_engine.dispose)
                lock = stack.enter_context(lock_engine.connect())
                lock.exec_driver_sql(f"SELECT pg_advisory_lock({LENT_LOCK})")
                run_script(lock, "end_orphans")  # sessions of killed runs still at work
                lock.commit()
            with engine.begin() as conn:
                if not outermost or run_script(conn, "lent_leftovers")[0][0]:
                    run_script(conn, "empty_database")
                elif run_script(conn, "user_objects")[0][0]:
                    raise BadInput(
                        f"{mask_url(url)}: the role may not create databases, so dbci works in "
                        "this database, which must then be empty; it is not. Give an empty "
                        "database or a role with CREATEDB"
                    )
                conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS dbci_track")  # dbci's mark
            _LENT[url] = _LENT.get(url, 0) + 1
            try:
                yield url
            finally:
                _LENT[url] -= 1
                if not _LENT[url]:
                    del _LENT[url]
                    with engine.begin() as conn:
                        run_script(conn, "empty_database")
    finally:
        engine.dispose()
