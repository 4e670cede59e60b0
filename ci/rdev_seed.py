"""rdev seed data: build the seed SQL at head from the current one, upload it under the head's
name (never over another object), and load it on an rdev stack's first boot.

A seed is a plain-SQL dump of schema and rows taken at a revision, named
``seed_data_<NN>_<rev12>.sql`` after it: a new stack loads it into its empty database, then
only the revisions after it run. Seed patches (``<script_location>/seed/<revision>.sql``) run
right after their revision while a seed is built: rows a migration needs that no migration can
invent.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from ci import aws, terraform
from ci.alembic_env import commit_what_alembic_left, read_stamp, run_env
from ci.atomic_files import replace_files
from ci.config import Config
from ci.db.runners import is_connection_lost, run_script
from ci.errors import BadInput, OutsideFailure, error_line
from ci.findings import Finding, Verdict, display_path
from ci.history import History, load_history
from ci.rules.seed import SEED_NOT_AT_HEAD, SEED_OBJECT_DIFFERS
from ci.stages import dump, targets
from ci.stages.migrate import Migration, migrate
from ci.stages.migrate import plan as plan_migration

#: A fixed ``\\restrict`` key: pg_dump 18 would pick a random one, and two builds of the same
#: inputs must give the same bytes.
RESTRICT_KEY = "dbciseedrestrict"
#: The version table's rows in a plain dump.
VERSION_ROWS = re.compile(
    r'^COPY (?:"?[\w$]+"?\.)?"?alembic_version"? \(version_num\) FROM stdin;\n(.*?)^\\\.$',
    re.MULTILINE | re.DOTALL)


def seed_name(config: Config, revision: str) -> str:
    """``seed_data_18_a8cd0dc08805.sql``: the seed of a revision, by the naming scheme's
    number and id."""
    name = config.naming.parse_revision(revision)
    if name is None or name.number is None or not name.id:
        raise BadInput(f"revision {revision!r} does not split into a number and an id under "
                       f"the naming scheme ({config.naming.revision_format!r}), so its seed "
                       "cannot be named seed_data_<NN>_<rev>.sql")
    return f"seed_data_{config.naming.number_text(name.number)}_{name.id}.sql"


def seed_key(config: Config, revision: str) -> str:
    """The S3 key of a revision's seed: the prefix and its name."""
    return f"{config.settings.seed_prefix}{seed_name(config, revision)}"


def revision_in(path: Path) -> str:
    """The one revision a seed's ``alembic_version`` holds."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{display_path(path)}: cannot read the seed ({exc})") from exc
    rows = [row for match in VERSION_ROWS.finditer(text) for row in match.group(1).split("\n")
            if row]
    if len(rows) != 1:
        raise BadInput(f"{display_path(path)}: a seed's alembic_version holds one revision; "
                       f"this one holds {len(rows) or 'none'}")
    return rows[0]


def data_load_path(config: Config) -> terraform.DataLoadPath:
    """``local.data_load_path`` in the configured Terraform file."""
    return terraform.find(config.terraform_path())


@contextlib.contextmanager
def fetched(config: Config, source: str | None) -> Iterator[tuple[Path, str]]:
    """A seed as a local file, and what it is (a path, or an S3 URL): ``source``, else the
    object ``data_load_path`` names."""
    url = source or data_load_path(config).s3_url(config.seed_bucket)
    if not url.startswith("s3://"):
        path = Path(url)
        if not path.is_file():
            raise BadInput(f"{url}: no such seed file")
        yield path, url
        return
    bucket, key = aws.parse_s3_url(url)
    with tempfile.TemporaryDirectory(prefix="dbci-seed-") as tmp:
        path = Path(tmp) / key.rsplit("/", 1)[-1]
        aws.download(bucket, key, path)
        yield path, url


def _checked_revision(history: History, path: Path, source: str) -> str:
    """The seed's revision: the one its name says, and one of this history."""
    revision = revision_in(path)
    named = terraform.SEED_NAME.fullmatch(Path(source).name)
    if named and named.group("revision") != revision:
        raise BadInput(f"{source}: its alembic_version says {revision}, its name "
                       f"{named.group('revision')}; one of them is wrong")
    if revision not in {r.id for r in history.revisions}:
        raise BadInput(f"{source}: taken at {revision}, which is not a revision of this "
                       "history")
    return revision


def load_sql(target: targets.Target, path: Path, what: str) -> None:
    """Run a seed on a database with psql, all or nothing (whatever its major: 14 to 18)."""
    try:
        script = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{what}: cannot read the seed ({exc})") from exc
    dump.run_sql_script(target, dump.for_any_server(script), what)


