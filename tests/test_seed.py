"""rdev seed data: seed build, seed upload, seed load, tf bump, and the seed step of check,
against a real moto server (S3) and real databases; the Terraform file is the reference
project's own."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from conftest import (
    HEAD,
    add_committing_revision,
    add_revision,
    commit_all,
    dbci,
    edit_file,
    folder_state,
    git,
    run_sql,
    server,
    set_dbci,
    write_revision,
)
from sqlalchemy.engine import make_url

from ci.db.embedded import embedded_url
from ci.stages import dump

pytestmark = pytest.mark.db

BUCKET = "env-rdev-dataportal"
OLD = "12_7cd45af4a41d"
OLD_KEY = f"database/seed_data_{OLD}.sql"
HEAD_KEY = f"database/seed_data_{HEAD}.sql"
TF = Path(".happy/terraform/modules/ecs-stack/main.tf")


@pytest.fixture
def database() -> Iterator[str]:
    """A new empty database on the test server, dropped afterwards."""
    name = f"seed_{os.getpid()}_{secrets.token_hex(3)}"
    base = server()
    run_sql(base, f'CREATE DATABASE "{name}"')
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    run_sql(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def plain_dump(url: str) -> str:
    return dump.run_tool("pg_dump", ["--format=plain", *dump.PORTABLE,
                                     "--restrict-key=testseed"], url, "test dump").stdout


@pytest.fixture
def bucket(aws: str, project: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The seed bucket holding today's seed: the reference project at 12 with some rows (made
    on the embedded server, as a seed is built)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    name = f"oldseed_{os.getpid()}"
    run_sql(embedded_url(), f'CREATE DATABASE "{name}"')
    url = make_url(embedded_url()).set(database=name).render_as_string(hide_password=False)
    try:
        rows_at = "05_5a3c600990c9"
        assert dbci("--database-url", url, "migrate", "--stage", "rdev", "--revision",
                    rows_at).code == 0
        run_sql(url, (project / "database" / "roundtrip_data" / f"{rows_at}.sql").read_text())
        assert dbci("--database-url", url, "migrate", "--stage", "rdev", "--revision",
                    OLD).code == 0
        seed = plain_dump(url)
    finally:
        run_sql(embedded_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_object(Bucket=BUCKET, Key=OLD_KEY, Body=seed.encode())
    return BUCKET


@pytest.fixture
def head_seed(head_seed_sql: str, tmp_path: Path) -> Path:
    """A seed as seed build writes one, in a file."""
    path = tmp_path / "seed.sql"
    path.write_text(head_seed_sql)
    return path


def objects() -> dict[str, bytes]:
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def test_build_upload_bump_in_sequence(bucket: str, project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "start")
    built = dbci("--json", "seed", "build", "--out", "seed.sql")
    assert built.code == 0, built.err
    assert built.json()["revision"] == HEAD and built.json()["source_revision"] == OLD
    text = Path("seed.sql").read_text()
    assert text.startswith(f"-- dbci seed: revision {HEAD}\n-- built from s3://{BUCKET}/{OLD_KEY} ")
    uploaded = dbci("seed", "upload", "seed.sql")
    assert (uploaded.code, uploaded.out) == (0, f"seed upload: s3://{BUCKET}/{HEAD_KEY} "
                                                "(uploaded)\n")
    assert objects()[HEAD_KEY] == Path("seed.sql").read_bytes()
    assert dbci("tf", "bump", "--check").code == 1
    bumped = dbci("tf", "bump")
    assert bumped.code == 0, bumped.err
    diff = git(project, "diff", "--unified=0", "--", str(TF))
    changed = [line for line in diff.splitlines() if line[:1] in "+-"
               and not line.startswith(("+++", "---"))]
    assert changed == [f'-  data_load_path = "s3://{BUCKET}/{OLD_KEY}"',
                       f'+  data_load_path = "s3://{BUCKET}/{HEAD_KEY}"']
    assert dbci("tf", "bump", "--check").code == 0


def test_two_builds_of_the_same_inputs_are_the_same_bytes(bucket: str, project: Path) -> None:
    assert dbci("seed", "build", "--out", "one.sql").code == 0
    assert dbci("seed", "build", "--out", "two.sql").code == 0
    assert Path("one.sql").read_bytes() == Path("two.sql").read_bytes()


def test_the_seed_loads_with_psql_into_an_empty_database(bucket: str, project: Path,
                                                         database: str) -> None:
    assert dbci("seed", "build", "--out", "seed.sql").code == 0
    name = f"psql_{os.getpid()}"
    run_sql(server(), f'CREATE DATABASE "{name}"')
    url = make_url(server()).set(database=name).render_as_string(hide_password=False)
    try:
        done = dump.run_tool("psql", ["--no-psqlrc", "-v", "ON_ERROR_STOP=1",
                                      "--single-transaction", "--file=seed.sql"], url, "psql")
        assert done.stderr == ""
        assert run_sql(url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
        assert run_sql(url, 'SELECT count(*) FROM persistence_schema."CollectionCanonical"')[0][0]
    finally:
        run_sql(server(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("junk", [
    "\nDROP TABLE nowhere;\n", "\nthis is not SQL at all\n",
    "\nUPDATE alembic_version SET version_num = '01_2d1455f47d8e';\n"],
    ids=["fails", "not-sql", "moves-the-revision"])
def test_a_seed_with_junk_is_never_uploaded(bucket: str, head_seed: Path, junk: str) -> None:
    text = head_seed.read_text()
    end = text.index("-- PostgreSQL database dump complete")
    head_seed.write_text(text[:end] + junk + text[end:])
    run = dbci("seed", "upload", str(head_seed))
    assert run.code == 2 and len(run.err.splitlines()) == 1, run.err
    assert HEAD_KEY not in objects()  # the key stays free for the real seed


def test_a_version_block_alone_is_no_seed(bucket: str, tmp_path: Path) -> None:
    seed = tmp_path / "seed.sql"
    seed.write_text(f"COPY public.alembic_version (version_num) FROM stdin;\n{HEAD}\n\\.\n")
    run = dbci("seed", "upload", str(seed))
    assert run.code == 2 and "not a pg_dump plain-SQL dump" in run.err
    assert HEAD_KEY not in objects()


def test_upload_and_bump_say_what_they_did_in_the_job_summary(
        bucket: str, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert dbci("seed", "build", "--out", "seed.sql").code == 0
    assert dbci("seed", "upload", "seed.sql").code == 0
    assert dbci("tf", "bump").code == 0
    text = summary.read_text()
    assert f"## dbci seed upload: ✅ `s3://{BUCKET}/{HEAD_KEY}` (uploaded)\n" in text
    assert f"## dbci tf bump\n\n{TF}:" in text and f"-> seed_data_{HEAD}.sql\n" in text


def test_a_seed_built_over_a_revision_that_commits_itself_is_at_that_revision(
        bucket: str, project: Path) -> None:
    committing = add_committing_revision(project)
    built = dbci("--json", "seed", "build", "--out", "seed.sql")
    assert built.code == 0, built.err
    assert f"COPY public.alembic_version (version_num) FROM stdin;\n{committing}\n" in \
        Path("seed.sql").read_text()
    assert dbci("seed", "upload", "seed.sql").code == 0  # it loads, at the revision it names


def test_a_second_upload_never_overwrites(bucket: str, project: Path) -> None:
    assert dbci("seed", "build", "--out", "seed.sql").code == 0
    assert dbci("seed", "upload", "seed.sql").code == 0
    again = dbci("seed", "upload", "seed.sql")
    assert (again.code, again.out) == (0, f"seed upload: s3://{BUCKET}/{HEAD_KEY} "
                                          "(already uploaded)\n")
    before = objects()
    Path("other.sql").write_text(Path("seed.sql").read_text() + "-- something else\n")
    clash = dbci("--json", "seed", "upload", "other.sql")
    assert clash.code == 1
    (finding,) = clash.json()["findings"]
    assert finding["rule"] == "seed-object-differs"
    assert "exists with other content (sha256 " in finding["message"]
    assert objects() == before
    dry = dbci("seed", "upload", "--dry-run", "other.sql")
    assert (dry.code, dry.out) == (0, f"seed upload: s3://{BUCKET}/{HEAD_KEY} (dry run)\n")


# -- seed load: an rdev stack's boot ------------------------------------------------------------


def test_seed_load_seeds_an_empty_rdev_database_then_migrates(bucket: str, project: Path,
                                                              database: str) -> None:
    boto3.client("secretsmanager").create_secret(
        Name="corpora/backend/rdev/database", SecretString=json.dumps({"database_uri": database}))
    first = dbci("--json", "seed", "load", "--stage", "rdev")
    assert first.code == 0, first.err
    assert first.json()["seeded_from"] == f"s3://{BUCKET}/{OLD_KEY}"
    assert first.json()["from"] == [OLD] and first.json()["to"] == [HEAD]
    assert run_sql(database, 'SELECT count(*) FROM persistence_schema."CollectionCanonical"')[0][0]
    again = dbci("--json", "seed", "load", "--stage", "rdev")
    assert again.code == 0 and again.json()["seeded_from"] is None
    assert again.json()["applied"] == []


def test_seed_load_refuses_prod_and_touches_nothing(project: Path, aws: str,
                                                    database: str) -> None:
    run = dbci("--database-url", database, "seed", "load", "--stage", "prod")
    assert run.code == 2
    assert "stage prod does not take seed data" in run.err
    assert run_sql(database, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [
        (0,)]


# -- seed patches: rows a migration needs that no migration can invent -----------------------


def regions(project: Path) -> tuple[str, str]:
    """15 creates an empty lookup table; 16 points every collection at a row of it."""
    first = add_revision(project, "create_region", 'op.create_table("Region", sa.Column("name", '
                         'sa.Text, primary_key=True), schema="persistence_schema")',
                         'op.drop_table("Region", schema="persistence_schema")')
    second = add_revision(
        project, "collections_have_a_region",
        'op.add_column("CollectionCanonical", sa.Column("region", sa.Text, sa.ForeignKey('
        '"persistence_schema.Region.name"), nullable=False, server_default="us"), '
        'schema="persistence_schema")',
        'op.drop_column("CollectionCanonical", "region", schema="persistence_schema")')
    return first, second


def test_a_seed_patch_runs_right_after_its_revision(bucket: str, project: Path) -> None:
    first, second = regions(project)
    failing = dbci("seed", "build", "--out", "seed.sql")
    assert failing.code == 2 and f"revision {second} fails on the seed's rows" in failing.err
    assert not Path("seed.sql").exists()
    patches = project / "database" / "seed"
    patches.mkdir()
    (patches / f"{first}.sql").write_text(
        'INSERT INTO persistence_schema."Region" (name) VALUES (\'us\');\n')
    built = dbci("seed", "build", "--out", "seed.sql")
    assert built.code == 0, built.err
    assert "us" in Path("seed.sql").read_text().split('COPY persistence_schema."Region"')[1]


def test_check_flags_a_seed_patch_without_the_heads_seed(bucket: str, project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "start")
    git(project, "checkout", "-q", "-b", "feature")
    first, _ = regions(project)
    (project / "database" / "seed").mkdir()
    (project / "database" / "seed" / f"{first}.sql").write_text(
        'INSERT INTO persistence_schema."Region" (name) VALUES (\'us\');\n')
    commit_all(project, "regions")
    run = dbci("--json", "check", "--verify-seed")
    rules = {(f["rule"], f.get("revision")) for f in run.json()["findings"]}
    assert ("seed-not-at-head", None) in rules
    checks = {c["check"]: c["ok"] for c in run.json()["checks"]}
    assert checks["seed"] is False and run.code == 1


def test_verify_seed_runs_the_branchs_revisions_on_the_seeds_rows(bucket: str,
                                                                  project: Path) -> None:
    _, second = regions(project)
    run = dbci("--json", "check", "--verify-seed")
    assert run.code == 1
    seed_findings = [f for f in run.json()["findings"] if f["check"] == "seed"]
    assert [(f["rule"], f["revision"]) for f in seed_findings] == [
        ("seed-upgrade-fails", second)]


# -- tf bump on its own -------------------------------------------------------------------------


def test_bump_changes_only_the_file_name_of_an_interpolated_path(bucket: str,
                                                                 project: Path) -> None:
    edit_file(project / TF, f'"s3://{BUCKET}/{OLD_KEY}"',
              f'"s3://${{local.secret["s3_buckets"]["env"]["name"]}}/{OLD_KEY}" # the seed')
    assert dbci("seed", "build", "--out", "seed.sql").code == 0
    assert dbci("seed", "upload", "seed.sql").code == 0
    before = (project / TF).read_text()
    assert dbci("tf", "bump").code == 0
    after = (project / TF).read_text()
    assert after == before.replace(OLD_KEY, HEAD_KEY)
    if shutil.which("terraform"):
        assert subprocess.run(["terraform", "fmt", "-check", str(project / TF)]).returncode == 0


@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs a terraform binary")
def test_bump_leaves_a_file_that_was_not_formatted_as_it_was_around_the_name(
        bucket: str, project: Path) -> None:
    text = (project / TF).read_text()
    assert "  data_load_path = " in text
    edit_file(project / TF, "  data_load_path = ", "  data_load_path =      ")  # not fmt's
    assert subprocess.run(["terraform", "fmt", "-check", str(project / TF)],
                          capture_output=True).returncode != 0
    assert dbci("seed", "build", "--out", "seed.sql").code == 0
    assert dbci("seed", "upload", "seed.sql").code == 0
    before = (project / TF).read_text()
    run = dbci("tf", "bump")
    assert run.code == 0, run.err
    assert (project / TF).read_text() == before.replace(OLD_KEY, HEAD_KEY)


def test_bump_refuses_a_seed_not_uploaded(aws: str, project: Path) -> None:
    boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={
        "LocationConstraint": "us-west-2"})
    before = folder_state(project)
    run = dbci("tf", "bump")
    assert run.code == 2 and "is not uploaded: run dbci seed build and dbci seed upload" in \
        run.err
    assert folder_state(project) == before


def test_a_project_without_seed_settings_is_told_which_to_add(aws: str, project: Path) -> None:
    """dbci names no team's bucket or Terraform file: without them each seed command says
    which setting it needs and changes nothing, and the PR check has no seed to check."""
    (project / "pyproject.toml").write_text("[tool.dbci]\n")
    before = folder_state(project)
    for args, setting in ((["tf", "bump"], "terraform_file"),
                          (["seed", "build", "--out", "x.sql"], "terraform_file"),
                          (["check", "--verify-seed"], "terraform_file"),
                          (["seed", "upload", "--dry-run", str(project / "alembic.ini")],
                           "seed_bucket")):
        run = dbci(*args)
        assert run.code == 2 and run.err.count("\n") == 1, (args, run.err)
        assert f"[tool.dbci] {setting} is not set; set it to" in run.err, (args, run.err)
    assert folder_state(project) == before
    run = dbci("--json", "check")
    assert run.code == 0, run.err
    assert "no terraform_file set" in json.dumps(json.loads(run.out))


@pytest.mark.parametrize(("text", "says"), [
    ("locals {\n  data_load_path = \n}\n", "not valid Terraform"),
    ("locals {\n  other = 1\n}\n", "no definitions of local.data_load_path"),
    ('locals {\n  data_load_path = "a"\n}\nlocals {\n  data_load_path = "b"\n}\n',
     "2 definitions of local.data_load_path"),
    ("locals {\n  data_load_path = 5\n}\n", "is not a string naming a seed"),
    ('locals {\n  data_load_path = "s3://b/${var.prefix}/${var.seed}.sql"\n}\n',
     "the file name of local.data_load_path is not literal text"),
    ('locals {\n  data_load_path = "s3://b/database/${var.seed}"\n}\n',
     "the file name of local.data_load_path is not literal text"),
], ids=["syntax", "missing", "twice", "not-a-string", "interpolated-name", "ends-interpolated"])
def test_terraform_files_that_go_wrong(project: Path, text: str, says: str) -> None:
    (project / TF).write_text(text)
    before = folder_state(project)
    for args in (["tf", "bump"], ["tf", "bump", "--check"], ["seed", "build", "--out", "x.sql"]):
        run = dbci(*args)
        assert run.code == 2, (args, run.err)
        assert says in run.err and run.err.count("\n") == 1
    assert folder_state(project) == before


# -- what goes wrong ------------------------------------------------------------------------------


def test_a_head_the_scheme_cannot_name(bucket: str, project: Path) -> None:
    set_dbci(project, 'revision_format = "{id}"', 'file_format = "{revision}_{slug}.py"',
             f'first_revision = "{HEAD}"')
    write_revision(project / "database" / "versions", "0123456789ab_bare.py", "0123456789ab",
                   HEAD)
    run = dbci("seed", "build", "--out", "seed.sql")
    assert run.code == 2 and "does not split into a number and an id" in run.err


def test_no_single_head(bucket: str, project: Path) -> None:
    write_revision(project / "database" / "versions", "15_0123456789ab_other.py",
                   "15_0123456789ab", "13_77685f96deb5")
    for args in (["seed", "build", "--out", "seed.sql"], ["tf", "bump"]):
        run = dbci(*args)
        assert run.code == 2 and "several heads" in run.err


def test_a_seed_whose_revision_disagrees_with_its_name(bucket: str, project: Path,
                                                       tmp_path: Path) -> None:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=OLD_KEY)["Body"].read()
    wrong = tmp_path / "seed_data_11_cb5d134f324b.sql"
    wrong.write_bytes(body)
    run = dbci("seed", "build", "--out", "seed.sql", "--source", str(wrong))
    assert run.code == 2 and f"its alembic_version says {OLD}, its name 11_cb5d134f324b" in \
        run.err
    alien = tmp_path / "alien.sql"
    alien.write_bytes(body.replace(OLD.encode(), b"12_ffffffffffff"))
    run = dbci("seed", "build", "--out", "seed.sql", "--from", str(alien))
    assert run.code == 2 and "which is not a revision of this history" in run.err


def test_a_bucket_that_does_not_exist(aws: str, project: Path, head_seed: Path) -> None:
    run = dbci("seed", "upload", str(head_seed))
    assert run.code == 2 and "NoSuchBucket" in run.err


def moto_auth(url: str, count: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset-auth", data=count.encode(),
                                     method="POST", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=5).close()


def test_access_denied(bucket: str, project: Path, aws: str, head_seed: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    iam = boto3.client("iam")
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"],
                                                "Resource": "*"}]}))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    moto_auth(aws, "0")
    try:
        run = dbci("seed", "upload", str(head_seed))
    finally:
        moto_auth(aws, "inf")
    assert run.code == 3 and "AccessDenied" in run.err
    assert HEAD_KEY not in objects()


def test_s3_down_leaves_the_terraform_file_as_it_was(project: Path, head_seed: Path) -> None:
    before = folder_state(project)
    run = dbci("tf", "bump")  # AWS_ENDPOINT_URL is a closed port here
    assert run.code == 3 and "cannot reach the endpoint" in run.err
    upload = dbci("seed", "upload", str(head_seed))
    assert upload.code == 3
    assert folder_state(project) == before
