"""The rdev stack's ``data_load_path`` in Terraform: read it, and point it at another seed,
changing only the file-name part of that one string.

The file is parsed by python-hcl2; the ``locals`` attribute is found in its syntax tree, whose
tokens carry their place in the text, so the edit touches nothing else (interpolations in the
bucket part, comments, spacing, other locals). The result must parse again, and, where a
``terraform`` binary exists, the bump must add no ``terraform fmt`` difference of its own. A
file name built by interpolation is refused: only a literal one is dbci's to change.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError

from ci.atomic_files import replace_files
from ci.errors import BadInput, OutsideFailure
from ci.findings import display_path

LOCAL = "data_load_path"
#: A seed's file name, and the revision in it.
SEED_NAME = re.compile(r"seed_data_(?P<revision>[^/]+)\.sql")


@dataclass(frozen=True)
class DataLoadPath:
    """Where ``data_load_path`` is, and what it says."""

    file: Path
    text: str  # the whole file
    value: str  # the string as written (interpolations as written too)
    tail: Token  # the last literal part of the string: it ends with the file name
    line: int

    @property
    def file_name(self) -> str:
        """``seed_data_12_7cd45af4a41d.sql``."""
        return str(self.tail).rsplit("/", 1)[-1]

    @property
    def revision(self) -> str | None:
        """The revision the seed's name says it is at."""
        match = SEED_NAME.fullmatch(self.file_name)
        return match.group("revision") if match else None

    def s3_url(self, bucket: str) -> str:
        """The seed's S3 URL; ``bucket`` stands in for a bucket part Terraform interpolates."""
        literal = re.fullmatch(r"s3://([^/$]+)/(.+)", self.value)
        if literal:
            return self.value
        key = str(self.tail).lstrip("/")
        return f"s3://{bucket}/{key}"


def _parse(path: Path, text: str) -> Tree[Any]:
    try:
        return hcl2.parses_to_tree(text)
    except (LarkError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"{display_path(path)}: not valid Terraform ({first}); fix the "
                       "file") from exc


def _named(node: Tree[Any]) -> str | None:
    first = node.children[0] if node.children else None
    if isinstance(first, Tree) and first.data == "identifier":
        return str(first.children[0])
    return None


def find(path: Path, text: str | None = None) -> DataLoadPath:
    """The one ``data_load_path`` defined in a ``locals`` block of the file (or of ``text``,
    the file's text to be)."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{display_path(path)}: cannot read the Terraform file ({exc}); set "
                           "[tool.dbci] terraform_file") from exc
    tree = _parse(path, text)
    found = [attribute for block in tree.find_data("block") if _named(block) == "locals"
             for attribute in _direct_attributes(block) if _named(attribute) == LOCAL]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise BadInput(f"{display_path(path)}: {what} definitions of local.{LOCAL} (expected "
                       "one, in a locals block)")
    value = found[0].children[-1]
    string = value.children[0] if isinstance(value, Tree) and value.children else None
    if not (isinstance(string, Tree) and string.data == "string"):
        raise BadInput(f"{display_path(path)}: local.{LOCAL} is not a string naming a seed")
    parts = [part for part in string.children if isinstance(part, Tree)]
    literal = [token for part in parts[-1:] for token in part.children
               if isinstance(token, Token) and token.type == "STRING_CHARS"]
    if not literal or ("/" not in literal[-1] and len(parts) > 1):
        raise BadInput(f"{display_path(path)}: the file name of local.{LOCAL} is not literal "
                       "text (it ends in a ${...} interpolation, or is built from one); dbci "
                       "changes only a literal seed file name: write it out "
                       "(.../seed_data_<revision>.sql)")
    written = text[string.meta.start_pos + 1:string.meta.end_pos - 1]
    return DataLoadPath(path, text, written, literal[-1], found[0].meta.line)


def _direct_attributes(block: Tree[Any]) -> list[Tree[Any]]:
    """A block's own attributes, not those of blocks nested in it."""
    body = next((c for c in block.children if isinstance(c, Tree) and c.data == "body"), None)
    return [c for c in body.children if isinstance(c, Tree) and c.data == "attribute"] \
        if body is not None else []


def bumped(found: DataLoadPath, file_name: str) -> str:
    """The file's text with the seed's file name replaced, and nothing else."""
    tail = str(found.tail)
    folder = tail.rsplit("/", 1)[0] + "/" if "/" in tail else ""
    start, end = found.tail.start_pos, found.tail.end_pos
    assert start is not None and end is not None
    return found.text[:start] + folder + file_name + found.text[end:]


def formatted(text: str) -> str | None:
    """``terraform fmt``'s version of ``text``, where a terraform binary exists."""
    binary = shutil.which("terraform")
    if binary is None:
        return None
    try:
        done = subprocess.run([binary, "fmt", "-"], input=text, capture_output=True,
                              text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OutsideFailure(f"terraform fmt could not run: {exc}") from exc
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no output"])[0]
        raise OutsideFailure(f"terraform fmt failed: {first}")
    return done.stdout


def fmt_check(path: Path, before: str, after: str, file_name: str) -> None:
    """Refuse a bump that adds a formatting difference of its own: bumping the formatted file
    must give the formatted bumped file. A file that was not formatted before may stay so
    (a team's main.tf need not be); the bump never makes it worse."""
    was = formatted(before)
    if was is None:
        return
    if formatted(after) != bumped(find(path, was), file_name):
        raise BadInput(f"{display_path(path)}: the bump itself would add a terraform fmt "
                       "difference; nothing was changed")


def bump(path: Path, file_name: str, check: bool = False) -> tuple[DataLoadPath, bool]:
    """Point ``data_load_path`` at ``file_name``; whether that changed anything. With
    ``check``, only say so. The file is written atomically, after the new text parses."""
    found = find(path)
    if found.file_name == file_name:
        return found, False
    if check:
        return found, True
    text = bumped(found, file_name)
    again = find(path, text)
    if again.file_name != file_name or again.line != found.line:
        raise BadInput(f"{display_path(path)}: the bump did not land where it should; nothing "
                       "was changed")
    fmt_check(path, found.text, text, file_name)
    replace_files({path: text})
    return found, True
