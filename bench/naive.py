"""The naive round trip the benchmark compares dbci with, run as a process of its own.

Per revision: ``alembic upgrade`` to it, a snapshot of the whole catalog, ``alembic downgrade``
of it, another whole snapshot compared with the one taken at the previous revision, and
``alembic upgrade`` again. Each command runs in its own transaction on one connection; the
revision scripts are read once (:mod:`bench.migrations`), not by every command. It stops
after ``--cap`` seconds and prints one JSON line: revisions done, of how many, seconds, and
differences found.

    python -m bench.naive ALEMBIC_INI DATABASE_URL [--cap SECONDS]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from bench.migrations import Alembic
from ci import snapshot


def _done(conn: sa.Connection) -> None:
    """End the transaction a command or a snapshot left open."""
    if conn.in_transaction():
        conn.commit()


def naive(ini: str, url: str, cap: float) -> dict[str, Any]:
    """Run the loop over every revision from base, or until ``cap`` seconds have passed."""
    alembic = Alembic(ini)
    revisions = [s.revision for s in alembic.order()]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    differences = done = 0
    began = time.monotonic()
    with engine.connect() as conn:
        alembic.config.attributes["connection"] = conn
        previous = snapshot.take(conn)
        _done(conn)
        for rev in revisions:
            alembic.upgrade(rev)
            _done(conn)
            current = snapshot.take(conn)
            _done(conn)
            alembic.undo(rev)
            _done(conn)
            differences += len(snapshot.compare(previous, snapshot.take(conn)))
            _done(conn)
            alembic.upgrade(rev)
            _done(conn)
            previous = current
            done += 1
            if time.monotonic() - began > cap:
                break
    engine.dispose()
    return {"done": done, "total": len(revisions), "seconds": time.monotonic() - began,
            "differences": differences}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the loop and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.naive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ini")
    parser.add_argument("url")
    parser.add_argument("--cap", type=float, default=float("inf"), metavar="SECONDS")
    args = parser.parse_args(argv)
    print(json.dumps(naive(args.ini, args.url, args.cap)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
