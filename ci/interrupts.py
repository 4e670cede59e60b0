"""Which signals interrupted this process. A ``KeyboardInterrupt`` with no signal behind it is
the project's code raising it (a revision, env.py): a failure like any other, never the user's
Ctrl-C; and a run a signal interrupted ends as interrupted, whatever broke on its way out."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

#: The signals received since :func:`reset`, in order.
RECEIVED: list[int] = []
#: The signals dbci turns into ``KeyboardInterrupt``, so that cleanup runs.
HANDLED = (signal.SIGINT, signal.SIGTERM)

#: What an interrupt leaves, whatever the command: the handlers let every ``with`` block end,
#: so scratch databases are dropped, and a transaction under way (a revision a migrate was
#: applying) is rolled back by the server; what was committed before stays.
UNDONE = ("nothing it had under way is kept (scratch databases dropped, open transactions "
          "rolled back)")


def record(signum: int, frame: FrameType | None) -> None:
    """A signal handler: note the signal, then interrupt the work."""
    RECEIVED.append(signum)
    raise KeyboardInterrupt


def by_signal() -> bool:
    """Whether a signal interrupted this process since :func:`reset`."""
    return bool(RECEIVED)


def reset() -> None:
    """Forget the signals of an earlier run (tests run many in one process)."""
    RECEIVED.clear()


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """While the block runs, :data:`HANDLED` signals interrupt through :func:`record`, each
    where nothing else handles it yet (its default handler); after it, as before."""
    ours = {number: signal.signal(number, record) for number in HANDLED
            if signal.getsignal(number) in (signal.SIG_DFL, signal.default_int_handler)}
    try:
        yield
    finally:
        for number, handler in ours.items():
            signal.signal(number, handler)
