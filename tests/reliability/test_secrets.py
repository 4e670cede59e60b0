"""Secrets never reach output: every command that takes a URL or reads a secret, run with a
distinctive password, succeeding and failing (an unreachable host, a database that is not
there, bad SQL in a revision), with --debug, --json, --github and a step summary file. The
password is in no output line (but the one that tells GitHub to hide it), no file dbci wrote,
and no exception text."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import (
    SECRET,
    OwnServer,
    Run,
    add_revision,
    commit_all,
    dbci,
    embedded_url,
    git,
    put_secret,
    rds_layout,
    run_sql,
)
from sqlalchemy.engine import URL, make_url

from ci import github

pytestmark = pytest.mark.db

#: Every character a URL must escape (``@ : / ? # %``), so both forms are checked; ``%41``
#: would decode to ``A`` in a parser that unquotes what it should not.
PASSWORD = "Zq7#Sec:ret@Sau?ce/9x%41"
FORMS = (PASSWORD, quote(PASSWORD, safe=""))
#: The one line that may carry it: the workflow command that tells GitHub to hide it.
MASK_LINE = github.add_mask(PASSWORD)
ROLE = f"dbci_secret_{os.getpid()}"
FLAGS = (["--debug"], ["--json", "--github"], [])


@pytest.fixture
def role() -> Iterator[str]:
    """A role with the password, allowed to create databases; its URL to postgres."""
    run_sql(embedded_url(), f"CREATE ROLE \"{ROLE}\" LOGIN CREATEDB PASSWORD '{PASSWORD}'")
    yield make_url(embedded_url()).set(username=ROLE, password=PASSWORD).render_as_string(
        hide_password=False)
    for (name,) in run_sql(embedded_url(), "SELECT d.datname FROM pg_database d JOIN pg_roles r "
                                           f"ON r.oid = d.datdba WHERE r.rolname = '{ROLE}'"):
        run_sql(embedded_url(), f'DROP DATABASE "{name}" WITH (FORCE)')
    run_sql(embedded_url(), f'DROP ROLE "{ROLE}"')


def holds_it(text: str) -> bool:
    return any(form in text for form in FORMS)


def leaks(run: Run, summary: Path) -> list[str]:
    """Where the password shows: any stdout line (the product, which a workflow may copy
    anywhere); any stderr line but the ``::add-mask::`` one; the summary."""
    found = [f"stdout: {line}" for line in run.out.splitlines()
             if holds_it(line) or line.startswith("::")]
    found += [f"stderr: {line}" for line in run.err.splitlines()
              if line != MASK_LINE and holds_it(line)]
    text = summary.read_text() if summary.exists() else ""
    return found + (["step summary"] if holds_it(text) else [])


def files_holding_it(*folders: Path) -> list[str]:
    return [str(path) for folder in folders for path in folder.rglob("*") if path.is_file()
            and any(form.encode() in path.read_bytes() for form in FORMS)]


def run_everywhere(args: list[str], summary: Path, expect: set[int]) -> None:
    """One command with each set of flags; it must end as expected and leak nothing."""
    for flags in FLAGS:
        run = dbci(*flags, *args)
        assert run.code in expect, (flags, args, run.err)
        assert leaks(run, summary) == [], (flags, args)
        if "--github" in flags:
            lines = run.err.splitlines()
            assert MASK_LINE in lines, (args, run.err)
            # the mask reaches the runner before any other line could carry the password
            assert lines[0].startswith("::add-mask::"), (args, run.err)


@pytest.fixture
def summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    return path


def test_a_given_url_with_a_password(git_project: Path, role: str, summary: Path,
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(git_project, "checkout", "-q", "-b", "feature")
    add_revision(git_project, "add_note", 'op.add_column("CollectionCanonical", sa.Column('
                 '"note", sa.Text), schema="persistence_schema")',
                 'op.drop_column("CollectionCanonical", "note", schema="persistence_schema")')
    commit_all(git_project, "feature")
    monkeypatch.setenv("DATABASE_URL", role)
    for args in (["roundtrip"], ["drift"], ["diff", "--base", "main"], ["check"],
                 ["lint", "--base", "main"], ["new", "--autogenerate", "more"]):
        run_everywhere(args, summary, {0, 1})
    assert files_holding_it(git_project, tmp_path) == []


def test_failures_with_a_password(project: Path, role: str, summary: Path,
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    unreachable = f"postgresql://app:{quote(PASSWORD, safe='')}@db.invalid:5432/app"
    missing = make_url(role).set(database="no_such_database").render_as_string(
        hide_password=False)
    query = f"postgresql://app@db.invalid/app?password={quote(PASSWORD, safe='')}"
    for url in (unreachable, missing, query):
        monkeypatch.setenv("DATABASE_URL", url)
        run_everywhere(["check"], summary, {2, 3})
        run_everywhere(["db", "dump", "--out", str(tmp_path / "x.dump")], summary, {2, 3})
        run_everywhere(["migrate", "--stage", "dev"], summary, {2, 3})
    monkeypatch.setenv("DATABASE_URL", role)
    add_revision(project, "bad_sql", 'op.execute("ALTER TABLE nowhere ADD COLUMN x int")')
    run_everywhere(["roundtrip"], summary, {1})
    assert files_holding_it(project, tmp_path) == []


@pytest.fixture
def on_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's server is the embedded one, where ``role`` is (a server trusting every
    client, as the PostgreSQL of ``make test-pg`` does, would check no password)."""
    monkeypatch.setenv("DBCI_TEST_SERVER", embedded_url())
    monkeypatch.delenv("DATABASE_URL", raising=False)


