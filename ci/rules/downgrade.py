"""The downgrade rules: every revision can be undone, or says plainly (and why) that it cannot."""

from __future__ import annotations

from ci.rules.base import rule

MISSING_DOWNGRADE = rule(
    "missing-downgrade",
    summary="`downgrade()` is missing or only `pass` while `upgrade()` does something.",
    doc="""``downgrade()`` is missing or does nothing (``pass``) while ``upgrade()`` does
    something (an empty revision, as ``dbci new`` writes it, is fine), so rolling back a deploy
    leaves the schema ahead of the code. A revision that truly cannot be undone says so: a
    comment ``# dbci: irreversible -- <reason>`` in the file, or a downgrade that raises
    ``NotImplementedError("<reason>")`` itself; the round trip then skips it with a note. Read
    from the code, the rule names the calls it saw in ``upgrade()``; with ``--base``, where dbci
    ran the new revisions, an upgrade whose statements only read (``SELECT``) is not
    flagged.""",
    fix="write a downgrade that undoes upgrade(), or mark it `# dbci: irreversible -- <reason>`",
)
MARKER_WITHOUT_REASON = rule(
    "marker-without-reason",
    summary="An allow or irreversible comment, or a downgrade's `raise NotImplementedError`, "
    "gives no reason.",
    doc="""A ``# dbci: allow <rule>`` or ``# dbci: irreversible`` comment must give its reason
    after ``--``, and a downgrade that raises ``NotImplementedError`` gives it as the error's
    message, so the next reader knows why the rule does not apply.""",
    fix="add the reason: `# dbci: allow <rule> -- <why>` or `# dbci: irreversible -- <why>`",
)
