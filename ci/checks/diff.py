"""Diff: the schema SQL this branch's revisions add over the base branch's head."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from ci.config import Config
from ci.errors import BadInput
from ci.findings import count
from ci.gitrefs import default_base, project_at
from ci.runner import at_head
from ci.schemadiff import Captured, capture, migra_sql


def resolve_base(config: Config, base: str | None) -> str | None:
    """The ref to compare with: the one given, else the default base branch if there is one."""
    if base is not None:
        return base
    with contextlib.suppress(BadInput):
        return default_base(config)
    return None


@dataclass(frozen=True)
class DiffResult:
    """migra's statements from the base head's schema to this head's."""

    base: str | None
    sql: list[str]

    @property
    def summary(self) -> str:
        """``3 statement(s) over main``."""
        over = f"over {self.base}" if self.base else "over an empty database"
        return f"{count(len(self.sql), 'statement')} {over}"


def diff(config: Config, base: str | None = None, head: Captured | None = None) -> DiffResult:
    """migra's SQL from the base head's schema (an empty one without a base) to this head's.

    ``head`` is this head's schema when the caller captured it already.
    """
    ref = resolve_base(config, base)
    before = None
    if ref is not None:
        with project_at(ref, config) as base_config, at_head(base_config) as connection:
            before = capture(connection)
    if head is None:
        with at_head(config) as connection:
            head = capture(connection)
    return DiffResult(ref, migra_sql(before, head))
