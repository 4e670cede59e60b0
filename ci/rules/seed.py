"""rdev seed rules: ``data_load_path`` names a seed of this history, at head when a pull
request changes the seed, and the seed takes this branch's revisions."""

from __future__ import annotations

from ci.rules.base import rule

DATA_LOAD_PATH = rule(
    "data-load-path",
    """The Terraform file's ``local.data_load_path`` must be one string naming a seed
    (``seed_data_<NN>_<rev>.sql``) of a revision of this history: rdev stacks load it and then
    replay only the revisions after it.""",
    "point it at a seed of this history: dbci seed build, dbci seed upload, then dbci tf bump",
    check="seed")
SEED_NOT_AT_HEAD = rule(
    "seed-not-at-head",
    """The pull request adds a seed patch (``<script_location>/seed/<revision>.sql``) or changes
    ``data_load_path``, but ``data_load_path`` does not name the head's seed: the patch would
    never reach rdev stacks.""",
    "build and upload the head's seed, then dbci tf bump (the rdev-seed label does all three)",
    check="seed")
SEED_MISSING = rule(
    "seed-missing",
    """The seed ``data_load_path`` names is not in S3: every new rdev stack would fail to
    boot.""",
    "upload it (dbci seed upload), or point data_load_path at one that exists",
    check="seed")
SEED_UPGRADE_FAILS = rule(
    "seed-upgrade-fails",
    """A revision fails on the rdev seed's rows: the migration breaks on data that rdev stacks
    (and likely production) hold, though it passes on an empty database.""",
    "make the revision work on existing rows (defaults, backfills), or add a seed patch "
    "<script_location>/seed/<revision>.sql for rows no migration can invent",
    check="seed")
SEED_OBJECT_DIFFERS = rule(
    "seed-object-differs",
    """A seed with this name is already in S3 with other content. Seeds are never overwritten:
    other branches' stacks still load that one.""",
    "check which file is right; a seed of new content belongs to a new revision",
    check="seed")
