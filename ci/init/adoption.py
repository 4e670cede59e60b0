"""The plan of ``dbci init``, as data: the ``[tool.dbci]`` settings that make lint pass on the
history and why, env.py's verdict (and its patch), and every file init writes with its content
and whether that changes anything. Nothing here writes or prints."""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import subprocess
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from ci.about import ACTION, REPOSITORY
from ci.config import Config
from ci.env_code import EnvVerdict, judge, metadata_modules, project_module
from ci.errors import BadInput
from ci.findings import display_path
from ci.init.pyproject import merge
from ci.init.render import render, template
from ci.init.scheme import Proven, prove
from ci.naming import slugify
from ci.settings import COMMIT_SHA, Settings

#: A path init writes into a workflow or the Makefile include as it is: a YAML plain scalar and
#: a shell word that is no command-line option (no part starts with ``@`` or ``-``).
SAFE_PATH = re.compile(r"[\w.][\w.@+-]*(/[\w.][\w.@+-]*)*")
#: The alembic.ini dbci's action and commands read when they are not told another.
DEFAULT_INI = "alembic.ini"
#: The Makefile include init writes beside alembic.ini.
INCLUDE = "dbci.mk"
#: The patch that makes env.py run on dbci's connection, written beside alembic.ini: a file,
#: never printed, so that output masking (a URL's password) cannot change a line of it.
ENV_PATCH = "dbci-env.patch"
#: The names of ``requirements/<name>.txt`` that init takes for the app's own (when exactly one
#: is there): not those of tests, linters or docs.
APP_REQUIREMENTS = ("prod", "production", "main", "base", "app", "common", "requirements")
#: The workflows init writes (rdev-seed.yml only for a project with rdev seeds).
WORKFLOWS = ("pr-checks.yml", "migrate.yml", "deploy-migrations.yml", "migrate-manual.yml",
             "schema-drift.yml", "rdev-seed.yml")

State = Literal["new", "unchanged", "changed", "differs"]
#: A GitHub job id, as deploy-migrations.yml's job of each deployed stage is named (GitHub
#: tells ids apart ignoring case).
JOB_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
#: A job of a workflow template: its id, indented two spaces under ``jobs:``.
TEMPLATE_JOB = re.compile(r"^  ([A-Za-z_][\w-]*):$", re.MULTILINE)


@dataclass(frozen=True)
class Wanted:
    """What ``dbci init`` was asked for: its flags (None: not given)."""

    stages: tuple[str, ...] | None = None
    action_ref: str | None = None
    orm: Path | None = None
    requirements: tuple[str, ...] | None = None


@dataclass(frozen=True)
class FileChange:
    """A file init writes: its path, the text init would write, the text it has (None: no such
    file) and, for pyproject.toml, the values there that init would replace."""

    path: Path
    text: str
    before: str | None
    replaced: tuple[str, ...] = ()
    merged: bool = False  # init merges into the project's own file (pyproject.toml)
    ours: bool = False  # init's own output, made anew on each run (env.py's patch)

    @property
    def state(self) -> State:
        """``new``; ``unchanged``; ``changed`` (keys added to the project's pyproject.toml, or
        env.py's patch made anew); ``differs``: init would replace what is there, which needs
        ``--force``."""
        if self.before is None:
            return "new"
        if self.before == self.text:
            return "unchanged"
        return "changed" if self.ours or (self.merged and not self.replaced) else "differs"


