"""The project as it is at a git ref: its files, and a checkout of it in a temporary folder."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ci.config import Config
from ci.errors import BadInput, OutsideFailure
from ci.history import History, load_history


def _git(args: list[str], cwd: Path) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise OutsideFailure("git is not installed; --base needs it") from exc
    if done.returncode != 0:
        raise _GitError(done.stderr.decode(errors="replace").strip())
    return done.stdout


class _GitError(Exception):
    pass


def repo_root(path: Path) -> Path:
    """The top of the git work tree holding ``path``."""
    try:
        return Path(_git(["rev-parse", "--show-toplevel"], path).decode().strip())
    except _GitError as exc:  # not a repository, or one git refuses (dubious ownership)
        reason = (str(exc).splitlines() or ["git failed"])[0].removeprefix("fatal: ")
        raise BadInput(f"{path}: {reason}; --base needs a git repository") from exc


def resolve(ref: str, cwd: Path) -> str:
    """The commit a ref names; an unknown ref is bad input."""
    try:
        return _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd).decode().strip()
    except _GitError as exc:
        raise BadInput(f"unknown git ref {ref!r}; fetch it (git fetch origin) or name another")\
            from exc


def default_base(config: Config) -> str:
    """``[tool.dbci] base_ref``, else the first of origin/main, main, origin/master, master."""
    if config.settings.base_ref:
        return config.settings.base_ref
    repo_root(config.project_dir)  # outside git, say so rather than "no base branch"
    for ref in ("origin/main", "main", "origin/master", "master"):
        with contextlib.suppress(BadInput):
            resolve(ref, config.project_dir)
            return ref
    raise BadInput("no base branch found (tried origin/main, main, origin/master, master); "
                   "pass --base REF or set [tool.dbci] base_ref")


def files_at(ref: str, folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` at ``ref``, by path relative to ``folder`` (which need not
    exist in the work tree)."""
    here = next(p for p in (folder, *folder.parents) if p.is_dir())
    root = repo_root(here)
    commit = resolve(ref, here)
    rel = folder.resolve().relative_to(root.resolve())
    return dict(_archive(root, commit, rel))


@functools.lru_cache(maxsize=2)
def _archive(root: Path, commit: str, rel: Path) -> dict[str, bytes]:
    """The files below ``rel`` at ``commit`` (``check`` asks twice; a commit never changes)."""
    try:
        data = _git(["archive", "--format=tar", commit, "--", str(rel)], root)
    except _GitError:
        return {}  # the folder did not exist at that ref
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                out[str(Path(member.name).relative_to(rel))] = handle.read()
    return out


def _into_checkout(ini: bytes, top: Path, checkout: Path) -> bytes:
    """alembic.ini with absolute paths into the project (``alembic init /abs/dir`` writes them)
    pointed at the same place in the checkout, so the base is not read from the work tree."""
    for folder in sorted({top, top.resolve()}, key=lambda p: -len(str(p))):
        ini = ini.replace(f"{folder}{os.sep}".encode(), f"{checkout}{os.sep}".encode())
    return ini


def _link_unchanged(source: Path, target: Path, data: bytes) -> bool:
    """Hard-link the work tree's file into the checkout when it holds the same bytes, and its
    compiled bytecode with it, so loading an unchanged revision compiles nothing again; False
    when it differs or cannot be linked (then the caller writes it)."""
    try:
        if source.stat().st_size != len(data) or source.read_bytes() != data:
            return False
        os.link(source, target)
    except OSError:
        return False
    if source.suffix == ".py":
        cached = Path(importlib.util.cache_from_source(str(target)))
        with contextlib.suppress(OSError):  # none yet: Python compiles it as usual
            cached.parent.mkdir(exist_ok=True)
            os.link(importlib.util.cache_from_source(str(source)), cached)
    return True


def changed_since(ref: str, config: Config) -> list[Path]:
    """The project's files (below alembic.ini's and the migration folder's common folder) that
    differ from ``ref`` in the work tree, untracked ones included."""
    top = Path(os.path.commonpath([config.project_dir.resolve(),
                                   config.script_location.resolve()]))
    root = repo_root(top)
    commit = resolve(ref, top)
    listed = [_git(["diff", "--name-only", "-z", commit, "--", str(top)], root),
              _git(["ls-files", "--others", "--exclude-standard", "-z", "--", str(top)], top)]
    return [(root if index == 0 else top) / name.decode()
            for index, out in enumerate(listed) for name in out.split(b"\0") if name]


@contextlib.contextmanager
def project_at(ref: str, config: Config) -> Iterator[Config]:
    """A Config for the project as it is at ``ref``, checked out into a temporary folder.

    The checkout holds alembic.ini's folder and the migration folder, wherever it lives.
    """
    top = Path(os.path.commonpath([config.project_dir.resolve(),
                                   config.script_location.resolve()]))
    files = files_at(ref, top)
    ini = config.ini_path.resolve().relative_to(top)
    if str(ini) not in files:
        raise BadInput(f"{ini} does not exist at {ref}; is {ref} the right base?")
    saved_path = list(sys.path)
    with tempfile.TemporaryDirectory(prefix="dbci-base-") as tmp:
        files[str(ini)] = _into_checkout(files[str(ini)], top, Path(tmp))
        for rel, data in files.items():
            target = Path(tmp) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if not _link_unchanged(top / rel, target, data):
                target.write_bytes(data)
        try:
            yield Config(ini_path=Path(tmp) / ini, settings=config.settings,
                         database_url=config.database_url)
        finally:
            sys.path[:] = saved_path  # Alembic prepends the checkout's prepend_sys_path


def load_base(config: Config, ref: str) -> History:
    """The history as it is at a git ref (its sources read before the checkout goes away)."""
    with project_at(ref, config) as base_config:
        try:
            history = load_history(base_config)
        except BadInput as exc:
            raise BadInput(f"at {ref}: {exc.message}") from exc
        for rev in history.revisions:
            rev.source  # noqa: B018 - cached now, read later
        return history
