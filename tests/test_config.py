"""Config: alembic.ini, ``[tool.dbci]`` and the environment, with their defaults and errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import copy_project, set_dbci

from ci import squawk_cli as squawk
from ci.config import Config
from ci.errors import EXIT_BAD_INPUT, BadInput, OutsideFailure
from ci.naming import NamingScheme
from ci.settings import DEFAULT_SQUAWK_EXCLUDE, Settings


def test_the_reference_project_sets_only_its_own_places(project: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = Config.load("alembic.ini")
    assert config.ini_path == project / "alembic.ini"
    assert config.project_dir == project
    assert config.script_location == project / "database"
    assert config.settings.model_fields_set == {"secret_name", "seed_bucket", "seed_prefix",
                                                "terraform_file"}
    assert config.seed_bucket == "env-rdev-dataportal"
    assert config.terraform_file == project / ".happy/terraform/modules/ecs-stack/main.tf"
    assert config.naming == NamingScheme()
    assert config.database_url is None


def test_database_url_comes_from_the_flag_else_the_environment(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://env/db")
    assert Config.load("alembic.ini").database_url == "postgresql://env/db"
    assert Config.load("alembic.ini", "postgresql://flag/db").database_url == "postgresql://flag/db"


def test_a_relative_script_location_means_beside_alembic_ini(project: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("%(here)s/database", "database"))
    monkeypatch.chdir(tmp_path)
    config = Config.load(ini)
    assert config.script_location == project / "database"
    assert Path(config.alembic().get_main_option("script_location") or "") == project / "database"


def test_settings_are_read_from_tool_dbci(project: Path) -> None:
    set_dbci(project, 'revision_format = "{number}_{slug}"', 'file-format = "{revision}.py"',
             "number_width = 3", 'squawk_exclude = ["require-timeout-settings"]')
    settings = Config.load("alembic.ini").settings
    assert settings.revision_format == "{number}_{slug}"
    assert settings.file_format == "{revision}.py"
    assert settings.number_width == 3
    assert settings.squawk_exclude == ("require-timeout-settings",)
    assert settings.first_revision is None


def test_no_pyproject_means_defaults(project: Path) -> None:
    (project / "pyproject.toml").unlink()
    settings = Config.load("alembic.ini").settings
    assert settings == Settings() and settings.squawk_exclude == DEFAULT_SQUAWK_EXCLUDE


def test_no_organisation_is_built_in(project: Path) -> None:
    """The seeds' bucket and the Terraform file are a team's own: unset, the commands that need
    them name the setting; the PR check's seed step has nothing to check."""
    (project / "pyproject.toml").write_text("[tool.dbci]\n")
    config = Config.load(project / "alembic.ini")
    assert config.settings.seed_bucket is None and config.settings.seed_prefix == ""
    assert config.terraform_file is None
    for needed, setting in ((lambda: config.seed_bucket, "seed_bucket"),
                            (config.terraform_path, "terraform_file")):
        with pytest.raises(BadInput, match=rf"\[tool.dbci\] {setting} is not set; set it to"):
            needed()


def test_a_missing_alembic_ini(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="alembic.ini: no such alembic.ini; pass --config") as info:
        Config.load(tmp_path / "alembic.ini")
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_a_folder_is_not_an_alembic_ini(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="a folder, not an alembic.ini"):
        Config.load(tmp_path)


@pytest.mark.parametrize("text", [
    "script_location = database\n",                  # no section
    "[alembic]\nscript_location = a\n[alembic]\n",   # a section twice
    "[alembic\nscript_location = a\n",
])
def test_a_malformed_alembic_ini(project: Path, text: str) -> None:
    (project / "alembic.ini").write_text(text)
    with pytest.raises(BadInput, match="alembic.ini: malformed alembic.ini"):
        Config.load("alembic.ini")


def test_alembic_ini_without_script_location(project: Path) -> None:
    (project / "alembic.ini").write_text("[alembic]\nprepend_sys_path = .\n")
    with pytest.raises(BadInput, match=r"alembic.ini: no script_location in its \[alembic\]"):
        Config.load("alembic.ini")


def test_script_location_that_is_not_a_folder(project: Path) -> None:
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("%(here)s/database", "%(here)s/missing"))
    with pytest.raises(BadInput, match="script_location .*missing is not a folder"):
        Config.load(ini)


