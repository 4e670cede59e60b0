"""``--tunnel ssm``: an AWS SSM port forward to a stage's database, opened and ended by dbci.

dbci runs ``aws ssm start-session`` with the ``AWS-StartPortForwardingSessionToRemoteHost``
document in a process group of its own (``aws`` starts ``session-manager-plugin``), waits until
the local port accepts, and ends the whole group when the command ends, however it ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from ci.db import masking
from ci.errors import BadInput, OutsideFailure
from ci.settings import env_seconds

#: The SSM document that forwards a local port to a host the instance reaches.
DOCUMENT = "AWS-StartPortForwardingSessionToRemoteHost"
#: Seconds to wait for the forward to accept connections; env ``DBCI_TUNNEL_WAIT`` changes it.
WAIT = 30.0
#: Seconds the session gets to end on SIGTERM before its group is killed.
GRACE = 5.0
#: Linux's ``prctl`` option that signals a child when the thread that started it dies.
PR_SET_PDEATHSIG = 1


def wait_bound() -> float:
    """How long to wait for the forward: ``DBCI_TUNNEL_WAIT`` seconds, else :data:`WAIT`."""
    return env_seconds("DBCI_TUNNEL_WAIT", WAIT, 3600)


def free_port() -> int:
    """A local TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def session_arguments(instance: str, host: str, port: int, local_port: int) -> list[str]:
    """``aws``'s arguments for a forward of ``127.0.0.1:local_port`` to ``host:port``."""
    return ["ssm", "start-session", "--target", instance, "--document-name", DOCUMENT,
            "--parameters", f"host={host},portNumber={port},localPortNumber={local_port}"]


@dataclass(frozen=True)
class Session:
    """An open SSM port forward: its local port, and the ``aws`` process that holds it."""

    local_port: int
    process: subprocess.Popen[bytes] = field(repr=False)
    log: IO[bytes] = field(repr=False)

    def wait(self) -> str:
        """Block until the session ends by itself; why it ended, masked, as one phrase."""
        code = self.process.wait()
        return f"aws exited {code}: {_first_line(self.log)}"


@contextlib.contextmanager
def ssm_forward(stage: str, instance: str, host: str, port: int, *,
                wait: float | None = None) -> Iterator[int]:
    """Forward a free local port to ``host:port`` through the SSM-managed ``instance``; yields
    the local port once it accepts, and ends the session (its whole process group) on exit."""
    with ssm_session(stage, instance, host, port, wait=wait) as session:
        yield session.local_port


@contextlib.contextmanager
def ssm_session(stage: str, instance: str, host: str, port: int, *,
                local_port: int | None = None, wait: float | None = None) -> Iterator[Session]:
    """:func:`ssm_forward` on ``local_port`` (a free one when None), yielding the session."""
    aws = shutil.which("aws")
    if aws is None:
        raise OutsideFailure(f"an SSM tunnel to stage {stage} needs the AWS CLI with the "
                             "session-manager plugin (aws not found on PATH); install both, or "
                             "open a forward yourself and pass --tunnel-port PORT")
    bound = wait_bound() if wait is None else wait
    if local_port is None:
        local_port = free_port()
    else:
        _check_free(local_port)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(  # noqa: S603 - a fixed program and arguments, no shell
            [aws, *session_arguments(instance, host, port, local_port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            start_new_session=True, preexec_fn=_dies_with_parent())
        try:
            _wait_open(process, local_port, bound, log,
                       f"stage {stage}: the SSM port forward through {instance}")
            yield Session(local_port, process, log)
        finally:
            _end(process)


def _check_free(local_port: int) -> None:
    """Refuse a local port something already listens on: dbci would talk to that instead."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", local_port))
        except OSError as exc:
            raise BadInput(f"127.0.0.1:{local_port} is in use ({exc.strerror}); pick another "
                           "port") from exc


def _wait_open(process: subprocess.Popen[bytes], local_port: int, bound: float, log: IO[bytes],
               what: str) -> None:
    """Return once ``127.0.0.1:local_port`` accepts; exit 3 when the session ends first or
    the bound passes."""
    deadline = time.monotonic() + bound
    while True:
        code = process.poll()
        if code is not None:
            raise OutsideFailure(f"{what} ended before it opened (aws exited {code}: "
                                 f"{_first_line(log)}); check the instance is online in SSM "
                                 "and your AWS credentials may start sessions")
        with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", local_port), timeout=1):
            return
        if time.monotonic() > deadline:
            raise OutsideFailure(f"{what} did not open within {bound:g}s ({_first_line(log)}); "
                                 "check the instance is online in SSM and reaches the database")
        time.sleep(0.1)


def _first_line(log: IO[bytes]) -> str:
    """The first line ``aws`` wrote on stderr, masked, or a note that it wrote nothing."""
    log.seek(0)
    text = log.read(4096).decode(errors="replace")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return masking.mask(first[:300]) if first else "it said nothing"


def _end(process: subprocess.Popen[bytes]) -> None:
    """End the session's process group: SIGTERM, a short wait, then SIGKILL for what is left
    (``session-manager-plugin`` too). A signal during the wait still gets the group killed."""
    try:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=GRACE)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _dies_with_parent() -> Callable[[], None] | None:
    """On Linux, a ``preexec_fn`` that has the kernel send SIGTERM to ``aws`` when dbci dies,
    even by SIGKILL; elsewhere none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))

    return preexec
