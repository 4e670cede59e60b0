"""The naming scheme of revisions: parse and format revision ids, file names and slugs."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime

#: What each placeholder of a format matches. A slug is what Alembic writes too: cut short
#: with a trailing ``_`` (at 40 characters), or empty (``alembic merge`` writes ``<rev>_.py``).
PLACEHOLDERS = {
    "number": r"\d+",
    "id": r"[0-9a-f]{12}",
    "slug": r"[a-z0-9_]*",
}
#: File names may also carry the date parts of Alembic's ``file_template``.
DATE_PLACEHOLDERS = {"year": r"\d{4}", "month": r"\d{2}", "day": r"\d{2}", "hour": r"\d{2}",
                     "minute": r"\d{2}", "second": r"\d{2}", "epoch": r"\d+"}
SLUG_MAX = 40
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: Alembic's ``file_template`` tokens, as dbci placeholders.
_ALEMBIC_TOKENS = {"rev": "revision", "slug": "slug", **{k: k for k in DATE_PLACEHOLDERS}}
_ALEMBIC_TOKEN = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sd]")
#: Alembic's default file_template: dbci's default scheme writes the same names.
ALEMBIC_DEFAULT_TEMPLATE = "%(rev)s_%(slug)s"


@dataclass(frozen=True)
class Name:
    """The parts of a revision id or file name; missing parts are None."""

    number: int | None
    number_text: str | None
    id: str | None
    slug: str | None
    dates: tuple[tuple[str, str], ...] = field(default=(), compare=False)


def _compile(fmt: str) -> re.Pattern[str]:
    """Turn ``{number}_{id}``-style formats into an anchored regex with named groups."""
    seen: set[str] = set()
    parts: list[str] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(fmt):
        name = match.group(1)
        pattern = PLACEHOLDERS.get(name) or DATE_PLACEHOLDERS.get(name)
        if pattern is None:
            raise ValueError(f"unknown placeholder {{{name}}} in naming format {fmt!r}")
        parts.append(re.escape(fmt[pos : match.start()]))
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{pattern})")
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

    def filename(self, number: int, rev_id: str, slug: str,
                 dates: dict[str, str] | None = None) -> str:
        """The file name for these parts (dates: those of a file name, else now's)."""
        return self.file_format.format(
            revision=self.revision(number, rev_id, slug),
            number=self.number_text(number),
            id=rev_id,
            slug=slug,
            **(dates or _dates(datetime.now())),
        )

    def renumbered(self, revision: str, filename: str, number: int) -> tuple[str, str]:
        """The revision id and file name of a revision moved to ``number``, id, slug and the
        file name's dates kept."""
        rev_name = self.parse_revision(revision)
        file_name = self.parse_file(filename)
        rev_id = (rev_name and rev_name.id) or (file_name and file_name.id) or new_id()
        slug = (file_name and file_name.slug) or (rev_name and rev_name.slug) or "revision"
        dates = dict(file_name.dates) if file_name and file_name.dates else None
        return self.revision(number, rev_id, slug), self.filename(number, rev_id, slug, dates)

    @classmethod
    def from_alembic(cls, template: str, number_width: int = 2) -> NamingScheme:
        """The scheme of a project that names files with Alembic's own ``file_template`` (for
        example dated names) and keeps Alembic's bare hex revision ids."""
        parts, pos = [], 0
        for match in _ALEMBIC_TOKEN.finditer(template):
            token = _ALEMBIC_TOKENS.get(match.group(1))
            if token is None:
                raise ValueError(f"file_template token %({match.group(1)})s has no dbci "
                                 "placeholder; set [tool.dbci] file_format")
            parts += [template[pos:match.start()].replace("{", "{{").replace("}", "}}"),
                      "{" + token + "}"]
            pos = match.end()
        parts.append(template[pos:].replace("{", "{{").replace("}", "}}"))
        return cls("{id}", "".join(parts) + ".py", number_width)


def _dates(when: datetime) -> dict[str, str]:
    return {"year": f"{when.year:04d}", "month": f"{when.month:02d}", "day": f"{when.day:02d}",
            "hour": f"{when.hour:02d}", "minute": f"{when.minute:02d}",
            "second": f"{when.second:02d}", "epoch": str(int(when.timestamp()))}


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
        dates=tuple((k, v) for k, v in groups.items() if k in DATE_PLACEHOLDERS),
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
