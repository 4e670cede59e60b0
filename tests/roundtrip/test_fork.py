"""ci/roundtrip/fork.py: work in a forked child hands back its value, or its failure, and
cleans up."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci.errors import BadInput, DbciError, OutsideFailure
from ci.roundtrip.fork import available, in_fork

pytestmark = pytest.mark.skipif(not available(), reason="work goes beside on Linux, 2 CPUs")


@contextlib.contextmanager
def work(value: object, cleaned: Path) -> Iterator[object]:
    """Gives ``value`` (raises it when it is an exception), then writes ``cleaned``."""
    try:
        if isinstance(value, BaseException):
            raise value
        yield value
    finally:
        cleaned.write_text(str(os.getpid()))


def test_the_value_comes_back_and_the_child_cleans_up_after(tmp_path: Path) -> None:
    cleaned = tmp_path / "cleaned"
    with in_fork(lambda: work({"revisions": [1, 2]}, cleaned)) as child:
        assert child.result() == {"revisions": [1, 2]}
    assert cleaned.read_text() != str(os.getpid())  # the child's cleanup, waited for


def test_an_expected_failure_is_raised_here_as_it_was_there(tmp_path: Path) -> None:
    failure = OutsideFailure("cannot reach the server", detail="is it up?")
    with in_fork(lambda: work(failure, tmp_path / "cleaned")) as child, \
            pytest.raises(DbciError) as raised:
        child.result()
    assert (raised.value.message, raised.value.exit_code, raised.value.detail) == (
        "cannot reach the server", OutsideFailure.exit_code, "is it up?")


class Unpicklable(Exception):  # noqa: N818 - as user code might raise
    def __reduce__(self) -> object:
        raise TypeError("no")


def test_a_failure_that_does_not_pickle_comes_back_as_its_text(tmp_path: Path) -> None:
    with in_fork(lambda: work(Unpicklable("deep"), tmp_path / "cleaned")) as child, \
            pytest.raises(DbciError, match="second worker failed: Unpicklable: deep"):
        child.result()


def test_a_child_that_dies_without_a_value_fails_closed() -> None:
    @contextlib.contextmanager
    def dies() -> Iterator[None]:
        os._exit(9)
        yield  # pragma: no cover

    with in_fork(dies) as child, pytest.raises(OutsideFailure, match="exit status 9"):
        child.result()


def test_leaving_early_ends_the_child_and_its_cleanup_runs(tmp_path: Path) -> None:
    started, cleaned = tmp_path / "started", tmp_path / "cleaned"

    @contextlib.contextmanager
    def slow() -> Iterator[None]:
        try:
            started.touch()
            time.sleep(30)  # interrupted by the parent's SIGTERM
            yield
        finally:
            cleaned.write_text("dropped")

    with pytest.raises(BadInput), in_fork(slow):
        while not started.exists():
            time.sleep(0.01)
        raise BadInput("this process failed first")
    assert cleaned.read_text() == "dropped"


class TwoArguments(Exception):  # noqa: N818 - pickles, but does not unpickle: as some libraries'
    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}")


def test_a_failure_that_does_not_come_back_whole_comes_back_as_its_text(tmp_path: Path) -> None:
    with in_fork(lambda: work(TwoArguments(7, "deep"), tmp_path / "cleaned")) as child, \
            pytest.raises(DbciError, match="second worker failed: TwoArguments: 7: deep"):
        child.result()


def test_a_cleanup_that_fails_after_the_handover_fails_the_block() -> None:
    @contextlib.contextmanager
    def leaves_a_database() -> Iterator[int]:
        yield 1
        raise OutsideFailure("cannot drop the scratch database dbci_1_x")

    with pytest.raises(OutsideFailure, match="could not clean up"), \
            in_fork(leaves_a_database) as child:
        assert child.result() == 1
