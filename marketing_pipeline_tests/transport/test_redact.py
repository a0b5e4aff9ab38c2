"""Redaction: every form a secret takes, URL credentials whether or not we know them, and the secrets the
environment configures."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from marketing_pipeline.transport.redact import RedactingFilter, redact, redact_url, redact_urls, scrub, url_secrets

KEY = "eyJhbGciOiJIUzI1NiJ9.sekrit-VALUE_42"


@pytest.mark.parametrize(
    "shown",
    [
        KEY,
        repr(KEY + "\n"),  # an exception quoting a header value with the pasted newline
        json.dumps(KEY + "\r\n"),
        f"b'{KEY}\\n'",
        "eyJhbGciOiJIUzI1NiJ9.sekrit%2DVALUE_42".replace("%2D", "-"),
    ],
)
def test_every_form_of_a_secret_is_hidden(shown: str) -> None:
    text = f"Invalid header value {shown} in X-Encharge-Token"
    assert "sekrit" not in redact(text, [KEY + "\n"])


def test_a_secret_split_by_a_control_character_is_hidden_piece_by_piece() -> None:
    secret = "first-half-of-it\nsecond-half-of-it"
    assert redact("a: first-half-of-it / b: second-half-of-it", [secret]) == "a: *** / b: ***"


def test_short_values_are_not_treated_as_secrets() -> None:
    assert redact("abc ab", ["ab", "", "abc"]) == "abc ab"


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://u:pw-sekrit@db/app", "postgresql://u:***@db/app"),
        ("postgresql://u@db/app?password=sekrit&sslmode=require", "postgresql://u@db/app?password=***&sslmode=require"),
        ("postgresql://u@db/app?sslmode=require&PASSWORD=sekrit", "postgresql://u@db/app?sslmode=require&PASSWORD=***"),
        ("postgresql://u@db/app?sslpassword=sekrit", "postgresql://u@db/app?sslpassword=***"),
        ("http://admin:sekrit@dagster:3000/", "http://admin:***@dagster:3000/"),
        ("http://admin:sekrit@dagster:port/", "http://admin:***@dagster:port/"),  # does not parse: still hidden
        ("https://h/x?api_key=sekrit#frag", "https://h/x?api_key=***#frag"),
        ("http://h:3000/graphql", "http://h:3000/graphql"),
        ("postgresql://nobody@127.0.0.1:1/none", "postgresql://nobody@127.0.0.1:1/none"),
    ],
)
def test_url_credentials_are_hidden_without_knowing_them(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_urls(f"cannot use {url} now") == f"cannot use {shown} now"


def test_url_secrets_are_found_as_written_and_decoded() -> None:
    assert set(url_secrets("postgresql://u:p%40ss@h/db?password=a%2Bb")) == {"p%40ss", "p@ss", "a%2Bb", "a+b"}
    assert url_secrets("sqlite:///x.db") == [] and url_secrets(None) == []


def test_password_assignments_outside_urls_are_hidden() -> None:
    assert redact_urls("dsn: host=db password=sekrit dbname=app") == "dsn: host=db password=*** dbname=app"


def test_scrub_knows_the_configured_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCHARGE_REST_API_KEY", KEY + "\n")
    monkeypatch.setenv("CW_PUBLIC_KEY", "public-sekrit")
    monkeypatch.setenv("CW_PRIVATE_KEY", "private-sekrit")
    monkeypatch.setenv("CW_COMPANY_ID", "acme")
    monkeypatch.setenv("CW_CLIENT_ID", "0b7e3f7a-client-sekrit")
    monkeypatch.setenv("MARKETING_DATABASE_URL", "postgresql://u@db/app?password=db-sekrit-1")
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", "postgresql://dagster:dagster-sekrit@db/dagster")
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://ops:web-sekrit@dagster:3000")
    basic = base64.b64encode(b"acme+public-sekrit:private-sekrit").decode()
    text = " | ".join(
        [
            KEY,
            "public-sekrit",
            "private-sekrit",
            "0b7e3f7a-client-sekrit",
            "db-sekrit-1",
            "dagster-sekrit",
            "web-sekrit",
            basic,
            "Basic " + basic,
        ]
    )
    cleaned = scrub(text)
    assert "sekrit" not in cleaned and basic not in cleaned, cleaned


def test_a_password_that_also_names_the_user_is_hidden_in_urls_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", "postgresql://postgres:postgres@db/postgres")
    assert (
        scrub("postgresql://postgres:postgres@db/postgres is down") == "postgresql://postgres:***@db/postgres is down"
    )


def test_the_logging_filter_scrubs_formatted_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCHARGE_REST_API_KEY", KEY)
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "loaded %s with %s", (KEY, "postgresql://u:pw@h/d"), None
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "loaded *** with postgresql://u:***@h/d"
