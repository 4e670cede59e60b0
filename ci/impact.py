"""What a new revision does to the tables it touches, observed as it runs, not guessed from SQL.

Each new revision is upgraded in a transaction of its own (the round trip commits right before
it), so afterwards the session's ``pg_locks`` hold exactly the locks it took, each until the
deploy commits it. Around the upgrade, each relation's storage file (a new ``relfilenode``: the
table was rewritten) and the scans the transaction made of it (more: it was read in full, to
validate a constraint, ``SET NOT NULL`` or copy it) are read from the catalog. A revision that
runs outside a transaction (``autocommit_block``) holds no lock afterwards: its locks are not
observed, and an index it builds CONCURRENTLY is said so. The scratch tables are empty: how long
a lock lasts on a stage comes from that stage's statistics (:mod:`ci.stages.stats`), never from
here.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from ci.db.runners import run_script

#: PostgreSQL's table lock modes, weakest first, as ``pg_locks`` names them and as people do.
MODES = {"AccessShareLock": "ACCESS SHARE", "RowShareLock": "ROW SHARE",
         "RowExclusiveLock": "ROW EXCLUSIVE", "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
         "ShareLock": "SHARE", "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
         "ExclusiveLock": "EXCLUSIVE", "AccessExclusiveLock": "ACCESS EXCLUSIVE"}
#: The weakest mode that blocks the application's writes (SHARE: INSERT, UPDATE, DELETE wait).
BLOCKS_WRITES = "SHARE"
#: The mode that blocks its reads too.
BLOCKS_READS = "ACCESS EXCLUSIVE"
#: The relations reported when a revision locks, rewrites, scans or drops them (indexes are
#: reported when built): tables, partitioned and foreign tables, views, matviews, sequences.
_RELATIONS = ("r", "p", "f", "v", "m", "S")
_TABLES = ("r", "p", "m")  # what an index can be built on


def strength(mode: str | None) -> int:
    """A mode's rank, weakest 0; -1 for none."""
    names = list(MODES.values())
    return names.index(mode) if mode is not None and mode in names else -1


@dataclass(frozen=True)
class Relation:
    """A relation as the catalog shows it inside the revision's transaction."""

    schema: str
    name: str
    kind: str  # pg_class.relkind
    filenode: int
    scans: int
    table: int | None  # an index's table, by oid

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


State = dict[int, Relation]


def read_state(connection: sa.Connection) -> State:
    """Every relation of the application's schemas, by oid."""
    return {oid: Relation(schema, name, kind, filenode, scans, table)
            for oid, schema, name, kind, filenode, scans, table
            in run_script(connection, "impact_state")}


def read_locks(connection: sa.Connection) -> dict[int, str]:
    """The strongest lock this session's transaction holds on each relation, by oid."""
    held: dict[int, str] = {}
    for oid, mode in run_script(connection, "impact_locks"):
        name = MODES.get(mode)
        if name and strength(name) > strength(held.get(oid)):
            held[oid] = name
    return held


@dataclass(frozen=True)
class Impact:
    """What one revision did to one relation that existed before it, or to an index it built.

    ``lock``: the strongest mode it held (None: not observed, the revision ran outside a
    transaction); ``change``: "altered", "renamed" (``relation`` is its old name), "dropped" or
    "index built"; ``index``: the index built, and ``concurrently`` whether it was built
    CONCURRENTLY.
    """

    revision: str
    relation: str
    lock: str | None
    rewritten: bool
    scanned: bool
    change: str = "altered"
    index: str | None = None
    concurrently: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``impact`` entry of ``check --json``: ``lock`` always (null: not observed), the
        other keys where they apply."""
        return {k: v for k, v in asdict(self).items() if v is not None or k == "lock"}

    @property
    def blocks(self) -> str | None:
        """What the lock blocks on the stage for as long as it is held: "reads and writes",
        "writes", or None. Unobserved (outside a transaction), what PostgreSQL must take: a
        rewrite ACCESS EXCLUSIVE, an index built without CONCURRENTLY SHARE."""
        lock = self.lock or (BLOCKS_READS if self.rewritten else
                             BLOCKS_WRITES if self.concurrently is False else None)
        if strength(lock) >= strength(BLOCKS_READS):
            return "reads and writes"
        return "writes" if strength(lock) >= strength(BLOCKS_WRITES) else None


def observe(revision: str, before: State, after: State, locks: dict[int, str] | None,
            statements: list[str]) -> list[Impact]:
    """The impact of one revision from the catalog before and after its upgrade and the locks
    it held (None: it ran outside a transaction); ``statements``: the SQL it sent, which says
    whether an index was built CONCURRENTLY. Tables the revision created are no impact."""
    def lock(oid: int) -> str | None:
        return None if locks is None else locks.get(oid)

    def scanned(was: Relation, now: Relation | None) -> bool:  # counters unread outside one
        return locks is not None and now is not None and now.scans > was.scans

    built: list[Impact] = []
    indexed: set[int] = set()  # the tables those indexes are on
    for oid, index in after.items():
        table = before.get(index.table) if index.table is not None else None
        if oid in before or index.table is None or table is None or table.kind not in _TABLES:
            continue
        made = re.compile(rf"\bCONCURRENTLY\b.*\b{re.escape(index.name)}\b",
                          re.IGNORECASE | re.DOTALL)
        built.append(Impact(revision, table.qualified, lock(index.table), False,
                            scanned(table, after.get(index.table)), "index built",
                            index.qualified, any(made.search(s) for s in statements)))
        indexed.add(index.table)
    out = []
    for oid, was in before.items():
        now = after.get(oid)
        if was.kind not in _RELATIONS:
            continue
        rewritten = now is not None and now.filenode != was.filenode
        if oid in indexed and not rewritten and strength(lock(oid)) <= strength(BLOCKS_WRITES):
            continue  # what building the index took: said there
        renamed = now is not None and now.qualified != was.qualified  # ALTER SCHEMA takes none
        if now is None or rewritten or scanned(was, now) or renamed or lock(oid) is not None:
            out.append(Impact(revision, was.qualified, lock(oid), rewritten, scanned(was, now),
                              "dropped" if now is None else "renamed" if renamed else "altered"))
    return out + built
