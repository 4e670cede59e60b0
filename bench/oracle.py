"""The naive reference the round trip is checked against: slow, and obviously right.

Each revision is checked on a database of its own: create it; ``alembic upgrade`` to each of
the revision's parents; dump it; upgrade the revision; downgrade it; dump again; compare; drop
the database. Each command runs as the ``alembic`` command does (env.py connects to
``sqlalchemy.url`` itself), and one that returns with the version table naming other revisions
than its target failed: a revision calling ``op.get_bind().commit()`` ends Alembic's
transaction, and what follows (its version stamp too) is rolled back as env.py's connection
closes. A dump is ``pg_dump --schema-only`` split into its objects (a table's columns
and inline constraints each one object: column order is not compared) and a digest of every
table's rows (``md5(string_agg(t::text, ',' ORDER BY t::text))``); nothing of dbci's snapshot
code is used. The verdict of a revision is ``passed``, ``skipped`` (the ``# dbci: irreversible
--`` marker, or a downgrade raising ``NotImplementedError`` with a reason from the revision's
own file), ``upgrade-fails``, ``downgrade-fails``, or the kinds of difference joined by ``+``:
``leaves`` (objects only after), ``drops`` (only before), ``changes`` (both, unlike), and
``changes-rows`` (a table whose columns are unchanged holds other rows). Revisions after the
first whose upgrade fails, in Alembic's order, are ``not run``, as in dbci's round trip.
Where dbci explains a revision's schema finding with migra's SQL, that SQL must be migra's
between the two states read whole, by schemainspect's own inspection (dbci reads only the
tables the revision touched).

``dbci --json roundtrip`` runs on the same project; its findings map to the same words, and
every revision's two verdicts must agree. Histories come from :mod:`bench.realistic`.

    python -m bench.oracle --revisions 300 --seeds 1,2,3 [--database-url URL] [--jobs 2]
                           [--no-commits]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psycopg2
import sqlalchemy as sa
from alembic.script import Script
from sqlalchemy.engine import make_url

from bench import realistic
from bench.migrations import Alembic
from ci import compat
from ci.db.embedded import client_program
from ci.db.scratch import scratch_database
from ci.history import Revision
from ci.stages.dump import for_any_server

DBCI = Path(sys.executable).parent / "dbci"
#: dbci's round-trip rule ids, in the oracle's words.
WORDS = {"downgrade-leaves-objects": "leaves", "downgrade-drops-objects": "drops",
         "downgrade-changes-objects": "changes", "downgrade-changes-rows": "changes-rows",
         "downgrade-fails": "downgrade-fails", "upgrade-fails": "upgrade-fails"}
#: The verdicts of a schema that differs: migra explains them.
RESHAPED = ("leaves", "drops", "changes")
#: What precedes migra's SQL in a finding's detail.
MIGRA = "migra, what the downgrade should also do:\n"
MARKER = re.compile(r"^\s*# dbci: irreversible --", re.MULTILINE)
HEADER = re.compile(r"^-- Name: (?P<name>.*); Type: (?P<type>.*); Schema: (?P<schema>.*); Owner:")
ROWS = """SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
AND c.relname <> 'alembic_version'"""

#: A column's options as pg_dump sets them after its table, one line per column.
COLUMN_OPTIONS = re.compile(r"^ALTER TABLE ONLY \S+ ALTER COLUMN (?P<column>\S+) "
                            r"SET \((?P<options>.*)\);$")
#: pg_dump's lines that are no object's: comments, psql commands, session settings.
SESSION = ("--", "\\", "SET ", "SELECT pg_catalog.set_config")
Key = tuple[str, str]  # (pg_dump's type, schema.name)


@dataclass(frozen=True)
class Dump:
    """A database's objects (their normalised text, by key) and its tables' row digests."""

    objects: dict[Key, str]
    rows: dict[str, str]


def _objects(text: str) -> Iterator[tuple[Key, str]]:
    """pg_dump's entries by their ``-- Name:`` headers (without :data:`SESSION` lines); a
    table's column and constraint lines become entries of their own. Read as any server
    loads it (``for_any_server``): without the option PostgreSQL 15 on these machines stamps
    on every column it makes or alters, by which alone a column made again would differ."""
    key: Key | None = None
    lines: list[str] = []
    for line in [*for_any_server(text).splitlines(),
                 "-- Name: end; Type: END; Schema: -; Owner: -"]:
        header = HEADER.match(line)
        if header is None:
            if key is not None and line.strip() and not line.startswith(SESSION):
                lines.append(line)
            continue
        if key is not None:
            yield from _split_table(key, lines) if key[0] == "TABLE" else [(key, "\n".join(lines))]
        key, lines = (header["type"], f"{header['schema']}.{header['name']}"), []


def _split_table(key: Key, lines: list[str]) -> Iterator[tuple[Key, str]]:
    """``CREATE TABLE t (...)``: the table without its body, and each body line by name, a
    column's with its options (``ALTER COLUMN c SET (...)``)."""
    rest: list[str] = []
    items: dict[Key, str] = {}
    for line in lines:
        options = COLUMN_OPTIONS.match(line)
        if line.startswith("    "):
            item = line.strip().rstrip(",")
            if item.startswith("CONSTRAINT "):
                items[("CONSTRAINT", f"{key[1]}.{item.split()[1]}")] = item
            else:
                items[("COLUMN", f"{key[1]}.{item.split()[0]}")] = item
        elif options is not None:
            column = ("COLUMN", f"{key[1]}.{options['column']}")
            items[column] = f"{items.get(column, '')} ({options['options']})"
        else:
            rest.append(line)
    yield from items.items()
    yield key, "\n".join(rest)


