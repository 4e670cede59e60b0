"""One masking path for every URL and secret shape: passwords with ``@ : / ? # %`` unencoded,
URLs without a password, texts that are no URL at all."""

from __future__ import annotations

import pytest

from ci.db import masking


@pytest.fixture(autouse=True)
def scope() -> object:
    with masking.scope():
        yield


@pytest.mark.parametrize("url", [
    "postgresql://app:P@ss:w/rd?#x9@db.example/app",
    "app:P@ss:w/rd?#x9@db.example",
    "postgresql://app:P@ss:w/rd?#x9@db.example:5432/app?sslmode=require"])
def test_a_password_with_unencoded_characters_is_masked_whole(url: str) -> None:
    masking.register_url(url)
    shown = masking.mask(f"cannot reach {url}: refused; again: {url}")
    for piece in ("P@ss", "ss:w", "w/rd", "rd?#", "#x9"):
        assert piece not in shown, shown


def test_a_text_that_is_no_url_is_masked_whole() -> None:
    masking.register_url("not a url S3cretPW")
    assert masking.mask("given: not a url S3cretPW.") == "given: ***."


@pytest.mark.parametrize("url", [
    "postgresql+psycopg2://postgres@/postgres?host=/tmp/dbci-socket",
    "postgresql://app@db.example:5432/app", "postgresql+psycopg2://db.example/app"])
def test_a_url_without_a_password_registers_nothing(url: str) -> None:
    before = list(masking._REGISTERED)
    masking.register_url(url)
    assert before == masking._REGISTERED
    assert masking.mask(url) == url


def test_a_percent_encoded_password_is_known_in_both_forms() -> None:
    masking.register_url("postgresql://app:Zq7%23Sec%3Aret%40Sau%3Fce%2F9x%2541@db/app")
    for form in ("Zq7#Sec:ret@Sau?ce/9x%41", "Zq7%23Sec%3Aret%40Sau%3Fce%2F9x%2541"):
        assert masking.mask(f"<{form}>") == "<***>"