@dataclass(frozen=True)
class Adoption:
    """Everything ``dbci init`` found and would write."""

    root: Path  # the repository's root (where .github/ is), else alembic.ini's folder
    settings: Proven
    env_file: Path
    env: EnvVerdict
    include: str  # the line that adds the Makefile include to the Makefile at the root
    patch_file: Path | None  # where env.py's patch goes (None: env.py needs none, or dbci
    # cannot write it)
    files: list[FileChange] = field(default_factory=list)

    @property
    def apply(self) -> str | None:
        """The command that applies env.py's patch, from the working directory: ``git apply``
        at the repository's root (the patch names its paths from there)."""
        if self.patch_file is None:
            return None
        here = Path.cwd()
        at = os.path.relpath(self.root, here) if here.is_relative_to(self.root) else \
            display_path(self.root)
        git = "git apply" if at == "." else f"git -C {shlex.quote(at)} apply"
        return f"{git} {shlex.quote(relative(self.patch_file, self.root))}"


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
        merged = merge(before or "", {**proven.keys, **_workflow_keys(config, wanted, root)})
    except ValueError as exc:
        raise BadInput(f"{display_path(pyproject)}: {exc}; fix the file") from exc
    settings = Settings.from_table(tomllib.loads(merged.text)["tool"]["dbci"], pyproject)
    env_file = config.script_location / "env.py"
    include = config.project_dir / INCLUDE
    values = _workflow_values(config, settings, root)
    env = _env_verdict(env_file, root)
    patch_file = config.project_dir / ENV_PATCH if env.patch else None
    files = [FileChange(pyproject, merged.text, before, tuple(merged.replaced), merged=True),
             *(_written(root / ".github" / "workflows" / name,
                        render(template(f"workflows/{name}"), values))
               for name in WORKFLOWS if name != WORKFLOWS[-1] or config.terraform_file),
             _written(include, render(template(INCLUDE), _make_values(config, settings, root))),
             *([FileChange(patch_file, env.patch, _text(patch_file), ours=True)]
               if patch_file and env.patch else [])]
    for change in files:
        _check_target(change.path, root)
    return Adoption(root, proven, env_file, env, f"include {relative(include, root)}",
                    patch_file, files)


def _check_target(path: Path, root: Path) -> None:
    """Refuse to write ``path`` (below ``root``) through a symlink, which could land outside the
    repository, or where a file stands in for one of its folders, or a folder for it."""
    here = root
    for part in path.relative_to(root).parts:
        here = here / part
        if here.is_symlink():
            raise BadInput(f"{display_path(here)}: a symlink, which could lead out of the "
                           "repository; dbci init writes no file through one (here "
                           f"{relative(path, root)})")
        kind = "a file" if here == path else "a folder"
        if here.exists() and here.is_dir() == (here == path):
            raise BadInput(f"{display_path(here)}: not {kind}; dbci init writes "
                           f"{relative(path, root)} there")


def _written(path: Path, text: str) -> FileChange:
    return FileChange(path, text, _text(path))


def _text(path: Path) -> str | None:
    """A file's text as it is, its line ends too (None: no such file)."""
    return path.read_bytes().decode(errors="replace") if path.is_file() else None


def _workflow_keys(config: Config, wanted: Wanted, root: Path) -> dict[str, Any]:
    """The ``[tool.dbci]`` values of init's flags that the settings do not hold yet: stages
    unknown to them, and ``[tool.dbci.workflows]`` (``orm``: anywhere in the repository at
    ``root``, relative to alembic.ini's folder)."""
    held = config.settings.workflows
    keys: dict[str, Any] = {}
    if wanted.stages is not None and wanted.stages != held.stages:
        unknown: dict[str, Any] = {s: {} for s in wanted.stages if s not in config.settings.stages}
        keys.update({"stages": unknown} if unknown else {})
        keys["workflows"] = {"stages": wanted.stages}
    action_ref = wanted.action_ref or (None if held.action_ref else installed_commit())
    if action_ref is not None and action_ref != held.action_ref:
        keys.setdefault("workflows", {})["action_ref"] = action_ref
    if wanted.orm is not None:
        orm = posixpath.relpath(_safe(wanted.orm.absolute(), root, "--orm"),
                                relative(config.project_dir, root))
        if orm != held.orm:
            keys.setdefault("workflows", {})["orm"] = orm
    if wanted.requirements is not None and wanted.requirements != held.requirements:
        keys.setdefault("workflows", {})["requirements"] = wanted.requirements
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
                       "Makefile include as they are; letters, digits and ._@+- only, no part "
                       "starting with @ or -")
    return shown


def _env_verdict(env_file: Path, root: Path) -> EnvVerdict:
    shown = display_path(env_file)
    if not env_file.is_file():
        raise BadInput(f"{shown}: no env.py in the migration folder; dbci runs the project's "
                       "env.py (`alembic init` writes one)")
    try:
        return judge(_text(env_file) or "", relative(env_file, root))
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