def dump(url: str) -> Dump:
    """The schema as pg_dump prints it, and a digest of every table's rows."""
    done = subprocess.run([str(client_program("pg_dump")), "--schema-only", "--no-owner",
                           "--no-privileges", "--exclude-table=*.alembic_version",
                           "--dbname", _libpq(url)],
                          capture_output=True, text=True, check=True)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = conn.execute(sa.text(ROWS)).scalars().all()
            rows = {t: str(conn.execute(sa.text(
                f"SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, ',' "
                f"ORDER BY t::text), '')) FROM {t} t")).scalar()) for t in tables}
    finally:
        engine.dispose()
    return Dump(dict(_objects(done.stdout)), rows)


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as libpq (pg_dump, psycopg2) takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def inspected(url: str) -> Any:
    """schemainspect's own inspection of the whole schema, what migra reads."""
    from psycopg2.extras import NamedTupleCursor

    compat.load_inspector()  # its import needs pkg_resources, gone from recent setuptools
    from schemainspect import get_inspector

    with contextlib.closing(psycopg2.connect(_libpq(url))) as raw, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns under SQLAlchemy 2
        return get_inspector(raw.cursor(cursor_factory=NamedTupleCursor))


def explain(before: Any, after: Any) -> str:
    """migra's SQL from the schema after the downgrade to the one before the upgrade (their
    :func:`inspected`), its statements one after the other, as a finding's detail shows
    them."""
    from migra import Migration

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        migration = Migration(after, before)
        migration.set_safety(False)
        migration.add_all_changes()
    return "\n".join(s.strip() for s in migration.statements
                     if s.strip() and "alembic_version" not in s)


def compare(before: Dump, after: Dump) -> str:
    """The kinds of difference, joined by ``+``; ``passed`` when there is none."""
    kinds = set()
    reshaped = set()
    for key in before.objects.keys() | after.objects.keys():
        old, new = before.objects.get(key), after.objects.get(key)
        if old == new:
            continue
        kinds.add("leaves" if old is None else "drops" if new is None else "changes")
        if key[0] in ("TABLE", "COLUMN"):
            reshaped.add(".".join(key[1].split(".")[:2]))
    if any(before.rows[t] != after.rows[t] for t in before.rows.keys() & after.rows.keys()
           if t.replace('"', "") not in reshaped):
        kinds.add("changes-rows")
    return "+".join(sorted(kinds)) or "passed"


def _irreversible_raise(error: BaseException, script: Script) -> bool:
    """A NotImplementedError with a reason, raised in the revision's own file."""
    frames = traceback.extract_tb(error.__traceback__)
    return (isinstance(error, NotImplementedError) and bool(str(error).strip()) and bool(frames)
            and Path(frames[-1].filename).resolve() == Path(script.path).resolve())