def test_a_stage_whose_url_is_in_a_secret(project: Path, aws: str, on_embedded: None,
                                          stage_db: str, role: str, summary: Path,
                                          tmp_path: Path) -> None:
    stage = make_url(stage_db).set(username=ROLE, password=PASSWORD).render_as_string(
        hide_password=False)
    run_sql(stage_db, f'GRANT ALL ON SCHEMA public TO "{ROLE}"; '
                      f'ALTER DATABASE "{make_url(stage_db).database}" OWNER TO "{ROLE}"')
    put_secret(SECRET, rds_layout(stage))
    put_secret("corpora/backend/rdev/database", {"database_uri": stage})
    plan = str(tmp_path / "plan.json")
    run_everywhere(["migrate", "--stage", "dev", "--sql", "--plan-out", plan], summary, {0})
    run_everywhere(["migrate", "--stage", "dev", "--plan", plan], summary, {0, 1})
    for args in (["migrate", "--stage", "dev", "--sql"], ["migrate", "--stage", "dev"],
                 ["status", "--stage", "dev"], ["status", "--stage", "dev", "--fail-on-pending"],
                 ["db", "dump", "--stage", "dev", "--out", str(tmp_path / "dev.dump")]):
        run_everywhere(args, summary, {0})
    run_everywhere(["seed", "load", "--stage", "rdev"], summary, {0})  # has a schema: migrates
    add_revision(project, "bad_sql", 'op.execute("ALTER TABLE nowhere ADD COLUMN x int")')
    run_everywhere(["migrate", "--stage", "dev"], summary, {1})
    put_secret(SECRET, rds_layout(stage, host="db.invalid"))
    run_everywhere(["status", "--stage", "dev"], summary, {3})
    name = f"loaded_{os.getpid()}"
    run_everywhere(["--database-url", role, "db", "load-schema", str(tmp_path / "dev.dump"),
                    "--create", name], summary, {0, 2})
    assert files_holding_it(project, tmp_path) == []


#: URLs whose password holds ``@ : / ? #`` unencoded, and a text that is no URL at all: a
#: parser splits them at the wrong ``@`` (the tail of the password becomes the host).
UNENCODED = "Pq@ss:w/rd?#x9"
SPLIT_WRONGLY = [f"postgresql://app:{UNENCODED}@db.example/app", f"app:{UNENCODED}@db.example",
                 f"postgresql://app:{UNENCODED}@db.example:5432/app?sslmode=require",
                 f"not a url {UNENCODED}"]
#: Pieces of it a wrong split would print.
PIECES = ("Pq@ss", "ss:w", "w/rd", "rd?#", "#x9")


@pytest.mark.parametrize("url", SPLIT_WRONGLY, ids=["uri", "no-scheme", "query", "no-url"])
@pytest.mark.parametrize("where", ["--database-url", "DATABASE_URL", "--scratch-url"])
def test_a_url_that_would_split_wrongly_is_refused_unseen(project: Path, url: str, where: str,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    if where == "DATABASE_URL":
        monkeypatch.setenv("DATABASE_URL", url)
        args = ["roundtrip"]
    elif where == "--database-url":
        args = ["--database-url", url, "roundtrip"]
    else:
        args = ["migrate", "--stage", "dev", "--sql", "--scratch-url", url]
    for flags in FLAGS:
        run = dbci(*flags, *args)
        assert run.code == 2, (flags, run.err)
        shown = run.out + "\n".join(line for line in run.err.splitlines()
                                    if not line.startswith("::add-mask::"))
        assert not [piece for piece in PIECES if piece in shown], (flags, shown)
        assert where.split("/")[0] in run.out + run.err  # the message names where it came from
        if "--github" in flags:  # GitHub learns it first, whenever dbci read it
            assert run.err.startswith("::add-mask::"), run.err


#: Passwords as users have them: every character a URL must escape, a space, both quotes.
USER_PASSWORDS = ["Zq7#Sec:ret@Sau?ce/9x%41", "two words and 'quotes' \"too\"",
                  "p@:/?#%20%41 end"]


@pytest.mark.parametrize("password", USER_PASSWORDS, ids=["url-characters", "space-quotes",
                                                          "encoded-looking"])
def test_a_password_the_server_checks_over_tcp(project: Path, own_server: OwnServer,
                                               password: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The server checks the password (scram-sha-256 over TCP, as RDS does): dbci must pass it
    exactly, however it is written, as a percent-encoded URL and raw in the RDS secret's JSON,
    and show it nowhere, right or wrong."""
    host, port = own_server.checking_passwords()
    socket_url = own_server.start()
    role = f"dbci_tcp_{os.getpid()}"
    literal = password.replace("'", "''")
    run_sql(socket_url, f'CREATE ROLE "{role}" LOGIN CREATEDB PASSWORD \'{literal}\'')
    monkeypatch.setenv("DBCI_CACHE_DIR", str(own_server.cache))
    forms = (password, quote(password, safe=""))
    right = URL.create("postgresql", username=role, password=password, host=host,
                       port=port, database="postgres").render_as_string(hide_password=False)
    wrong = URL.create("postgresql", username=role, password=password + "x", host=host,
                       port=port, database="postgres").render_as_string(hide_password=False)
    for url, expect in ((right, {0}), (wrong, {3})):
        for flags in FLAGS:
            run = dbci(*flags, "--database-url", url, "roundtrip")
            assert run.code in expect, (flags, run.err)
            shown = run.out + "\n".join(line for line in run.err.splitlines()
                                        if not line.startswith("::add-mask::"))
            assert not any(form in shown for form in forms), (flags, shown)
    assert "password authentication failed" in dbci("--database-url", wrong, "roundtrip").err