def requirements(config: Config, settings: Settings, root: Path) -> dict[str, bool]:
    """The project's requirements the workflows install after dbci, each relative to
    alembic.ini's folder and whether it is a folder pip installs as a project (else a
    requirements file): ``[tool.dbci.workflows] requirements``, else what init finds there,
    conservatively: ``requirements.txt``, else the one ``requirements/<name>.txt`` named as the
    app's, and ``.`` when pyproject.toml's ``[project]`` has dependencies and a
    ``[build-system]`` builds it."""
    given = settings.workflows.requirements
    found = list(given) if given is not None else _found_requirements(config)
    key = "[tool.dbci.workflows] requirements" if given is not None else "the requirements"
    out = {}
    for entry in found:
        path = config.project_dir / entry
        _safe(path, root, key)  # there, in the repository
        shown = posixpath.normpath(entry)
        if not (SAFE_PATH.fullmatch(shown) or shown == ".") or shown.startswith("-"):
            raise BadInput(f"{key} {entry!r}: dbci init writes it into workflows as it is; "
                           "letters, digits and ._@+- only, no part starting with @ or -")
        out[shown] = path.is_dir()
    return out


def _found_requirements(config: Config) -> list[str]:
    here = config.project_dir
    files = (["requirements.txt"] if (here / "requirements.txt").is_file() else
             [f"requirements/{name}.txt" for name in APP_REQUIREMENTS
              if (here / "requirements" / f"{name}.txt").is_file()])
    pyproject = here / "pyproject.toml"
    try:
        table = tomllib.loads(pyproject.read_text()) if pyproject.is_file() else {}
    except tomllib.TOMLDecodeError:
        table = {}  # merging into it says what is wrong
    project = table.get("project", {})
    itself = "build-system" in table and (bool(project.get("dependencies"))
                                          or "dependencies" in project.get("dynamic", []))
    return [*(files if len(files) == 1 else []), *(["."] if itself else [])]


def installed_commit() -> str | None:
    """The commit this dbci was installed from: pip's record of a git install, else the git
    checkout a local folder's install (``dir_info``: ``pip install -e .``) runs from; None for
    any other install (a wheel or sdist file, an index)."""
    try:
        record = json.loads(metadata.distribution("dbci").read_text("direct_url.json") or "{}")
    except metadata.PackageNotFoundError:
        return None
    commit = record.get("vcs_info", {}).get("commit_id")
    url = urllib.parse.urlparse(record.get("url", ""))
    if commit is None and "dir_info" in record and url.scheme == "file":
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=urllib.parse.unquote(url.path), check=False)
        commit = done.stdout.strip() if done.returncode == 0 else None
    return commit if commit and re.fullmatch(COMMIT_SHA, commit) else None


def workflow_values(settings: Settings, *, action: str, pip_install: str, folders: list[str],
                    files: list[str], folder: str = ".", ini: str = DEFAULT_INI,
                    requirements: Mapping[str, bool] | None = None, aws_region: str = "",
                    own: bool = False) -> dict[str, Any]:
    """The values of the workflows' templates: the action's reference and how a job without it
    installs dbci, the folders and files whose change the PR check looks at (the migrations
    first), the project's folder and its alembic.ini there (dbci runs in that folder), the
    project's requirements (from that folder, each True for a folder to install as a project),
    the stages, the AWS region when the repository's variable AWS_REGION is unset (none: the
    variable must be set); ``own`` for dbci's own repository (its tests job). Paths are from the
    repository's root."""
    requirements = requirements or {}
    deployed = list(settings.workflows.stages)
    # The stages a manual migration offers: those deployed; dbci's own repository offers the
    # reference project's test and rdev too.
    offered = [*deployed, *(s for s in settings.stages if s not in deployed)] if own \
        else deployed
    # The action's inputs where they are not its defaults.
    inputs = {**({"working-directory": folder} if folder != "." else {}),
              **({"config": ini} if ini != DEFAULT_INI else {})}
    return {"own": own, "action": action, "pip_install": pip_install,
            "folder": "" if folder == "." else folder,
            "pyproject": posixpath.normpath(f"{folder}/pyproject.toml"),
            "dbci": "dbci" if ini == DEFAULT_INI else f"dbci --config {ini}",
            "action_inputs": [{"input": name, "value": value} for name, value in inputs.items()],
            "watched": " ".join([*folders, *files]),
            "watched_folders": ", ".join(f"{f}/" for f in folders), "migrations": folders[0],
            "stages_and": _listed(deployed, "and"), "stage_list": ", ".join(deployed),
            "last_stage": deployed[-1], "offered": ", ".join(offered),
            "offered_or": _listed(offered, "or"), "seed_stage": _seed_stage(settings),
            "aws_region": aws_region, "requirements": bool(requirements),
            "requirement_files": [{"file": entry} for entry in requirements],
            "pip_requirements": " ".join(
                (entry if entry == "." else f"./{entry}") if is_folder else f"-r {entry}"
                for entry, is_folder in requirements.items()),
            "deploys": [{"stage": stage, "needs": needs}
                        for stage, needs in zip(deployed, ["lint", *deployed], strict=False)]}