def to_head(config: Config, history: History, target: targets.Target) -> list[str]:
    """Upgrade a database holding a seed to head, each seed patch right after its revision;
    the revisions run. A revision that fails is a BadInput naming it."""
    patches = history.fixtures("seed")
    ran: list[str] = []

    def after(ctx: MigrationContext, step: Any, heads: Any, run_args: Any) -> None:
        ran.append(step.up_revision_id)
        patch = patches.get(step.up_revision_id)
        if patch is not None and ctx.connection is not None:
            try:
                ctx.connection.exec_driver_sql(patch.read_text().replace("%", "%%"))
            except sa.exc.DBAPIError as exc:
                raise BadInput(f"{display_path(patch)}: {error_line(exc)}; fix the seed "
                               "patch") from exc

    steps: list[Any] = []

    def body(context: MigrationContext) -> list[Any]:
        start = tuple(context.get_current_heads())
        steps[:] = plan_migration(history, target.display, start, "heads", False).steps
        return steps

    with targets.connect(target) as connection:
        try:
            run_env(config, history, connection, body,
                    forced={"transaction_per_migration": True, "on_version_apply": (after,)})
        except Exception as exc:
            if isinstance(exc, BadInput) or is_connection_lost(exc) or \
                    len(steps) <= len(ran):
                raise
            failing = steps[len(ran)].info.up_revision_id
            raise SeedUpgradeFailed(failing, f"revision {failing} fails on the seed's rows: "
                                    f"{error_line(exc)}") from exc
        commit_what_alembic_left(connection)
    return ran


class SeedUpgradeFailed(BadInput):
    """A revision that fails on a seed's rows (``check --verify-seed`` makes it a finding)."""

    def __init__(self, revision: str, message: str) -> None:
        super().__init__(message)
        self.revision = revision


@dataclass(frozen=True)
class Built:
    """A seed written: where, at which revision, from what."""

    path: Path
    revision: str
    source: str
    source_revision: str
    digest: str


def build(config: Config, out: Path, source: str | None = None) -> Built:
    """The seed at head: the current seed loaded into a scratch database, upgraded with the
    seed patches, dumped as plain SQL under a header; the same inputs give the same bytes."""
    history = load_history(config)
    head = history.head()
    if head is None:
        raise BadInput(f"{display_path(history.versions_dir)}: no revisions, so no seed")
    seed_name(config, head.id)  # a head the scheme cannot name fails before any work
    with fetched(config, source) as (path, what), targets.scratch(config) as scratch:
        start = _checked_revision(history, path, what)
        load_sql(scratch, path, f"loading {what}")
        to_head(config, history, scratch)
        header = (f"-- dbci seed: revision {head.id}\n"
                  f"-- built from {what} (revision {start}) and the seed patches since\n"
                  "-- load into an empty database: psql -v ON_ERROR_STOP=1 "
                  "--single-transaction -f <this file>\n\n")
        body = dump.for_any_server(dump.run_tool(
            "pg_dump", ["--format=plain", *dump.PORTABLE, f"--restrict-key={RESTRICT_KEY}"],
            scratch.url, "dumping the seed").stdout)
    replace_files({out: header + body})
    return Built(out, head.id, what, start, aws.Digests.of(out).sha256)


@dataclass(frozen=True)
class Uploaded(Verdict):
    """A seed's upload: its key, and whether it was new, already there, or clashing (a
    finding: nothing was uploaded)."""

    url: str
    outcome: str  # "uploaded", "already uploaded", "differs", "dry run"
    local: aws.Digests | None = None
    stored: aws.Digests | None = None
    findings: list[Finding] = field(default_factory=list)


#: The lines pg_dump's plain format opens and closes a dump with.
DUMP_LINES = ("-- PostgreSQL database dump\n", "-- PostgreSQL database dump complete\n")


