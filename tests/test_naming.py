"""The naming scheme with plain values: parse, format, slugify, renumber."""

from __future__ import annotations

import re

import pytest

from ci.naming import SLUG_MAX, Name, NamingScheme, new_id, slugify

DEFAULT = NamingScheme()
SLUGS = NamingScheme("{number}_{slug}", "{revision}.py")


def test_parse_revision_of_the_default_scheme() -> None:
    assert DEFAULT.parse_revision("18_a8cd0dc08805") == Name(18, "18", "a8cd0dc08805", None)


@pytest.mark.parametrize("revision", [
    "18_A8CD0DC08805",      # uppercase hex
    "18_a8cd0dc0880",       # 11 hex digits
    "18_a8cd0dc088050",     # 13 hex digits
    "a8cd0dc08805",         # Alembic's plain id
    "18-a8cd0dc08805",
    "18_a8cd0dc08805_x",
])
def test_parse_revision_refuses_other_shapes(revision: str) -> None:
    assert DEFAULT.parse_revision(revision) is None


def test_parse_file_of_the_default_scheme() -> None:
    assert DEFAULT.parse_file("07_2e805208407e_add_published_at.py") == Name(
        7, "07", "2e805208407e", "add_published_at")


@pytest.mark.parametrize("filename", [
    "07_2e805208407e_Add_Published.py",   # uppercase slug
    "07_2e805208407e_add-published.py",   # dashes
    "07_2e805208407e_add.pyc",
    "2e805208407e_add.py",                # Alembic's default file name
])
def test_parse_file_refuses_other_shapes(filename: str) -> None:
    assert DEFAULT.parse_file(filename) is None


@pytest.mark.parametrize(("filename", "slug"), [
    ("07_2e805208407e_.py", ""),                                      # alembic merge
    ("07_2e805208407e_add_a_column_to_the_collection_table_.py",      # cut at 40 characters
     "add_a_column_to_the_collection_table_"),
])
def test_parse_file_accepts_the_names_alembic_writes(filename: str, slug: str) -> None:
    name = DEFAULT.parse_file(filename)
    assert name is not None and name.slug == slug


def test_alembic_file_templates_become_a_scheme_with_dates() -> None:
    dated = NamingScheme.from_alembic("%(year)d_%(month).2d_%(day).2d_%(hour).2d%(minute).2d"
                                      "%(second).2d_%(rev)s_%(slug)s")
    assert (dated.revision_format, dated.file_format) == (
        "{id}", "{year}_{month}_{day}_{hour}{minute}{second}_{revision}_{slug}.py")
    name = dated.parse_file("2024_01_31_120509_a8cd0dc08805_add_links.py")
    assert name is not None and (name.id, name.slug) == ("a8cd0dc08805", "add_links")
    assert dated.renumbered("a8cd0dc08805", "2024_01_31_120509_a8cd0dc08805_add_links.py", 3) == (
        "a8cd0dc08805", "2024_01_31_120509_a8cd0dc08805_add_links.py")
    with pytest.raises(ValueError, match=r"file_template token %\(branch\)s"):
        NamingScheme.from_alembic("%(branch)s_%(rev)s")


def test_parse_keeps_the_number_as_written() -> None:
    name = DEFAULT.parse_revision("7_2e805208407e")
    assert name is not None and (name.number, name.number_text) == (7, "7")


@pytest.mark.parametrize(("number", "text"), [(0, "00"), (7, "07"), (99, "99"), (100, "100"),
                                               (1234, "1234")])
def test_number_text_pads_to_two_digits_and_grows_past_99(number: int, text: str) -> None:
    assert DEFAULT.number_text(number) == text


def test_number_width_is_configurable() -> None:
    assert NamingScheme(number_width=3).number_text(5) == "005"


def test_format_and_parse_round_trip_past_99() -> None:
    revision = DEFAULT.revision(100, "0123456789ab", "add_links")
    filename = DEFAULT.filename(100, "0123456789ab", "add_links")
    assert (revision, filename) == ("100_0123456789ab", "100_0123456789ab_add_links.py")
    assert DEFAULT.parse_file(filename) == Name(100, "100", "0123456789ab", "add_links")


