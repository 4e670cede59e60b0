"""``python -m bench`` (``make bench``): time dbci roundtrip against its alternatives.

For each size N, one generated history (a git repository whose last 5 revisions are new on a
branch) is checked with ``dbci lint``, then timed with ``dbci roundtrip``, plain ``alembic
upgrade head`` + ``downgrade base``, the in-process floor (the same steps, nothing checked),
the naive loop, pytest-alembic's ``test_up_down_consistency`` and ``dbci check --base``, all
on dbci's embedded PostgreSQL. For each of ``--real-sizes``, a real-shaped history
(:mod:`bench.realistic`, ``safe``: plain Alembic runs through it) is timed with ``dbci
roundtrip`` and plain Alembic, on the embedded server and on ``--database-url``'s (a TCP
server; skipped when none is given). Each round runs every tool once, in turn (A B A B); the
first round is a warm-up, not counted (the naive loop, capped and estimated, is not warmed
up). The tables go to stdout and to ``--out``; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa

from bench import measure, realistic, report
from bench.generate import generate, with_base
from ci.db.embedded import embedded_url
from ci.db.runners import create_engine
from ci.db.urls import mask_url, normalize_url

#: Revisions the benchmark's branch adds over its base, for ``dbci check --base``.
NEW = 5


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--sizes takes numbers like 50,200,1000: {text}") from exc
    if any(size < 3 for size in sizes):
        raise argparse.ArgumentTypeError("each size must be at least 3")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    """The runner's options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_sizes, default=[50, 200, 1000], metavar="N,N,...",
                        help="history sizes (default: 50,200,1000)")
    parser.add_argument("--repeat", type=int, default=3, metavar="R",
                        help="runs of each measurement; the table shows the median (default: 3)")
    parser.add_argument("--out", type=Path, default=Path("bench/results.md"),
                        help="markdown file to write (default: bench/results.md)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default: 1)")
    parser.add_argument("--naive-cap", type=float, default=120.0, metavar="SECONDS",
                        help="stop the naive loop after this long and scale its time up to "
                             "the whole history (default: 120)")
    parser.add_argument("--real-sizes", type=_sizes, default=[110, 300], metavar="N,N,...",
                        help="real-shaped history sizes (default: 110,300)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="a TCP server to time the real-shaped histories on as well "
                             "(default: DATABASE_URL; none: embedded server only)")
    return parser


def server_version(url: str | None = None) -> str:
    """The server's version, as it reports it (None: the embedded server's)."""
    engine = create_engine(normalize_url(url) if url else embedded_url())
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())
    finally:
        engine.dispose()


Tools = dict[str, Callable[[], measure.Timing]]


def rounds(tools: Tools, repeat: int, label: str, log: Callable[[str], None],
           cold: frozenset[str] = frozenset()) -> dict[str, measure.Timing]:
    """One warm-up round (not counted; ``cold`` tools sit it out), then ``repeat`` rounds, the
    tools taking turns in each; each tool's median."""
    runs: dict[str, list[measure.Timing]] = {key: [] for key in tools}
    for number in range(repeat + 1):
        for key, tool in tools.items():
            if number == 0 and key in cold:
                continue
            timing = tool()
            log(f"bench: {label} {report.SHORT[key]}{' (warm-up)' if number == 0 else ''}: "
                f"{timing.text()} s {timing.note}".rstrip())
            if number:
                runs[key].append(timing)
    return {key: measure.median(timings) for key, timings in runs.items()}


def measure_size(folder: Path, size: int, args: argparse.Namespace, python: Path,
                 log: Callable[[str], None]) -> report.Row:
    """Generate one history and time each tool on it ``args.repeat`` times."""
    project = generate(folder / f"history-{size}", size, args.seed)
    base = with_base(project, NEW)
    measure.lint(project.ini)
    tools: Tools = {
        "plain": lambda: measure.plain_alembic(project.ini),
        "roundtrip": lambda: measure.roundtrip(project.ini, size),
        "floor": lambda: measure.floor(project.ini),
        "check": lambda: measure.check_base(project.ini, base, size),
        "naive": lambda: measure.naive(project.ini, args.naive_cap),
        "pytest_alembic": lambda: measure.pytest_alembic(project.ini, python),
    }
    return report.Row(size, rounds(tools, args.repeat, f"N={size}", log, frozenset({"naive"})))


#: The real-shaped histories of each size: (label, share of revisions with a defect).
REAL_HISTORIES = ((f"{realistic.DEFECT_RATE:.0%} with defects", realistic.DEFECT_RATE),
                  ("no defects", 0.0))


def measure_real(folder: Path, size: int, args: argparse.Namespace,
                 log: Callable[[str], None]) -> list[report.Row]:
    """Generate the real-shaped histories of one size; time the round trip and plain Alembic
    on each, on each server (a history without defects must pass: exit 0)."""
    rows = []
    for label, rate in REAL_HISTORIES:
        project, _ = realistic.generate(folder / f"real-{size}-{rate:g}", size, args.seed,
                                        safe=True, defect_rate=rate)
        measure.compile_revisions(project.path / "database" / "versions")
        for where, server in (("embedded", None), ("TCP", args.database_url)):
            if where == "TCP" and server is None:
                continue
            tools: Tools = {
                "roundtrip": partial(measure.roundtrip, project.ini, size, server,
                                     findings=rate > 0),
                "plain": partial(measure.plain_alembic, project.ini, server),
            }
            rows.append(report.Row(size, rounds(tools, args.repeat,
                                                f"real N={size} {label} {where}", log),
                                   where, label))
    return rows


#: Where the part of ``--out`` kept by hand begins (paired before/after figures): a new run
#: writes its tables above it and keeps it.
KEPT = "\n## Paired before/after measurements"


def kept(path: Path) -> str:
    """The part of ``path`` kept by hand, from :data:`KEPT` on; empty when there is none."""
    old = path.read_text() if path.is_file() else ""
    return old[old.index(KEPT):] if KEPT in old else ""


def run(args: argparse.Namespace, command: str, out: TextIO, err: TextIO) -> int:
    """Measure every size, print the table and write it to ``args.out`` (above what is kept
    there by hand)."""

    def log(line: str) -> None:
        err.write(line + "\n")
        err.flush()

    python = measure.pytest_alembic_python(log)
    version = server_version()
    with tempfile.TemporaryDirectory(prefix="bench-histories-") as tmp:
        rows = [measure_size(Path(tmp), size, args, python, log) for size in args.sizes]
        real = [row for size in args.real_sizes
                for row in measure_real(Path(tmp), size, args, log)]
    tcp = (f"{server_version(args.database_url)} at {mask_url(args.database_url)}"
           if args.database_url else None)
    text = report.markdown(rows, real, report.machine(version, tcp), command, args.seed,
                           args.repeat, NEW)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + kept(args.out))
    out.write(text)
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Parse the options and run; a step that cannot run at all exits 3."""
    args = build_parser().parse_args(argv)
    command = shlex.join(["python", "-m", "bench", "--sizes", ",".join(map(str, args.sizes)),
                          "--repeat", str(args.repeat), "--out", str(args.out),
                          "--seed", str(args.seed), "--naive-cap", f"{args.naive_cap:g}",
                          "--real-sizes", ",".join(map(str, args.real_sizes))]
                         + (["--database-url", mask_url(args.database_url)]
                            if args.database_url else []))
    try:
        return run(args, command, out or sys.stdout, err or sys.stderr)
    except (measure.BenchError, sa.exc.OperationalError) as exc:
        (err or sys.stderr).write(f"bench: {exc}\n")
        return 3


if __name__ == "__main__":
    sys.exit(main())
