"""The rdev seed in the PR check: ``data_load_path`` names a seed of this history; when the
pull request adds a seed patch or changes it, the head's seed; and, with AWS at hand
(``--verify-seed``), the object exists and this branch's revisions run on its rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from ci import aws, gitrefs, terraform
from ci import rdev_seed as seed
from ci.config import Config
from ci.errors import BadInput
from ci.findings import Finding, count, display_path
from ci.history import History, load_history
from ci.rules.seed import DATA_LOAD_PATH, SEED_MISSING, SEED_NOT_AT_HEAD, SEED_UPGRADE_FAILS
from ci.stages import targets


@dataclass
class SeedCheck:
    """The seed step's findings and summary; ``ok`` None when there was nothing to check."""

    summary: str
    findings: list[Finding] = field(default_factory=list)
    checked: bool = True

    @property
    def ok(self) -> bool | None:
        return None if not self.checked else not self.findings


def seed_check(config: Config, base: str | None, verify: bool) -> SeedCheck:
    """Check the seed ``data_load_path`` names against this history (and S3 if asked)."""
    path = config.terraform_file
    if path is None:
        if verify:
            config.terraform_path()  # says which setting is missing
        return SeedCheck("no terraform_file set under [tool.dbci]: nothing to check",
                         checked=False)
    shown = display_path(path)
    if not path.is_file():
        if verify:
            raise BadInput(f"{shown}: no such file, so --verify-seed has no data_load_path to "
                           "verify; set terraform_file under [tool.dbci], or leave the flag out")
        return SeedCheck(f"no Terraform file {shown}: nothing to check", checked=False)
    history = load_history(config)
    try:
        history.order()
    except BadInput:
        return SeedCheck("not run: the history is broken", checked=False)
    try:
        found = terraform.find(path)
    except BadInput as exc:
        return SeedCheck("data_load_path could not be read",
                         [DATA_LOAD_PATH.at_file(shown, exc.message)])
    if found.revision not in {r.id for r in history.revisions}:
        return SeedCheck(f"data_load_path names {found.file_name}", [DATA_LOAD_PATH.at_file(
            shown, f"local.data_load_path names {found.file_name}, not a seed of a revision of "
            "this history", line=found.line)])
    findings = _at_head(config, history, found, base)
    summary = f"data_load_path names {found.file_name}"
    if verify and not findings:
        verified, findings = _verified(config, history, found)
        summary += f"; {verified}"
    return SeedCheck(summary, findings)


def _at_head(config: Config, history: History, found: terraform.DataLoadPath,
             base: str | None) -> list[Finding]:
    """A seed patch added, or data_load_path changed, since the base: it must name the head's
    seed."""
    if base is None or len(history.heads) != 1:
        return []
    before = gitrefs.files_at(base, found.file.parent).get(found.file.name)
    try:
        moved = before is None or terraform.find(found.file, before.decode()).file_name != \
            found.file_name
    except (BadInput, UnicodeDecodeError):
        moved = True
    old = set(gitrefs.files_at(base, config.script_location / "seed"))
    patches = sorted(set(history.fixtures("seed")) - {name.removesuffix(".sql") for name in old})
    if not (moved or patches):
        return []
    wanted = seed.seed_name(config, history.heads[0].id)
    if found.file_name == wanted:
        return []
    why = (f"adds the seed patch(es) {', '.join(patches)}" if patches else
           "changes local.data_load_path")
    return [SEED_NOT_AT_HEAD.at_file(
        display_path(found.file), f"this branch {why}, but data_load_path names "
        f"{found.file_name}, not the head's seed {wanted}", line=found.line)]


def _verified(config: Config, history: History,
              found: terraform.DataLoadPath) -> tuple[str, list[Finding]]:
    """The seed in S3, loaded into a scratch database and brought to head."""
    url = found.s3_url(config.seed_bucket)
    bucket, key = aws.parse_s3_url(url)
    if aws.stored_digest(bucket, key) is None:
        return "not in S3", [SEED_MISSING.at_file(
            display_path(found.file), f"{url} does not exist", line=found.line)]
    with seed.fetched(config, url) as (path, what), targets.scratch(config) as scratch:
        seed.load_sql(scratch, path, f"loading {what}")
        try:
            ran = seed.to_head(config, history, scratch)
        except seed.SeedUpgradeFailed as exc:
            return "a revision fails on it", [SEED_UPGRADE_FAILS.at(
                history.get(exc.revision), f"{exc.message} (rows of {url})")]
    return f"in S3, and {count(len(ran), 'revision')} run on its rows", []