def _versions(url: str) -> set[str]:
    """The revisions the database's version table names (none before the first upgrade)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT to_regclass('alembic_version')")).scalar() is None:
                return set()
            return set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def _step(url: str, run: Callable[[], None], expected: set[str]) -> BaseException | None:
    """Run one Alembic command; what it raised, or an error where it returned but left the
    version table naming other revisions than ``expected`` (its work did not all commit)."""
    try:
        run()
    except Exception as exc:
        return exc
    now = _versions(url)
    return None if now == expected else RuntimeError(f"at {sorted(now)}, not {sorted(expected)}")


def check(ini: str, revision: str, server: str | None) -> tuple[str, str]:
    """One revision's verdict, on a database of its own, each command run as ``alembic`` runs
    it: env.py connects to ``sqlalchemy.url`` itself, and commits what Alembic commits; and,
    where the schema differs, migra's SQL (:func:`explain`), else ``""``."""
    alembic = Alembic(ini)
    script = alembic.script.get_revision(revision)
    assert script is not None
    parents = set(Revision(script).down_revisions)
    with scratch_database(server) as url:
        alembic.config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        done: set[str] = set()
        for parent in parents:  # a merge's parents: heads of two branches, one after the other
            done.add(parent)
            if _step(url, partial(alembic.upgrade, parent), done):
                return "not run", ""  # an ancestor's upgrade failed: dbci stopped before it
        before, schema = dump(url), inspected(url)  # the state before is gone after
        if _step(url, partial(alembic.upgrade, revision), {revision}):
            return "upgrade-fails", ""
        if MARKER.search(Path(script.path).read_text()):
            return "skipped", ""
        failed = _step(url, partial(alembic.undo, revision), parents)
        if failed is not None:
            return "skipped" if _irreversible_raise(failed, script) else "downgrade-fails", ""
        verdict = compare(before, dump(url))
        return verdict, explain(schema, inspected(url)) if set(verdict.split("+")) & set(
            RESHAPED) else ""


def oracle(ini: str, server: str | None, jobs: int) -> tuple[dict[str, str], dict[str, str]]:
    """Every revision's verdict, in Alembic's order; and migra's SQL where the schema
    differs."""
    order = [s.revision for s in Alembic(ini).order()]
    with ProcessPoolExecutor(jobs) as pool:
        checked = list(pool.map(check, [ini] * len(order), order, [server] * len(order)))
    verdicts = [verdict for verdict, _ in checked]
    if "upgrade-fails" in verdicts:
        stop = verdicts.index("upgrade-fails") + 1
        verdicts[stop:] = ["not run"] * (len(order) - stop)
    return (dict(zip(order, verdicts, strict=True)),
            {revision: sql for revision, (_, sql) in zip(order, checked, strict=True) if sql})