def test_invalid_toml(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.dbci\n")
    with pytest.raises(BadInput, match="pyproject.toml: not valid TOML"):
        Config.load("alembic.ini")


def test_an_unknown_setting(project: Path) -> None:
    set_dbci(project, "colour = 1")
    with pytest.raises(BadInput, match=r"unknown setting 'colour' in \[tool.dbci\]; known: "):
        Config.load("alembic.ini")


@pytest.mark.parametrize(("line", "says"), [
    ('revision_format = "{number}_{hash}"', r"revision_format = '\{number\}_\{hash\}': unknown "
     r"placeholder \{hash\}; use \{number\}, \{id\}, \{slug\}"),
    ('revision_format = "{number.real}"', r"unknown placeholder \{number.real\}"),
    ('revision_format = "{number:03d}_{id}"', r"unknown placeholder \{number:03d\}"),
    ('revision_format = "{number_{id}"', r"malformed format \(unexpected '\{' in field name\)"),
    ('revision_format = "static"', r"needs a placeholder"),
    ('file_format = "{revision}_{slug}"', r"file_format = .*: must end with .py"),
    ('file_format = "{number}_{slug}.py"', r"file_format = .* must carry the revision id: use "
     r"\{revision\}, or every placeholder of revision_format \(\{number\}, \{id\}\)"),
    ("number_width = 0", r"number_width = 0: must be between 1 and 9"),
    ("number_width = 100000000", r"number_width = 100000000: must be between 1 and 9"),
    ('squawk_pg_version = "banana"', r"squawk_pg_version = 'banana': is not a PostgreSQL "
     r"version such as '15' or '13.0'"),
    ("roundtrip_workers = 3", r"roundtrip_workers = 3: must be 1 or 2"),
], ids=["unknown", "attribute", "spec", "malformed", "no-placeholder", "not-py",
        "no-revision", "width-0", "width-huge", "pg-version", "workers"])
def test_settings_that_would_misbehave_are_refused_when_loaded(project: Path, line: str,
                                                               says: str) -> None:
    set_dbci(project, line)
    with pytest.raises(BadInput, match=r"pyproject.toml: \[tool.dbci\] " + f".*{says}"):
        Config.load("alembic.ini")


def test_reading_squawk_settings_runs_no_squawk(project: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings squawk would refuse load as they are, with no squawk anywhere to ask: squawk
    judges them where it runs (``tests/checks/test_squawk.py``)."""
    nowhere = tmp_path / "no-squawk"
    nowhere.mkdir()
    monkeypatch.setattr(sys, "executable", str(nowhere / "python"))  # no squawk beside it
    monkeypatch.setenv("PATH", str(nowhere))
    with pytest.raises(OutsideFailure, match="squawk is not installed"):
        squawk.binary()  # the premise: a run of squawk would fail
    set_dbci(project, 'squawk_exclude = ["no-such-squawk-rule"]', 'squawk_pg_version = "99"')
    settings = Config.load("alembic.ini").settings
    assert settings.squawk_exclude == ("no-such-squawk-rule",)
    assert settings.squawk_pg_version == "99"


def test_squawk_settings_it_accepts_are_kept(project: Path) -> None:
    set_dbci(project, 'squawk_exclude = ["require-concurrent-index-creation"]',
             'squawk_pg_version = "13.0"')
    settings = Config.load("alembic.ini").settings
    assert settings.squawk_exclude == ("require-concurrent-index-creation",)
    assert settings.squawk_pg_version == "13.0"


@pytest.mark.parametrize(("line", "kind"), [
    ("revision_format = 5", "string"),
    ('file_format = ["{revision}.py"]', "string"),
    ("number_width = true", "whole number"),
    ('number_width = "2"', "whole number"),
    ('squawk_exclude = "require-timeout"', "list of strings"),
    ("first_revision = 3", "string"),
])
def test_a_setting_of_the_wrong_kind_is_refused(project: Path, line: str, kind: str) -> None:
    set_dbci(project, line)
    with pytest.raises(BadInput, match=f"pyproject.toml: \\[tool.dbci\\] {line.split()[0]} = "
                                       f".* is not a {kind}"):
        Config.load("alembic.ini")


def test_a_folder_already_on_sys_path_stays_when_another_project_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dbci takes away only the folders it put on sys.path: running on the repository, whose
    folder the test runner had put there, then on another project, left the repository's
    modules unimportable."""
    first, second = copy_project(tmp_path / "one"), copy_project(tmp_path / "two")
    monkeypatch.setattr(sys, "path", [str(first.resolve()), *sys.path])
    Config.load(first / "alembic.ini").add_import_paths()
    Config.load(second / "alembic.ini").add_import_paths()
    assert str(first.resolve()) in sys.path and str(second.resolve()) in sys.path
    Config.load(first / "alembic.ini").add_import_paths()
    assert str(second.resolve()) not in sys.path  # dbci's own: taken away again
