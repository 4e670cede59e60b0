"""Config: the project's alembic.ini, its ``[tool.dbci]`` settings, the environment and flags."""

from __future__ import annotations

import argparse
import configparser
import contextlib
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig

from ci.db import masking
from ci.errors import BadInput
from ci.naming import ALEMBIC_DEFAULT_TEMPLATE, NamingScheme
from ci.settings import Settings

#: The project folders dbci put on sys.path for the env.py it ran last.
_ACTIVE_PATHS: list[str] = []
#: The folders dbci itself put on sys.path (one that was there already stays).
_ADDED_PATHS: set[str] = set()


@dataclass
class Config:
    """Everything a command needs to know about the project and where its database is."""

    ini_path: Path
    settings: Settings = field(default_factory=Settings)
    database_url: str | None = None
    database_url_source: str = "--database-url"  # or DATABASE_URL: where the URL came from
    #: What lives as long as the command (an SSM tunnel); the CLI closes it on every exit.
    resources: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False,
                                            compare=False)

    @classmethod
    def load(cls, ini_path: str | os.PathLike[str], database_url: str | None = None) -> Config:
        """Read alembic.ini and ``[tool.dbci]``; the URL falls back to ``DATABASE_URL``."""
        path = Path(os.path.normpath(Path(ini_path).absolute()))
        if path.is_dir():
            raise BadInput(f"{path}: a folder, not an alembic.ini; pass --config with the "
                           "path of the file")
        if not path.is_file():
            raise BadInput(f"{path}: no such alembic.ini; pass --config PATH")
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except (configparser.Error, UnicodeDecodeError) as exc:
            first = str(exc).splitlines()[0]
            raise BadInput(f"{path}: malformed alembic.ini ({first}); fix the file") from exc
        if not parser.has_option("alembic", "script_location"):
            raise BadInput(f"{path}: no script_location in its [alembic] section; add it")
        alembic = AlembicConfig(str(path)).file_config
        for key in alembic.options("alembic"):
            try:
                alembic.get("alembic", key)
            except configparser.Error as exc:
                first = str(exc).splitlines()[0]
                raise BadInput(f"{path}: [alembic] {key}: {first}; fix the file") from exc
        source = "--database-url" if database_url else "DATABASE_URL"
        database_url = database_url or os.environ.get("DATABASE_URL") or None
        masking.register_url(database_url)
        config = cls(
            ini_path=path,
            settings=Settings.from_pyproject(path.parent / "pyproject.toml"),
            database_url=database_url,
            database_url_source=source,
        )
        if not config.script_location.is_dir():
            raise BadInput(f"{path}: script_location {config.script_location} is not a folder")
        return config

    @property
    def project_dir(self) -> Path:
        """The folder holding alembic.ini."""
        return self.ini_path.parent

    @property
    def seed_bucket(self) -> str:
        """The S3 bucket of the rdev seeds (``[tool.dbci] seed_bucket``), which a command that
        reads or writes seeds needs."""
        return self._required("seed_bucket", self.settings.seed_bucket,
                              "the S3 bucket that holds the rdev seeds")

    @property
    def terraform_file(self) -> Path | None:
        """The Terraform file whose ``local.data_load_path`` names the rdev seed (None: the
        project keeps none)."""
        name = self.settings.terraform_file
        return None if name is None else self.project_dir / name

    def terraform_path(self) -> Path:
        """:attr:`terraform_file`, which a command that reads or bumps it needs."""
        return self.project_dir / self._required(
            "terraform_file", self.settings.terraform_file, "the Terraform file whose "
            "local.data_load_path names the rdev seed")

    def _required(self, name: str, value: str | None, what: str) -> str:
        if value is None:
            raise BadInput(f"{self.project_dir / 'pyproject.toml'}: [tool.dbci] {name} is not "
                           f"set; set it to {what}")
        return value

    @cached_property
    def naming(self) -> NamingScheme:
        """The revision and file naming scheme: ``[tool.dbci]``'s; where it sets no format and
        alembic.ini names files with a ``file_template`` of its own, Alembic's."""
        s = self.settings
        template = self.alembic().get_main_option("file_template")
        own = template and template != ALEMBIC_DEFAULT_TEMPLATE
        try:
            if own and not s.model_fields_set & {"revision_format", "file_format"}:
                return NamingScheme.from_alembic(template or "", s.number_width)
            return NamingScheme(s.revision_format, s.file_format, s.number_width)
        except ValueError as exc:
            where = self.ini_path if own else self.project_dir / "pyproject.toml"
            raise BadInput(f"{where}: {exc}") from exc

    def alembic(self, connection: sa.Connection | sa.Engine | None = None) -> AlembicConfig:
        """A fresh Alembic Config; ``connection`` goes to env.py as ``attributes["connection"]``."""
        cfg = AlembicConfig(str(self.ini_path), cmd_opts=argparse.Namespace(quiet=True))
        # Relative paths in alembic.ini mean "beside alembic.ini", wherever dbci runs from.
        cfg.set_main_option("script_location", str(self.script_location).replace("%", "%%"))
        if connection is not None:
            cfg.attributes["connection"] = connection
            url = connection.engine.url
            rendered = url.render_as_string(hide_password=False)
            cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
        return cfg

    def add_import_paths(self) -> None:
        """Put ``prepend_sys_path`` (relative to alembic.ini) on sys.path, for env.py's imports.

        Modules imported from another project's folders (the base checkout, another test
        project) are forgotten first, so ``from orm import Base`` means this project's ORM.
        """
        paths = [str((self.project_dir / e).resolve())
                 for e in self.alembic().get_prepend_sys_paths_list() or []]
        stale = [p for p in _ACTIVE_PATHS if p not in paths]
        keep = (sys.prefix + os.sep, sys.base_prefix + os.sep, str(Path(__file__).parent) + os.sep)
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None) or ""
            if any(file.startswith(p + os.sep) for p in stale) and not file.startswith(keep):
                del sys.modules[name]
        sys.path[:] = [p for p in sys.path if p not in stale or p not in _ADDED_PATHS]
        _ACTIVE_PATHS[:] = paths
        for path in reversed(paths):
            if path not in sys.path:
                sys.path.insert(0, path)
                _ADDED_PATHS.add(path)  # only what dbci put there is dbci's to take away

    @property
    def script_location(self) -> Path:
        """The migration folder (Alembic's ``script_location``)."""
        cfg = AlembicConfig(str(self.ini_path))
        path = Path(cfg.get_alembic_option("script_location") or "")
        return Path(os.path.normpath(path if path.is_absolute() else self.project_dir / path))
