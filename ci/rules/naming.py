"""Naming rules: file names, revision ids, numbers along the chain, docstrings, fixture names."""

from __future__ import annotations

from ci.rules.base import rule

FILE_NAME = rule(
    "file-name",
    summary="A revision file's name must follow the naming scheme (default "
    "`NN_<rev12>_<slug>.py`).",
    doc="""A revision file's name must follow the naming scheme (default ``NN_<rev12>_<slug>.py``)
    so that the folder lists revisions in order and a reviewer sees the number at a glance.""",
    fix="rename the file to the expected name (dbci renumber fixes numbers for you)",
)
REVISION_ID = rule(
    "revision-id",
    summary="`revision` must follow the naming scheme (default `NN_<rev12>`) and agree with the "
    "file name.",
    doc="""``revision`` must follow the naming scheme (default ``NN_<rev12>``) and agree with the
    file name: databases are stamped with this id, so the file and the id must never disagree.
    Fix the file name, never a deployed id: changing ``revision`` orphans every database stamped
    with it.""",
    fix="rename the file after the revision id (a revision not deployed anywhere yet may "
    "instead get a new id)",
)
ADOPT_NAMING_SCHEME = rule(
    "adopt-naming-scheme",
    summary="Nearly every revision breaks the naming scheme: the history has one of its own; "
    "said once instead of per file.",
    doc="""Nearly every revision breaks the naming scheme: the history was written with a scheme
    of its own (Alembic's bare hex ids, dated file names). Its ids are stamped in databases and
    cannot change, so say once how to adopt dbci instead of repeating one finding per file:
    describe the history's scheme in ``[tool.dbci]``, or start the rules at a revision.""",
    fix="set [tool.dbci] exempt_through to today's head (the scheme then applies to the "
    "revisions after it), or describe this history's scheme with revision_format and "
    "file_format",
)
REVISION_NUMBER = rule(
    "revision-number",
    summary="A revision's number is its parent's plus one; the first is 00 or 01, zero-padded "
    "to two digits.",
    doc="""Numbers count up by one along the chain: a revision's number is its parent's plus
    one, and the first revision is 00 or 01, zero-padded to two digits. A gap or a repeat
    usually means two branches each added a revision.""",
    fix="run `dbci renumber` to move this branch's revisions after the base head",
)
DUPLICATE_NUMBER = rule(
    "duplicate-number",
    summary="Two revisions carry one number: two pull requests each added the next revision.",
    doc="""Two revisions carry one number: two pull requests each added the next revision.""",
    fix="run `dbci renumber --base <base branch>` on the branch that landed second",
)
DOCSTRING_REVISION_ID = rule(
    "docstring-revision-id",
    summary="The docstring's `Revision ID:` line must repeat `revision`.",
    doc="""The docstring's ``Revision ID:`` line must repeat ``revision``; hand renames often
    miss it.""",
    fix="make the docstring's Revision ID line equal the revision variable",
)
DOCSTRING_REVISES = rule(
    "docstring-revises",
    summary="The docstring's `Revises:` line must repeat `down_revision`.",
    doc="""The docstring's ``Revises:`` line must repeat ``down_revision``.""",
    fix="make the docstring's Revises line equal down_revision",
)
UNKNOWN_FIXTURE_REVISION = rule(
    "unknown-fixture-revision",
    summary="A file in `roundtrip_data/` or `seed/` is named after no revision, so it is never "
    "loaded.",
    doc="""A file in ``<script_location>/roundtrip_data/`` or ``seed/`` is named after a revision
    this history does not have, so it is never loaded: usually a revision renamed by hand.""",
    fix="rename the file after its revision (dbci renumber moves fixtures along), or delete it",
)
