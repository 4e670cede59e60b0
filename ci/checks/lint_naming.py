"""Lint's naming rules: file names, revision ids, numbers along the chain, docstrings, fixture
names (rules: ``ci/rules/naming.py``)."""

from __future__ import annotations

from collections.abc import Iterator

from ci.findings import Finding, display_path
from ci.history import History, Revision
from ci.naming import Name, NamingScheme, slugify
from ci.rules.naming import (
    ADOPT_NAMING_SCHEME,
    DOCSTRING_REVISES,
    DOCSTRING_REVISION_ID,
    DUPLICATE_NUMBER,
    FILE_NAME,
    REVISION_ID,
    REVISION_NUMBER,
    UNKNOWN_FIXTURE_REVISION,
)

#: When at least this share of the revisions (and three) break the scheme, lint says once how
#: to adopt dbci instead.
ADOPT_SHARE = 0.8


def check_fixtures(history: History) -> Iterator[Finding]:
    """Fixture files named after no revision."""
    for path in history.orphan_fixtures():
        yield UNKNOWN_FIXTURE_REVISION.at_file(
            display_path(path), f"{path.name} names no revision of this history; it is never "
            "loaded")


def numbered(naming: NamingScheme, rev: Revision) -> Name | None:
    """The name that carries a revision's number: its id's, else its file name's (schemes with
    bare hex ids number the files only)."""
    for name in (naming.parse_revision(rev.id), naming.parse_file(rev.path.name)):
        if name is not None and name.number is not None:
            return name
    return None


def _expected_number(history: History, rev: Revision) -> int | None:
    naming = history.config.naming
    if not rev.down_revisions:
        return None
    parents = [history.by_id[d] for d in rev.down_revisions if d in history.by_id]
    numbers = [n.number for p in parents
               if (n := numbered(naming, p)) and n.number is not None]
    return max(numbers) + 1 if numbers else None


def check_revision(history: History, rev: Revision) -> Iterator[Finding]:
    """The naming rules for one revision."""
    naming = history.config.naming
    rev_line = rev.assignment_line("revision")
    rev_name = naming.parse_revision(rev.id)
    file_name = naming.parse_file(rev.path.name)
    if rev_name is None:
        yield REVISION_ID.at(
            rev, f"revision {rev.id!r} does not match {naming.revision_format!r}", line=rev_line)
    expected = _expected_filename(history, rev, rev_name, file_name)
    rename = f"rename the file to {expected}" if expected else None
    if file_name is None:
        yield FILE_NAME.at(
            rev, f"file name {rev.path.name!r} does not match {naming.file_format!r}",
            line=1, hint=rename)
    elif rev_name is not None and _revision_part(naming, file_name) != rev.id:
        yield REVISION_ID.at(
            rev, f"revision {rev.id!r} disagrees with the file name {rev.path.name!r}",
            line=rev_line, hint=rename and f"{rename} (keep revision: databases are stamped "
            "with it)")
    name = numbered(naming, rev)
    if name is not None:
        yield from _number_findings(history, rev, name, rev_line)
    yield from _docstring_findings(rev)


def _revision_part(naming: NamingScheme, name: Name) -> str:
    return naming.revision_format.format(number=name.number_text, id=name.id, slug=name.slug)


def _expected_filename(history: History, rev: Revision, rev_name: Name | None,
                       file_name: Name | None) -> str | None:
    """The file name this revision should have, from its id, number, slug and dates; None where
    its id does not say enough."""
    naming = history.config.naming
    if rev_name is None:
        return None
    number = rev_name.number
    if number is None:
        known = numbered(naming, rev)
        number = known.number if known else _expected_number(history, rev)
    needs_number = "{number}" in naming.file_format.replace("{revision}",
                                                            naming.revision_format)
    if number is None and needs_number:
        return None
    slug = rev_name.slug or (file_name and file_name.slug) or _slug_of(rev)
    dates = dict(file_name.dates) if file_name and file_name.dates else None
    name = naming.filename(number or 0, rev_name.id or "", slug, dates)
    return name if name != rev.path.name else None


