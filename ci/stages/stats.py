"""A stage's table sizes: read (read-only) by ``status --stats-out``, joined by ``check --stats``.

The scratch databases the checks run on are empty, so how long a lock or a rewrite lasts on a
stage comes from these numbers alone: each table's row estimate (``pg_class.reltuples``, what
the planner believes; -1 before the first ANALYZE is kept as unknown) and its total size with
indexes and TOAST.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError

from ci.atomic_files import replace_files
from ci.db.runners import run_script
from ci.errors import BadInput
from ci.findings import display_path


class TableSize(BaseModel):
    """One table's size on the stage: rows (an estimate; None: never analysed) and bytes."""

    model_config = ConfigDict(extra="forbid")
    rows: int | None
    bytes: int


class StageStats(BaseModel):
    """Every table of the stage's application schemas, by ``schema.table``."""

    model_config = ConfigDict(extra="forbid")
    stage: str
    taken: str  # when, UTC, ISO 8601
    tables: dict[str, TableSize]


def read_live(connection: sa.Connection, stage: str) -> StageStats:
    """The stage's table sizes, read on its (read-only) connection."""
    tables = {f"{schema}.{name}": TableSize(rows=None if rows < 0 else int(rows), bytes=size)
              for schema, name, rows, size in run_script(connection, "table_sizes")}
    return StageStats(stage=stage, taken=datetime.now(UTC).isoformat(timespec="seconds"),
                      tables=tables)


def write(stats: StageStats, path: Path) -> None:
    """The stats as one JSON file, written whole."""
    replace_files({path: stats.model_dump_json(indent=1) + "\n"})


def load(path: Path) -> StageStats:
    """Stats ``status --stats-out`` wrote; bad input naming the file otherwise."""
    shown = display_path(path)
    try:
        return StageStats.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise BadInput(f"{shown}: cannot read the stats ({exc.strerror}); write them with "
                       "dbci status --stage STAGE --stats-out FILE") from exc
    except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{shown}: not stats dbci status --stats-out wrote; write them again "
                       "with it") from exc