def verified(config: Config, path: Path) -> str:
    """The revision of a seed ``seed build`` could have written, else BadInput before anything
    is uploaded: a pg_dump plain dump of a revision of this history that loads cleanly into a
    scratch database, whose ``alembic_version`` then holds exactly that revision."""
    history = load_history(config)
    what = display_path(path)
    revision = _checked_revision(history, path, what)
    text = path.read_text(encoding="utf-8")
    if not all(line in text for line in DUMP_LINES):
        raise BadInput(f"{what}: not a pg_dump plain-SQL dump (no '-- PostgreSQL database dump' "
                       "and '... complete' lines); upload the file dbci seed build wrote")
    with targets.scratch(config) as scratch:
        load_sql(scratch, path, f"{what}: loading it into a scratch database")
        with targets.connect(scratch) as connection:
            at = read_stamp(config, history, connection)
    if at.heads != (revision,):
        raise BadInput(f"{what}: once loaded, its alembic_version holds "
                       f"{', '.join(at.heads) or 'nothing'}, not {revision}; upload the file "
                       "dbci seed build wrote")
    return revision


def upload(config: Config, path: Path, dry_run: bool = False) -> Uploaded:
    """Upload a seed of this history under the name of the revision inside it, once it
    proved to be one (:func:`verified`); never over another object."""
    bucket = config.seed_bucket  # a project without one is told before the seed is read
    revision = verified(config, path)
    url = f"s3://{bucket}/{seed_key(config, revision)}"
    if dry_run:
        return Uploaded(url, "dry run")
    new, local, stored = aws.put_new(bucket, seed_key(config, revision), path)
    if stored is None:
        raise OutsideFailure(f"{url}: S3 accepted the upload but has no such object")
    if not aws.same(local, stored):
        if new:
            raise OutsideFailure(f"{url}: S3 holds other bytes than were sent (sha256 "
                                 f"{local.sha256} sent, {stored.sha256 or stored.md5} stored)")
        return Uploaded(url, "differs", local, stored, [SEED_OBJECT_DIFFERS.at_file(
            display_path(path), f"{url} exists with other content (sha256 {local.sha256} "
            f"here, {stored.sha256 or 'md5 ' + stored.md5} in S3); nothing was uploaded")])
    return Uploaded(url, "uploaded" if new else "already uploaded", local, stored)


@dataclass(frozen=True)
class Seeded:
    """An rdev stack's boot: the seed it loaded (None when the database had a schema already),
    and the migration after it."""

    loaded: str | None
    migration: Migration


def load(config: Config, stage: str, tunnel_port: int | None = None,
         tunnel: str | None = None, log: Any = print) -> Seeded:
    """On an empty stage database: the seed ``data_load_path`` names, then migrate to head;
    otherwise only migrate. Refused where the stage is not seedable, before anything."""
    settings = config.settings.stages.get(stage)
    if settings is not None and not settings.seedable:
        raise BadInput(f"stage {stage} does not take seed data ([tool.dbci.stages.{stage}] "
                       "seedable = false); seed load is for rdev stacks")
    target = targets.stage(config, stage, tunnel_port, tunnel, log)
    with targets.connect(target) as connection:
        empty = not run_script(connection, "user_objects")[0][0]
        connection.rollback()
    loaded = None
    if empty:
        history = load_history(config)
        with fetched(config, None) as (path, what):
            _checked_revision(history, path, what)
            load_sql(target, path, f"loading {what} into {target.display}")
        loaded = what
        log(f"seed load: loaded {what} into {target.display}")
    return Seeded(loaded, migrate(config, target, settings or config.settings.stages[stage],
                                  log=log))


@dataclass(frozen=True)
class Bumped(Verdict):
    """``data_load_path`` pointed at the head's seed: the file, where the path stood and what it
    names now; with ``check``, a finding where it would change and nothing changed."""

    file: str
    line: int
    was: str
    now: str
    changed: bool
    findings: list[Finding] = field(default_factory=list)


def bump(config: Config, check: bool = False) -> Bumped:
    """Set ``data_load_path``'s file name to the head's seed, which must be uploaded first
    (a broken Terraform file says so before AWS is asked anything)."""
    history = load_history(config)
    head = history.head()
    if head is None:
        raise BadInput(f"{display_path(history.versions_dir)}: no revisions, so no seed")
    name = seed_name(config, head.id)
    path = config.terraform_path()
    if not check:
        terraform.find(path)
        key = seed_key(config, head.id)
        if aws.stored_digest(config.seed_bucket, key) is None:
            raise BadInput(f"s3://{config.seed_bucket}/{key} is not uploaded: run "
                           "dbci seed build and dbci seed upload first; nothing was changed")
    found, changes = terraform.bump(path, name, check=check)
    shown = display_path(path)
    findings = [SEED_NOT_AT_HEAD.at_file(
        shown, f"local.data_load_path names {found.file_name}, not the head's seed {name}",
        line=found.line)] if check and changes else []
    return Bumped(shown, found.line, found.file_name, name, changes, findings)
