"""rdev seed rules: ``data_load_path`` names a seed of this history, at head when a pull
request changes the seed, and the seed takes this branch's revisions."""

from __future__ import annotations

from ci.rules.base import rule

DATA_LOAD_PATH = rule(
    "data-load-path",
    summary="`local.data_load_path` must be one string naming a seed of a revision of this "
    "history.",
    doc="""The Terraform file's ``local.data_load_path`` must be one string naming a seed
    (``seed_data_<NN>_<rev>.sql``) of a revision of this history: rdev stacks load it and then
    replay only the revisions after it.""",
    fix="point it at a seed of this history: dbci seed build, dbci seed upload, then dbci tf "
    "bump",
    check="seed")
SEED_NOT_AT_HEAD = rule(
    "seed-not-at-head",
    summary="The branch adds a seed patch or changes `data_load_path`, but it does not name "
    "the head's seed.",
    doc="""The pull request adds a seed patch (``<script_location>/seed/<revision>.sql``) or
    changes ``data_load_path``, but ``data_load_path`` does not name the head's seed: the patch
    would never reach rdev stacks.""",
    fix="build and upload the head's seed, then dbci tf bump (the rdev-seed label does all "
    "three)",
    check="seed")
SEED_MISSING = rule(
    "seed-missing",
    summary="With `--verify-seed`: the seed `data_load_path` names is not in S3.",
    doc="""The seed ``data_load_path`` names is not in S3: every new rdev stack would fail to
    boot.""",
    fix="upload it (dbci seed upload), or point data_load_path at one that exists",
    check="seed")
SEED_UPGRADE_FAILS = rule(
    "seed-upgrade-fails",
    summary="With `--verify-seed`: a revision fails on the rdev seed's rows.",
    doc="""A revision fails on the rdev seed's rows: the migration breaks on data that rdev
    stacks (and likely production) hold, though it passes on an empty database.""",
    fix="make the revision work on existing rows (defaults, backfills), or add a seed patch "
    "<script_location>/seed/<revision>.sql for rows no migration can invent",
    check="seed")
SEED_OBJECT_DIFFERS = rule(
    "seed-object-differs",
    summary="`seed upload`: an object of that name exists in S3 with other content; it is "
    "never overwritten.",
    doc="""A seed with this name is already in S3 with other content. Seeds are never
    overwritten: other branches' stacks still load that one.""",
    fix="check which file is right; a seed of new content belongs to a new revision",
    check="seed")
