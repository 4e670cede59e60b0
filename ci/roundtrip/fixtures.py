"""The round trip's data fixtures: ``<script_location>/roundtrip_data/<revision>.sql``, rows
loaded right after their revision that later steps must keep."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from ci.db.runners import is_connection_lost
from ci.errors import BadInput, error_line
from ci.findings import display_path


def run_fixture(conn: sa.Connection, path: Path) -> None:
    """Run one data fixture on the round trip's connection; a fixture that cannot be read or
    fails is bad input naming its file."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{shown}: cannot read the data fixture ({error_line(exc)}); "
                       "save it as UTF-8 text") from exc
    try:
        conn.exec_driver_sql(text.replace("%", "%%"))
    except sa.exc.DBAPIError as exc:
        if is_connection_lost(exc):
            raise
        raise BadInput(f"{shown}: {error_line(exc)}; fix the data fixture") from exc