def _slug_of(rev: Revision) -> str:
    doc = rev.script.module.__doc__ or ""
    return slugify(doc.strip().splitlines()[0] if doc.strip() else rev.path.stem) or "revision"


def _number_findings(history: History, rev: Revision, name: Name, line: int | None
                     ) -> Iterator[Finding]:
    naming = history.config.naming
    assert name.number is not None
    if name.number_text != naming.number_text(name.number):
        yield REVISION_NUMBER.at(
            rev, f"number {name.number_text!r} should be written "
            f"{naming.number_text(name.number)!r}",
            line=line)
        return
    expected = _expected_number(history, rev)
    parent_exempt = any(d in history.exempt for d in rev.down_revisions)
    if not rev.down_revisions and name.number not in (0, 1):
        yield REVISION_NUMBER.at(
            rev, f"the first revision is numbered {name.number_text}; it must be 00 or 01",
            line=line)
    elif expected is not None and not parent_exempt and name.number != expected:
        yield REVISION_NUMBER.at(
            rev, f"number {name.number_text} follows {rev.down_revisions[0]}; expected "
            f"{naming.number_text(expected)}", line=line)


def _docstring_findings(rev: Revision) -> Iterator[Finding]:
    doc_id = rev.docstring_field("Revision ID")
    if doc_id is None or doc_id[0] != rev.id:
        found = f"says {doc_id[0]!r}" if doc_id else "has no 'Revision ID:' line"
        yield DOCSTRING_REVISION_ID.at(
            rev, f"docstring {found}; revision is {rev.id!r}",
            line=doc_id[1] if doc_id else 1)
    revises = rev.docstring_field("Revises")
    expected = ", ".join(rev.down_revisions)
    if revises is None and not rev.down_revisions:
        return  # a first revision's docstring may leave Revises out
    if revises is None or [s.strip() for s in revises[0].split(",") if s.strip()] != list(
            rev.down_revisions):
        found = f"says {revises[0]!r}" if revises else "has no 'Revises:' line"
        down = repr(expected) if expected else "None"
        yield DOCSTRING_REVISES.at(rev, f"docstring {found}; down_revision is {down}",
                                   line=revises[1] if revises else 1)


def check_duplicate_numbers(history: History, revs: list[Revision]) -> Iterator[Finding]:
    """Revisions that share a number."""
    by_number: dict[int, list[Revision]] = {}
    for rev in revs:
        name = numbered(history.config.naming, rev)
        if name is not None and name.number is not None:
            by_number.setdefault(name.number, []).append(rev)
    for number, same in sorted(by_number.items()):
        if len(same) > 1:
            for rev in same:
                others = ", ".join(o.display for o in same if o is not rev)
                yield DUPLICATE_NUMBER.at(
                    rev, f"number {history.config.naming.number_text(number)} is also used by "
                    f"{others}", line=rev.assignment_line("revision"))


def adopt(history: History, findings: list[Finding], checked: list[Revision]) -> list[Finding]:
    """Where nearly every revision breaks the scheme, one finding saying how to adopt dbci in
    place of a file-name and revision-id finding per file."""
    scheme = {FILE_NAME.id, REVISION_ID.id}
    breaking = {f.revision for f in findings if f.rule in scheme}
    if len(breaking) < 3 or len(breaking) < ADOPT_SHARE * len(checked):
        return findings
    naming = history.config.naming
    head = history.heads[0].id if len(history.heads) == 1 else None
    hint = ADOPT_NAMING_SCHEME.fix
    if all(NamingScheme("{id}", naming.file_format).parse_revision(r.id) for r in checked):
        hint += "; these ids are Alembic's own: revision_format = \"{id}\""
    if head:
        hint += f"; or exempt_through = \"{head}\" to apply the scheme after today's head"
    kept = [f for f in findings if f.rule not in scheme]
    return [*kept, ADOPT_NAMING_SCHEME.at_file(
        display_path(history.versions_dir),
        f"{len(breaking)} of {len(checked)} revisions do not follow the naming scheme "
        f"(revision {naming.revision_format!r}, file {naming.file_format!r}); this history "
        "was written with another", hint=hint)]