def dbci(ini: str, server: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """``dbci --json roundtrip``'s verdict on each revision, in the oracle's words; and the
    migra SQL it explains each revision's first schema finding with."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run([str(DBCI), "--json", "roundtrip", "--config", ini], text=True,
                          capture_output=True, env=env | ({"DATABASE_URL": server} if server
                                                          else {}), check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"dbci roundtrip exited {done.returncode}: {done.stderr.strip()}")
    result = json.loads(done.stdout)
    kinds: dict[str, set[str]] = {}
    sql: dict[str, str] = {}
    for finding in result["findings"]:
        kinds.setdefault(finding["revision"], set()).add(WORDS.get(finding["rule"],
                                                                   finding["rule"]))
        if MIGRA in finding.get("detail", ""):
            sql.setdefault(finding["revision"], finding["detail"].split(MIGRA, 1)[1])
    return {r["revision"]: r["status"] if r["status"] in ("skipped", "not run") else
            "+".join(sorted(kinds.get(r["revision"], ()))) or
            ("passed" if r["status"] == "passed" else "failed, no finding")
            for r in result["revisions"]}, sql


@dataclass
class Agreement:
    """One history's verdicts: the oracle's, dbci's and the generator's intent, by revision;
    and the migra SQL of each side, where the schema differs."""

    seed: int
    oracle: dict[str, str]
    dbci: dict[str, str]
    intent: dict[str, str]
    seconds: tuple[float, float]  # the oracle's, dbci's
    sql: tuple[dict[str, str], dict[str, str]]  # the oracle's, dbci's

    @property
    def disagreements(self) -> list[str]:
        """The revisions whose two verdicts differ (or that one side lacks), or that dbci
        explains with other SQL than migra's between the whole schemas."""
        return [r for r in self.oracle.keys() | self.dbci.keys()
                if self.oracle.get(r) != self.dbci.get(r) or r in self.misexplained]

    @property
    def misexplained(self) -> set[str]:
        """The revisions dbci explains with other SQL than migra's between the whole schemas."""
        oracle, dbci = self.sql
        return {r for r, sql in dbci.items() if sql != oracle.get(r)}

    @property
    def unintended(self) -> list[str]:
        """The revisions the oracle ran whose verdict is not the one the generator meant."""
        return [r for r, verdict in self.oracle.items()
                if verdict != "not run" and self.intent.get(r) != verdict]

    def lines(self) -> list[str]:
        """A summary line, then one per disagreement."""
        counts: dict[str, int] = {}
        for verdict in self.oracle.values():
            counts[verdict] = counts.get(verdict, 0) + 1
        tally = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        out = [f"seed {self.seed}: {len(self.oracle)} revisions ({tally}); "
               f"{len(self.sql[1])} explained with migra's SQL; "
               f"{len(self.disagreements)} disagreement(s), {len(self.unintended)} verdict(s) "
               f"not the generator's intent; oracle {self.seconds[0]:.0f} s, "
               f"dbci {self.seconds[1]:.1f} s"]
        for r in sorted({*self.disagreements, *self.unintended}):
            out.append(f"  {r}: oracle {self.oracle.get(r)}, dbci {self.dbci.get(r)}, "
                       f"intended {self.intent.get(r)}")
            if r in self.misexplained:
                out.append(f"    migra's SQL: {self.sql[0].get(r)!r}, dbci's: {self.sql[1][r]!r}")
        return out


def agree(folder: Path, seed: int, revisions: int, server: str | None, jobs: int,
          fail_at: int | None = None, commits: bool = True) -> Agreement:
    """Generate one history into ``folder`` (see :func:`bench.realistic.generate`) and check
    it both ways."""
    project, intent = realistic.generate(folder, revisions, seed, fail_at=fail_at,
                                         commits=commits)
    ini = str(project.ini)
    began = time.monotonic()
    verdicts, sql = oracle(ini, server, jobs)
    middle = time.monotonic()
    theirs, their_sql = dbci(ini, server)
    return Agreement(seed, verdicts, theirs, intent,
                     (middle - began, time.monotonic() - middle), (sql, their_sql))


def _seeds(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--seeds takes numbers like 1,2,3: {text}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Check dbci against the oracle on one history per seed; 1 when any verdict differs."""
    parser = argparse.ArgumentParser(prog="python -m bench.oracle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", type=int, default=110, metavar="N",
                        help="revisions of each history (default: 110)")
    parser.add_argument("--seeds", type=_seeds, default=[1, 2, 3], metavar="S,S,...")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="the server to check on (default: DATABASE_URL, else dbci's "
                             "embedded server)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="revisions the oracle checks at once (default: one per CPU)")
    parser.add_argument("--no-commits", action="store_true",
                        help="histories without .commit() revisions (autocommit blocks only)")
    args = parser.parse_args(argv)
    disagreements = 0
    with tempfile.TemporaryDirectory(prefix="bench-oracle-") as tmp:
        for seed in args.seeds:
            result = agree(Path(tmp) / f"seed-{seed}", seed, args.revisions,
                           args.database_url, args.jobs, commits=not args.no_commits)
            print("\n".join(result.lines()), flush=True)
            disagreements += len(result.disagreements)
    total = len(args.seeds) * args.revisions
    print(f"{total} revisions over seeds {','.join(map(str, args.seeds))}: "
          f"{disagreements} disagreement(s)")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
