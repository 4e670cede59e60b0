"""The plan of ``dbci init``, as data: the ``[tool.dbci]`` settings that make lint pass on the
history and why, env.py's verdict (and its patch), and every file init writes with its content
and whether that changes anything. Nothing here writes or prints."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ci.config import Config
from ci.env_code import EnvVerdict, judge, metadata_modules, project_module
from ci.errors import BadInput
from ci.findings import display_path
from ci.init.pyproject import merge
from ci.init.render import render, template
from ci.init.scheme import Proven, prove
from ci.naming import slugify
from ci.settings import Settings

#: A path init writes into a workflow or the Makefile include as it is.
SAFE_PATH = re.compile(r"[\w.@+-]+(/[\w.@+-]+)*")
#: The Makefile include init writes beside alembic.ini.
INCLUDE = "dbci.mk"

State = Literal["new", "unchanged", "changed", "differs"]


@dataclass(frozen=True)
class Wanted:
    """What ``dbci init`` was asked for: its flags (None: not given)."""

    stages: tuple[str, ...] | None = None
    action_ref: str | None = None
    orm: Path | None = None


@dataclass(frozen=True)
class FileChange:
    """A file init writes: its path, the text init would write, the text it has (None: no such
    file) and, for pyproject.toml, the values there that init would replace."""

    path: Path
    text: str
    before: str | None
    replaced: tuple[str, ...] = ()
    merged: bool = False  # init merges into the project's own file (pyproject.toml)

    @property
    def state(self) -> State:
        """``new``; ``unchanged``; ``changed`` (keys added to the project's pyproject.toml);
        ``differs``: init would replace what is there, which needs ``--force``."""
        if self.before is None:
            return "new"
        if self.before == self.text:
            return "unchanged"
        return "changed" if self.merged and not self.replaced else "differs"


@dataclass(frozen=True)
class Adoption:
    """Everything ``dbci init`` found and would write."""

    root: Path  # the repository's root (where .github/ is), else alembic.ini's folder
    settings: Proven
    env_file: Path
    env: EnvVerdict
    include: str  # the line that adds the Makefile include to the Makefile at the root
    files: list[FileChange] = field(default_factory=list)


def relative(path: Path, root: Path) -> str:
    """``path`` below ``root``, as workflows and patches name it (``/`` between parts)."""
    return path.relative_to(root).as_posix() or "."


def repository_root(folder: Path) -> Path:
    """The git work tree holding ``folder`` (its ``.git``), else ``folder`` itself."""
    for parent in (folder, *folder.parents):
        if (parent / ".git").exists():
            return parent
    return folder


def plan(config: Config, wanted: Wanted) -> Adoption:
    """What ``dbci init`` would do in the project of ``config``."""
    root = repository_root(config.project_dir)
    pyproject = config.project_dir / "pyproject.toml"
    before = pyproject.read_text() if pyproject.is_file() else None
    table = tomllib.loads(before or "").get("tool", {}).get("dbci", {})
    proven = prove(config, table, pyproject)
    try:
        merged = merge(before or "", {**proven.keys, **_workflow_keys(config, wanted)})
    except ValueError as exc:
        raise BadInput(f"{display_path(pyproject)}: {exc}; fix the file") from exc
    settings = Settings.from_table(tomllib.loads(merged.text)["tool"]["dbci"], pyproject)
    env_file = config.script_location / "env.py"
    include = config.project_dir / INCLUDE
    files = [FileChange(pyproject, merged.text, before, tuple(merged.replaced), merged=True),
             _written(include, render(template(INCLUDE), _make_values(config, settings, root)))]
    return Adoption(root, proven, env_file, _env_verdict(env_file, root),
                    f"include {relative(include, root)}", files)


def _written(path: Path, text: str) -> FileChange:
    return FileChange(path, text, path.read_text() if path.is_file() else None)


def _workflow_keys(config: Config, wanted: Wanted) -> dict[str, Any]:
    """The ``[tool.dbci]`` values of init's flags that the settings do not hold yet: stages
    unknown to them, and ``[tool.dbci.workflows]``."""
    held = config.settings.workflows
    keys: dict[str, Any] = {}
    if wanted.stages is not None and wanted.stages != held.stages:
        unknown: dict[str, Any] = {s: {} for s in wanted.stages if s not in config.settings.stages}
        keys.update({"stages": unknown} if unknown else {})
        keys["workflows"] = {"stages": wanted.stages}
    if wanted.action_ref is not None and wanted.action_ref != held.action_ref:
        keys.setdefault("workflows", {})["action_ref"] = wanted.action_ref
    if wanted.orm is not None:
        orm = _safe(wanted.orm.absolute(), config.project_dir, "--orm")
        if orm != held.orm:
            keys.setdefault("workflows", {})["orm"] = orm
    return keys


def _safe(path: Path, root: Path, given: str) -> str:
    """``path`` relative to ``root``, checked to be there and plain enough to write as it is."""
    if not path.exists():
        raise BadInput(f"{given} {display_path(path)}: no such folder or file")
    try:
        shown = relative(path.resolve(), root.resolve())
    except ValueError:
        raise BadInput(f"{given} {display_path(path)}: not below {display_path(root)}, the "
                       "repository dbci init writes the workflows of") from None
    if not SAFE_PATH.fullmatch(shown) and shown != ".":
        raise BadInput(f"{given} {shown}: dbci init writes paths into workflows and the "
                       "Makefile include as they are; letters, digits and ._@+- only")
    return shown


def _env_verdict(env_file: Path, root: Path) -> EnvVerdict:
    shown = display_path(env_file)
    if not env_file.is_file():
        raise BadInput(f"{shown}: no env.py in the migration folder; dbci runs the project's "
                       "env.py (`alembic init` writes one)")
    try:
        return judge(env_file.read_text(), relative(env_file, root))
    except SyntaxError as exc:
        raise BadInput(f"{shown}:{exc.lineno}: syntax error ({exc.msg}); fix the file") from exc


def orm_paths(config: Config, settings: Settings, root: Path) -> list[str]:
    """The ORM's folders (or files), relative to ``root``: ``[tool.dbci.workflows] orm``, else
    the project's own modules env.py takes ``target_metadata`` from."""
    if settings.workflows.orm is not None:
        return [_safe(config.project_dir / settings.workflows.orm, root, "[tool.dbci.workflows] "
                      "orm")]
    env_file = config.script_location / "env.py"
    search = [(config.project_dir / p).resolve()
              for p in config.alembic().get_prepend_sys_paths_list() or []]
    found = [project_module(m, [*search, config.project_dir])
             for m in metadata_modules(env_file.read_text())]
    paths = [_safe(p, root, "the ORM") for p in found if p is not None]
    if not paths:
        raise BadInput(f"{display_path(env_file)}: dbci init cannot tell the ORM's folder from "
                       "the modules env.py imports target_metadata from; pass --orm PATH")
    return list(dict.fromkeys(paths))


def _make_values(config: Config, settings: Settings, root: Path) -> Mapping[str, str]:
    """The values of ``dbci.mk``."""
    seedable = [name for name, stage in settings.stages.items() if stage.seedable]
    return {"include": relative(config.project_dir / INCLUDE, root),
            "ini": config.ini_path.name,
            "local_db": f"{slugify(root.name) or 'dbci'}_local",
            "stages": ", ".join(settings.stages),
            "seed_stage": (seedable or ["rdev"])[0]}
