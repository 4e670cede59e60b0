"""``dbci diff``: the schema SQL this branch's revisions add over the base branch's head."""

from __future__ import annotations

import argparse
import contextlib

from ci.config import Config
from ci.errors import EXIT_OK, BadInput
from ci.findings import Printer, Result
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


def diff(config: Config, base: str | None = None, head: Captured | None = None) -> Result:
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
    statements = migra_sql(before, head)
    over = f"over {ref}" if ref else "over an empty database"
    lines = [f"-- dbci diff: {len(statements)} statement(s) {over}"] + statements
    return Result(lines=lines, data={"base": ref, "sql": statements})


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the SQL; always exit 0: the diff is for reading."""
    printer.result(diff(config, base=args.base))
    return EXIT_OK
