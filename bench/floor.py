"""The in-process floor the benchmark compares dbci roundtrip with, run as a process of its own.

The round trip's own steps with nothing checked: one process, one connection, the project's
env.py; per revision, upgrade, then downgrade inside a savepoint that is rolled back. No event
triggers, no snapshots, no row digests: what running every step costs before checking any.

    python -m bench.floor ALEMBIC_INI DATABASE_URL
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from alembic.runtime.migration import MigrationContext

from ci.alembic_env import apply, run_env
from ci.config import Config
from ci.db.runners import connect, create_engine
from ci.history import load_history
from ci.roundtrip.engine import COMMIT_EVERY


def floor(ini: Path, url: str) -> None:
    """Upgrade each revision, and downgrade it inside a savepoint rolled back."""
    config = Config.load(ini, url)
    history = load_history(config)
    order = history.order()

    def body(context: MigrationContext) -> None:
        conn = context.connection
        assert conn is not None
        for index, rev in enumerate(order, start=1):
            apply(rev, "upgrade")
            savepoint = conn.begin_nested()
            apply(rev, "downgrade")
            savepoint.rollback()
            if index % COMMIT_EVERY == 0:
                with context.autocommit_block():
                    pass  # as the round trip does

    engine = create_engine(url)
    try:
        with connect(engine) as conn:
            run_env(config, history, conn, body)
            conn.commit()
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Run every step once up and once down."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ini", type=Path)
    parser.add_argument("url")
    args = parser.parse_args(argv)
    floor(args.ini, args.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
