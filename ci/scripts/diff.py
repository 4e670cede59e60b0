"""``dbci diff``: the schema SQL this branch's revisions add over the base branch's head."""

from __future__ import annotations

import argparse
import contextlib

from ci.config import Config
from ci.errors import EXIT_OK, BadInput
from ci.findings import Printer, Result
from ci.gitrefs import default_base, project_at
from ci.runner import at_head
from ci.schemadiff import migra_sql


def resolve_base(config: Config, base: str | None) -> str | None:
    """The ref to compare with: the one given, else the default base branch if there is one."""
    if base is not None:
        return base
    with contextlib.suppress(BadInput):
        return default_base(config)
    return None


def diff(config: Config, base: str | None = None, head_url: str | None = None) -> Result:
    """migra's SQL from the base head's schema (an empty one without a base) to this head's."""
    ref = resolve_base(config, base)
    with contextlib.ExitStack() as stack:
        before = None  # migra's empty database: no scratch one, so a lent database suffices
        if ref is not None:
            base_config = stack.enter_context(project_at(ref, config))
            before = stack.enter_context(at_head(base_config))
        after = stack.enter_context(at_head(config, head_url))
        statements = migra_sql(before, after)
    over = f"over {ref}" if ref else "over an empty database"
    lines = [f"-- dbci diff: {len(statements)} statement(s) {over}"] + statements
    return Result(lines=lines, data={"base": ref, "sql": statements})


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the SQL; always exit 0: the diff is for reading."""
    printer.result(diff(config, base=args.base))
    return EXIT_OK
