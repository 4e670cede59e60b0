"""Work done beside this process, in a forked child, while this process does its own share.

The child starts from this process's memory (modules, the loaded history), opens its own
connections, and hands back its result, or its expected failure, pickled through a pipe. The
work is a context manager: its value goes back as soon as it is there, and the child cleans up
(drops its scratch database) while this process carries on; a cleanup that fails is reported
when this process waits for the child. The child never returns into the caller's frames:
whatever happens, it ends with ``os._exit``. Interrupts reach it through this process: Ctrl-C
is this process's to handle, which ends the child with SIGTERM.
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

from ci import interrupts
from ci.errors import EXIT_OUTSIDE, DbciError, OutsideFailure, described

T = TypeVar("T")

#: How long the child may take to drop what it made (its scratch databases) once asked to end,
#: or once it handed its value over.
STOP_SECONDS = 60.0
#: What the round trip's second worker is called in messages.
NAME = "the round trip's second worker"
_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def available() -> bool:
    """Whether work can go beside: Linux (fork is safe there with libpq; macOS's system
    libraries are not fork-safe) with at least two CPUs to run on (as the scheduler allows:
    a container's CPU quota is not seen)."""
    return sys.platform == "linux" and len(os.sched_getaffinity(0)) >= 2


class Child(Generic[T]):
    """A forked child doing ``work``; :meth:`result` waits for the value it gave."""

    def __init__(self, work: Callable[[], AbstractContextManager[T]]) -> None:
        read, write = os.pipe()
        # No signal before the child has its handlers; none lost here either (delivered at
        # the unblock, once the child is known and can be ended)
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(read)
            os.close(write)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            raise OutsideFailure(f"cannot start {NAME} ({exc.strerror}); set "
                                 "roundtrip_workers = 1 in [tool.dbci]") from exc
        if pid == 0:  # the child: never leaves this branch
            try:
                os.close(read)
                _run_child(work, write, previous)
            finally:
                os._exit(1)
        self.pid = pid
        self._taken = self._reaped = False
        os.close(write)
        self._pipe = os.fdopen(read, "rb")
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        except BaseException:  # an interrupt that waited for the unblock: end the child too
            self.stop()
            raise

    def result(self) -> T:
        """The value ``work`` gave; its expected failure raised here as it was raised there."""
        with self._pipe:
            data = self._pipe.read()
        self._taken = True
        try:
            kind, value = pickle.loads(data)
        except Exception:  # noqa: BLE001 - nothing, or cut short: the child ended without one
            raise OutsideFailure(f"{NAME} (pid {self.pid}) ended without a result "
                                 f"({self._ended()}); run again, or set roundtrip_workers = 1 "
                                 "in [tool.dbci]") from None
        if kind == "interrupted":
            if interrupts.by_signal():  # this process was interrupted too: its Ctrl-C
                raise KeyboardInterrupt
            raise OutsideFailure(f"{NAME} (pid {self.pid}) was ended by a signal sent to it "
                                 "alone; run again, or set roundtrip_workers = 1 in [tool.dbci]")
        if kind == "error":
            message, exit_code, detail = value
            raise DbciError(message, exit_code=exit_code, detail=detail)
        return value  # type: ignore[no-any-return]

    def stop(self) -> int:
        """Wait for the child to end, and its exit status: once its value was taken, as it
        cleans up; before that, it is asked to end (it drops what it made)."""
        if self._reaped:
            return 0
        if not self._taken:
            self._pipe.close()
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._reaped = True
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.01)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        self._reaped = True
        return -signal.SIGKILL

    def _ended(self) -> str:
        code = self.stop()
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"


@contextlib.contextmanager
def in_fork(work: Callable[[], AbstractContextManager[T]]) -> Iterator[Child[T]]:
    """``work`` running in a child for the length of the block; waited for on the way out,
    asked to end first unless its value was taken. A child that could not clean up after
    handing its value over fails the block (as a scratch database one cannot drop does)."""
    child = Child(work)
    try:
        yield child
    except BaseException:
        child.stop()
        raise
    if child.stop() != 0 and child._taken:
        raise OutsideFailure(f"{NAME} (pid {child.pid}) could not clean up after its part (see "
                             "above); a scratch database may be left, which the next run on "
                             "this host drops")


def _run_child(work: Callable[[], AbstractContextManager[Any]], pipe: int,
               mask: Any) -> None:
    """Run ``work``, write its value or failure to ``pipe``, then clean up and exit, without
    running the parent's cleanup (atexit handlers, the ``finally`` blocks of its callers)."""
    code = 0
    out = os.fdopen(pipe, "wb")
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        signal.signal(signal.SIGTERM, _interrupt)  # as the command line does: drop, then go
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        try:
            with work() as value:
                _send(out, ("ok", value))
        except KeyboardInterrupt:
            code = EXIT_OUTSIDE if _send(out, ("interrupted", None)) else 0
        except DbciError as exc:
            code = EXIT_OUTSIDE if _send(out, ("error", (exc.message, exc.exit_code,
                                                         exc.detail))) else 0
        except BaseException as exc:  # noqa: BLE001 - handed to the parent as one line
            code = EXIT_OUTSIDE if _send(out, ("error", (f"{NAME} failed: {described(exc)}",
                                                         EXIT_OUTSIDE, None))) else 0
    except BaseException:  # noqa: BLE001 - the parent reports a child without a result
        code = EXIT_OUTSIDE
    finally:
        os._exit(code)


def _send(out: Any, payload: tuple[str, Any]) -> bool:
    """Write ``payload`` and close the pipe. False when the value was sent already: what
    failed came after it, while cleaning up (the exit status tells the parent)."""
    if out.closed:
        return True
    try:
        data = pickle.dumps(payload)
        pickle.loads(data)  # what does not come back whole goes as its text
    except Exception:  # noqa: BLE001
        data = pickle.dumps(("error", (f"{NAME} failed: {described(payload[1])}",
                                       EXIT_OUTSIDE, None)))
    with out:
        out.write(data)
    return False


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """The first SIGTERM interrupts the work; later ones wait for its cleanup to end."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    interrupts.record(signum, frame)
