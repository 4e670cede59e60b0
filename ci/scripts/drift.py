"""``dbci drift``: the ORM against the schema the migrations build, both ways."""

from __future__ import annotations

import argparse

from ci.checks.drift import drift
from ci.command import Command
from ci.config import Config
from ci.findings import Result
from ci.output import Printer


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the drift findings."""
    drifted = drift(config)
    printer.result(Result(findings=drifted.findings, summary=[f"drift: {drifted.summary}"],
                          data={"migra": drifted.migra}))
    return drifted.exit_code


COMMAND = Command("drift", "compare the ORM with the schema the migrations build, both ways", run)
