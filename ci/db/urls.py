"""Database URLs: normalised for psycopg2, refused in one line that never shows the value,
masked."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ci.db import masking
from ci.errors import BadInput

#: How a URL with a password must be written, for the messages that refuse one.
URL_SHAPE = ("postgresql://user:password@host:port/database, the password's @ : / ? # % "
             "percent-encoded (%40 %3A %2F %3F %23 %25)")


def normalize_url(url: str, source: str = "the database URL") -> str:
    """A SQLAlchemy URL for psycopg2; ``postgresql://`` and ``postgres://`` mean psycopg2.
    ``source`` names where the URL came from (a flag, a variable, a secret) in a refusal,
    which never shows the value: a URL that does not parse may hold a password anywhere."""
    masking.register_url(url)
    if url.count("@") > 1:
        raise BadInput(f"{source} holds more than one @, so its password cannot be told from "
                       f"its host (the value is not shown); write it as {URL_SHAPE}")
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
        parsed.port  # noqa: B018 - a port that is not a number raises here
    except (ArgumentError, ValueError) as exc:
        raise BadInput(f"{source} is not a database URL (the value is not shown); write it as "
                       f"{URL_SHAPE}") from exc
    if parsed.get_backend_name() != "postgresql":
        raise BadInput(f"{source}: {mask_url(url)}: dbci needs a PostgreSQL URL "
                       "(postgresql://...)")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def mask_url(url: str | URL) -> str:
    """The URL with every password form replaced by ``***``; safe to print."""
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    masking.register_url(text)
    return masking.mask(text)