def deploy_jobs_problem(stages: tuple[str, ...]) -> str | None:
    """Why ``stages`` cannot each be a job of deploy-migrations.yml beside its own jobs (lint);
    None when they can."""
    jobs = template("workflows/deploy-migrations.yml").split("\njobs:\n", 1)[1]
    taken = {job.lower(): f"the workflow's own job {job!r}"
             for job in TEMPLATE_JOB.findall(jobs)}
    for name in stages:
        if not JOB_ID.fullmatch(name):
            return (f"stage {name!r} cannot name its job in deploy-migrations.yml (a GitHub job "
                    "id: a letter or _ first, then letters, digits, _ and -)")
        if name.lower() in taken:
            return (f"stage {name!r} would be the same job in deploy-migrations.yml as "
                    f"{taken[name.lower()]} (GitHub's job ids ignore case)")
        taken[name.lower()] = f"stage {name!r}"
    return None


def _seed_stage(settings: Settings) -> str:
    """The stage an rdev seed is loaded on: the first one marked seedable (rdev by default)."""
    return next((name for name, stage in settings.stages.items() if stage.seedable), "rdev")


def _listed(names: list[str], last: str) -> str:
    return f"{', '.join(names[:-1])} {last} {names[-1]}" if len(names) > 1 else names[0]


def _workflow_values(config: Config, settings: Settings, root: Path) -> dict[str, Any]:
    """The workflows' values for this project: dbci's action at ``action_ref``, its paths."""
    ref = settings.workflows.action_ref
    problem = deploy_jobs_problem(settings.workflows.stages)
    if problem:
        raise BadInput(f"{display_path(config.project_dir / 'pyproject.toml')}: "
                       f"[tool.dbci.workflows] stages: {problem}")
    if ref is None:
        raise BadInput(f"the workflows dbci init writes use {ACTION}'s action pinned to a "
                       "commit, and this dbci was not installed from one: pass --action-ref "
                       f"SHA (a full commit of {REPOSITORY})")
    folder = _safe(config.project_dir, root, "alembic.ini's folder")
    ini = _safe(config.ini_path, config.project_dir, "alembic.ini")
    terraform = settings.terraform_file
    needs = requirements(config, settings, root)
    return workflow_values(
        settings, action=f"{ACTION}@{ref}",
        pip_install=f'python -m pip install "dbci @ git+{REPOSITORY}@{ref}"',
        folders=[_safe(config.script_location, root, "script_location"),
                 *orm_paths(config, settings, root)],
        files=[relative(config.ini_path, root),
               relative(config.project_dir / "pyproject.toml", root),
               *([_safe(config.project_dir / terraform, root, "terraform_file")]
                 if terraform else []),
               *(relative((config.project_dir / f).resolve(), root.resolve())
                 for f, is_folder in needs.items() if not is_folder)],
        folder=folder, ini=ini, requirements=needs)


def _make_values(config: Config, settings: Settings, root: Path) -> Mapping[str, str]:
    """The values of ``dbci.mk``."""
    return {"include": relative(config.project_dir / INCLUDE, root),
            "ini": config.ini_path.name,
            "local_db": f"{slugify(root.name) or 'dbci'}_local",
            "stages": ", ".join(settings.workflows.stages),
            "seed_stage": _seed_stage(settings)}
