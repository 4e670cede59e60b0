"""``dbci tunnel --stage STAGE --port PORT``: hold an SSM port forward to a stage's database
open for manual work (``make db/tunnel``), until Ctrl-C."""

from __future__ import annotations

import argparse

from ci.command import Command, stage_name, tunnel_port
from ci.config import Config
from ci.errors import OutsideFailure
from ci.output import Printer
from ci.stages import targets


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", required=True, metavar="STAGE", type=stage_name,
                        help="the deployed stage; its ssm_target is the instance the forward "
                             "goes through, its secret names the database's host and port")
    parser.add_argument("--port", required=True, type=tunnel_port, metavar="PORT",
                        help="the local port to listen on (127.0.0.1:PORT)")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Forward 127.0.0.1:PORT to the stage's database through SSM until interrupted; exit 3
    when the session ends by itself."""
    why = targets.hold_tunnel(config, args.stage, args.port, printer.log)
    raise OutsideFailure(f"stage {args.stage}: {why}")


COMMAND = Command("tunnel", "hold an SSM port forward to a stage's database open (Ctrl-C ends "
                  "it), for work by hand through --tunnel-port", run, arguments)