def test_slug_scheme_formats_and_parses_ids_without_hex() -> None:
    assert SLUGS.revision(10, "0123456789ab", "add_genetic_perturbations") == \
        "10_add_genetic_perturbations"
    assert SLUGS.filename(10, "0123456789ab", "add_genetic_perturbations") == \
        "10_add_genetic_perturbations.py"
    assert SLUGS.parse_revision("10_add_genetic_perturbations") == Name(
        10, "10", None, "add_genetic_perturbations")
    assert SLUGS.parse_file("10_add_genetic_perturbations.py") == Name(
        10, "10", None, "add_genetic_perturbations")
    assert SLUGS.parse_revision("10_2e805208407e") == Name(10, "10", None, "2e805208407e")
    assert SLUGS.parse_revision("add_genetic_perturbations") is None


def test_a_repeated_placeholder_must_repeat_its_value() -> None:
    scheme = NamingScheme("{number}_{id}", "{number}_{id}_{slug}_{number}.py")
    assert scheme.parse_file("03_0123456789ab_x_03.py") is not None
    assert scheme.parse_file("03_0123456789ab_x_04.py") is None


def test_an_unknown_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown placeholder \{hash\}"):
        NamingScheme("{number}_{hash}")


@pytest.mark.parametrize("width", [0, -1])
def test_a_width_below_one_is_refused(width: int) -> None:
    with pytest.raises(ValueError, match=f"number_width must be 1 or more, not {width}"):
        NamingScheme(number_width=width)


def test_renumbered_keeps_id_and_slug() -> None:
    assert DEFAULT.renumbered("15_122f49e45302", "15_122f49e45302_index_name.py", 16) == (
        "16_122f49e45302", "16_122f49e45302_index_name.py")
    assert DEFAULT.renumbered("99_122f49e45302", "99_122f49e45302_index_name.py", 100) == (
        "100_122f49e45302", "100_122f49e45302_index_name.py")


def test_renumbered_in_the_slug_scheme() -> None:
    assert SLUGS.renumbered("10_add_genetic_perturbations", "10_add_genetic_perturbations.py",
                            11) == ("11_add_genetic_perturbations",
                                    "11_add_genetic_perturbations.py")


def test_renumbered_takes_the_id_from_the_file_when_the_revision_has_none() -> None:
    revision, filename = DEFAULT.renumbered("legacy", "03_0123456789ab_fix.py", 4)
    assert (revision, filename) == ("04_0123456789ab", "04_0123456789ab_fix.py")


def test_renumbered_invents_an_id_when_neither_name_has_one() -> None:
    revision, filename = DEFAULT.renumbered("legacy", "legacy.py", 4)
    name = DEFAULT.parse_file(filename)
    assert name is not None and name.number == 4 and revision == f"04_{name.id}"


@pytest.mark.parametrize(("message", "slug"), [
    ("Add links to datasets!", "add_links_to_datasets"),
    ("  add   links  ", "add_links"),
    ("add-links/to.datasets", "add_links_to_datasets"),
    ("Ünïcödé café", "unicode_cafe"),
    ("v2 index", "v2_index"),
    ("!!!", ""),
    ("ß 日本", ""),
    ("", ""),
])
def test_slugify(message: str, slug: str) -> None:
    assert slugify(message) == slug


def test_slugify_keeps_whole_words_within_the_limit() -> None:
    slug = slugify("word " * 20)
    assert slug == "_".join(["word"] * 8) and len(slug) <= SLUG_MAX


def test_slugify_cuts_one_long_word() -> None:
    assert slugify("a" * 50) == "a" * SLUG_MAX


def test_slugs_match_the_scheme() -> None:
    slug = slugify("Add links to datasets, and a GIN index (v2)!")
    assert DEFAULT.parse_file(DEFAULT.filename(1, new_id(), slug)) is not None


def test_new_id_is_twelve_lowercase_hex_digits_and_random() -> None:
    ids = {new_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[0-9a-f]{12}", i) for i in ids)
