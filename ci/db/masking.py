"""Secrets never reach output: every password dbci learns is masked the moment it is known.

A URL's password is registered as soon as the URL is read (a flag, the environment, a secret in
AWS); from then on every line dbci writes passes through :func:`mask`. Listeners (GitHub's
``::add-mask::``) hear of each new secret at once. Password forms that were never registered
(a URL inside a driver's error message) are masked by their shape.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import TextIO
from urllib.parse import quote, unquote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

MASK = "***"

_SECRETS: set[str] = set()  # every form to mask
_REGISTERED: list[str] = []  # the secrets as registered, in order
_LISTENERS: list[Callable[[str], None]] = []
_RUN_STARTS: list[int] = []  # where the secrets of each open scope() begin in _REGISTERED

#: ``scheme://user:PASSWORD@host``: the userinfo's password; also in a URL whose scheme is
#: mistyped (``postgresql//user:PASSWORD@host``) or missing (``user:PASSWORD@host``). The
#: password runs to the last ``@`` of the word: one that holds ``@ : / ? #`` unencoded is
#: masked whole, never split where a URL parser would split it.
_USERINFO = re.compile(
    r"(?P<head>(?:[a-z][a-z0-9+.-]*:?//)?[^:/?#@\s'\"]*:)(?P<secret>(?!//)\S*)(?=@[^@\s]*)",
    re.IGNORECASE)
#: The shortest text registered whole when it is no URL at all (shorter ones would mask
#: every occurrence of a common word).
WHOLE_FROM = 4
#: ``password=...`` in a query string or a libpq ``key=value`` DSN (quoted or not).
_KEYWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|[^\s&;'\"]+)",
                      re.IGNORECASE)


def passwords(text: str) -> set[str]:
    """Every password a URL or libpq connection string carries, as written and decoded."""
    found: set[str] = set()
    for pattern in (_USERINFO, _KEYWORD):
        for match in pattern.finditer(text):
            value = match.group("secret")
            if value.startswith("'") and value.endswith("'") and len(value) > 1:
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            found |= {value, unquote(value)}
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        url = None
    if url is not None:
        query = url.query.get("password")
        found |= {p for p in (url.password, *([query] if isinstance(query, str) else query or ()))
                  if isinstance(p, str)}
    return {p for p in found if p}


def register(secret: str | None) -> None:
    """Mask ``secret`` (and its URL-encoded form) from now on; tell the listeners once."""
    if not secret or secret in _REGISTERED:
        return
    _REGISTERED.append(secret)
    for form in (secret, quote(secret, safe=""), quote(secret), _as_sqlalchemy_writes_it(secret)):
        _SECRETS.add(form)
    for listener in list(_LISTENERS):
        listener(secret)


def _as_sqlalchemy_writes_it(secret: str) -> str:
    """The password as SQLAlchemy writes it into a URL it renders (spaces stay spaces)."""
    text = URL.create("postgresql", username="u", password=secret, host="h").render_as_string(
        hide_password=False)
    return text[len("postgresql://u:"):-len("@h")]


def register_url(url: str | None) -> None:
    """Mask every password form a URL or DSN carries; a text that is no URL at all (it may be
    a password pasted in the wrong place) is masked whole."""
    for secret in passwords(url or ""):
        register(secret)
    text = (url or "").strip()
    if len(text) >= WHOLE_FROM and not _parses(text):
        register(text)


def _parses(text: str) -> bool:
    """Whether ``text`` reads as a URL with at most one ``@`` (or as a libpq DSN)."""
    if "=" in text and "://" not in text:
        return True  # ``host=... password=...``: its password is masked by keyword
    try:
        make_url(text)
    except (ArgumentError, ValueError):
        return False
    return text.count("@") <= 1


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """One run of dbci: the secrets it learns are forgotten when it ends (tests run many)."""
    known, registered = set(_SECRETS), list(_REGISTERED)
    _RUN_STARTS.append(len(_REGISTERED))
    try:
        yield
    finally:
        _RUN_STARTS.pop()
        _SECRETS.intersection_update(known)
        _REGISTERED[:] = registered


def listen(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener`` with each secret registered so far (a flag's, read as the arguments
    were parsed), then with each registered from now on; returns the way to stop."""
    for secret in _REGISTERED[_RUN_STARTS[-1] if _RUN_STARTS else 0:]:
        listener(secret)
    _LISTENERS.append(listener)
    return lambda: _LISTENERS.remove(listener) if listener in _LISTENERS else None


def mask(text: str) -> str:
    """``text`` with every known secret, and every password-shaped value, replaced by ***."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: m.group("head") + (MASK if m.group("secret") else ""), text)
    return _KEYWORD.sub(lambda m: m.group("head") + MASK, text)


class MaskedStream:
    """A text stream that masks everything written to it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(mask(text))
        return len(text)

    def writelines(self, lines: Iterator[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)
