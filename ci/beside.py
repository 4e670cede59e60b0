"""Work done beside this process, in a forked child, while this process does its own share.

The child starts from this process's memory (modules, the loaded history), opens its own
connections, and hands back its result, or its expected failure, pickled through a pipe. The
work is a context manager: its value goes back as soon as it is there, and the child cleans up
(drops its scratch database) while this process carries on. The child never returns into the
caller's frames: whatever happens, it ends with ``os._exit``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from types import FrameType
from typing import Any, Generic, TypeVar

from ci.errors import DbciError, OutsideFailure, described

T = TypeVar("T")

#: How long a stopped child may take to drop what it made (its scratch database).
STOP_SECONDS = 30.0


def available() -> bool:
    """Whether work can go beside: Linux (fork is safe there with libpq; macOS's system
    libraries are not fork-safe) with at least two CPUs to run on."""
    return sys.platform == "linux" and len(os.sched_getaffinity(0)) >= 2


class Child(Generic[T]):
    """A forked child doing ``work``; :meth:`result` waits for the value it gave."""

    def __init__(self, work: Callable[[], AbstractContextManager[T]]) -> None:
        read, write = os.pipe()
        # SIGTERM waits until the child has its handler (so it always drops what it made)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            self.pid = os.fork()
            if self.pid == 0:  # the child: never leaves this branch
                os.close(read)
                _run_child(work, write)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        os.close(write)
        self._pipe = os.fdopen(read, "rb")
        self._taken = self._reaped = False

    def result(self) -> T:
        """The value ``work`` gave; its expected failure raised here as it was raised there."""
        with self._pipe:
            data = self._pipe.read()
        self._taken = True
        if not data:
            _, status = os.waitpid(self.pid, 0)
            self._reaped = True
            raise OutsideFailure(f"the round trip's second worker (pid {self.pid}) ended without "
                                 f"a result ({_status(status)}); run again, or set "
                                 "roundtrip_workers = 1 in [tool.dbci]")
        kind, value = pickle.loads(data)
        if kind == "interrupted":
            raise KeyboardInterrupt
        if kind == "error":
            message, exit_code, detail = value
            raise DbciError(message, exit_code=exit_code, detail=detail)
        if kind == "raised":
            raise value
        return value  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Wait for the child to end: once its value was taken, as it cleans up; before that,
        ended early (it drops what it made)."""
        if self._reaped:
            return
        self._reaped = True
        if self._taken:
            os.waitpid(self.pid, 0)
            return
        self._pipe.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline:
            if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                return
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


@contextlib.contextmanager
def beside(work: Callable[[], AbstractContextManager[T]]) -> Iterator[Child[T]]:
    """``work`` running in a child for the length of the block; waited for on the way out,
    ended early unless its value was taken."""
    child = Child(work)
    try:
        yield child
    finally:
        child.stop()


def _run_child(work: Callable[[], AbstractContextManager[Any]], pipe: int) -> None:
    """Run ``work``, write its value or failure to ``pipe``, then clean up and exit without
    running the parent's cleanup (atexit handlers, the ``finally`` blocks of its callers)."""
    code = 0
    out = os.fdopen(pipe, "wb")
    try:
        signal.signal(signal.SIGTERM, _interrupt)  # as the command line does: drop, then go
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        try:
            with work() as value:
                _send(out, ("ok", value))
        except KeyboardInterrupt:
            _send(out, ("interrupted", None))
        except DbciError as exc:
            _send(out, ("error", (exc.message, exc.exit_code, exc.detail)))
        except BaseException as exc:  # noqa: BLE001 - handed to the parent, which decides
            _send(out, ("raised", exc))
    except BaseException:  # noqa: BLE001 - the parent reports a child without a result
        code = 1
    finally:
        os._exit(code)


def _send(out: Any, payload: tuple[str, Any]) -> None:
    """Write ``payload`` and close the pipe (once: a failure while cleaning up after the value
    was sent changes nothing the parent has)."""
    if out.closed:
        return
    try:
        data = pickle.dumps(payload)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
        data = pickle.dumps(("error", (f"the round trip's second worker failed: "
                                       f"{described(payload[1])}", OutsideFailure.exit_code,
                                       None)))
    with out:
        out.write(data)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"
