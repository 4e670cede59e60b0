"""``dbci init`` rules: env.py runs on the database dbci hands it, and the files init writes
are what it would write now, never replaced unasked."""

from __future__ import annotations

from ci.rules.base import rule

ENV_IGNORES_CONNECTION = rule(
    "env-ignores-connection",
    summary="env.py uses neither the connection dbci hands it nor `sqlalchemy.url`: dbci "
    "refuses to run it.",
    doc="""env.py builds its engine from somewhere else (a secret, an environment variable, a
    ``sqlalchemy.url`` it sets itself), so every upgrade and downgrade dbci runs through it
    would reach that database, a deployed one whenever credentials are at hand. dbci hands
    env.py its connection in ``config.attributes["connection"]`` and sets ``sqlalchemy.url``,
    and refuses an env.py that uses neither, having run nothing; an asyncio engine cannot run
    on dbci's URL (a synchronous driver's) either. ``dbci init`` writes the patch that builds
    the engine as before only when no connection was handed over, as the reference
    ``database/env.py`` does (for asyncio, the Alembic cookbook's recipe), to
    ``dbci-env.patch`` beside alembic.ini. Merge it before the workflows: the pull request
    check builds the base branch's schema with the base's env.py.""",
    fix="apply the patch dbci init writes to dbci-env.patch (git apply at the repository's "
    "root), and merge it before the workflows",
    check="init")
INIT_FILE_DIFFERS = rule(
    "init-file-differs",
    summary="A file `dbci init` writes exists with other content; init never replaces it "
    "without `--force`.",
    doc="""A workflow, the Makefile include or a ``[tool.dbci]`` value that ``dbci init``
    writes exists with other content: changed by hand, written by an older dbci, or the
    project's own. Init replaces nothing unasked, so it changed no file at all.""",
    fix="look at the difference; run dbci init --force to replace it with what init writes",
    check="init")
INIT_WOULD_CHANGE = rule(
    "init-would-change",
    summary="With `init --check`: `dbci init` would write or change this file.",
    doc="""``dbci init --check`` changes nothing and reports each file that ``dbci init``
    would write (it is missing) or change (a ``[tool.dbci]`` key it would add): the project has
    not adopted dbci as it stands, or has since changed what init reads (the stages, the
    history).""",
    fix="run dbci init",
    check="init")
