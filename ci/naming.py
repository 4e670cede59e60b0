"""The naming scheme of revisions: parse and format revision ids, file names and slugs."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field

#: What each placeholder of a format matches.
PLACEHOLDERS = {
    "number": r"\d+",
    "id": r"[0-9a-f]{12}",
    "slug": r"[a-z0-9]+(?:_[a-z0-9]+)*",
}
SLUG_MAX = 40
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Name:
    """The parts of a revision id or file name; missing parts are None."""

    number: int | None
    number_text: str | None
    id: str | None
    slug: str | None


def _compile(fmt: str) -> re.Pattern[str]:
    """Turn ``{number}_{id}``-style formats into an anchored regex with named groups."""
    seen: set[str] = set()
    parts: list[str] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(fmt):
        name = match.group(1)
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}} in naming format {fmt!r}")
        parts.append(re.escape(fmt[pos : match.start()]))
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{PLACEHOLDERS[name]})")
        seen.add(name)
        pos = match.end()
    parts.append(re.escape(fmt[pos:]))
    return re.compile("".join(parts) + r"\Z")


@dataclass(frozen=True)
class NamingScheme:
    """Revision ids like ``18_a8cd0dc08805`` and files like ``18_a8cd0dc08805_add_links.py``.

    ``revision_format`` and ``file_format`` use the placeholders ``{number}``, ``{id}`` and
    ``{slug}``; ``file_format`` may also use ``{revision}``.
    """

    revision_format: str = "{number}_{id}"
    file_format: str = "{revision}_{slug}.py"
    number_width: int = 2
    revision_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    file_re: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.number_width < 1:
            raise ValueError(f"number_width must be 1 or more, not {self.number_width!r}")
        file_fmt = self.file_format.replace("{revision}", self.revision_format)
        object.__setattr__(self, "revision_re", _compile(self.revision_format))
        object.__setattr__(self, "file_re", _compile(file_fmt))

    def parse_revision(self, revision: str) -> Name | None:
        """The parts of a revision id, or None when it does not follow the scheme."""
        return _name(self.revision_re.match(revision))

    def parse_file(self, filename: str) -> Name | None:
        """The parts of a file name, or None when it does not follow the scheme."""
        return _name(self.file_re.match(filename))

    def number_text(self, number: int) -> str:
        """``7`` as ``07``: zero-padded to the width, wider past it."""
        return f"{number:0{self.number_width}d}"

    def revision(self, number: int, rev_id: str, slug: str) -> str:
        """The revision id for these parts."""
        return self.revision_format.format(number=self.number_text(number), id=rev_id, slug=slug)

    def filename(self, number: int, rev_id: str, slug: str) -> str:
        """The file name for these parts."""
        return self.file_format.format(
            revision=self.revision(number, rev_id, slug),
            number=self.number_text(number),
            id=rev_id,
            slug=slug,
        )

    def renumbered(self, revision: str, filename: str, number: int) -> tuple[str, str]:
        """The revision id and file name of a revision moved to ``number``, id and slug kept."""
        rev_name = self.parse_revision(revision)
        file_name = self.parse_file(filename)
        rev_id = (rev_name and rev_name.id) or (file_name and file_name.id) or new_id()
        slug = (file_name and file_name.slug) or (rev_name and rev_name.slug) or "revision"
        return self.revision(number, rev_id, slug), self.filename(number, rev_id, slug)


def _name(match: re.Match[str] | None) -> Name | None:
    if match is None:
        return None
    groups = match.groupdict()
    text = groups.get("number")
    return Name(
        number=int(text) if text is not None else None,
        number_text=text,
        id=groups.get("id"),
        slug=groups.get("slug"),
    )


def slugify(message: str) -> str:
    """``"Add links to datasets!"`` -> ``add_links_to_datasets``; at most 40 characters."""
    ascii_text = unicodedata.normalize("NFKD", message).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = words[0][:SLUG_MAX] if words else ""
    for word in words[1:]:
        if len(slug) + 1 + len(word) > SLUG_MAX:
            break
        slug = f"{slug}_{word}"
    return slug


def new_id() -> str:
    """Twelve random lowercase hex digits, as Alembic's own revision ids."""
    return uuid.uuid4().hex[-12:]
