"""Environment variables: every value that cannot work is refused in plain words, naming the variable;
a secret's value is never shown."""

from __future__ import annotations

import pytest

from marketing_pipeline import settings
from marketing_pipeline.errors import ConfigurationError


@pytest.mark.parametrize(
    "name, raw, message",
    [
        ("MARKETING_HTTP_TIMEOUT_SECONDS", "abc", "MARKETING_HTTP_TIMEOUT_SECONDS must be a number, not 'abc'"),
        ("MARKETING_HTTP_TIMEOUT_SECONDS", "0", "MARKETING_HTTP_TIMEOUT_SECONDS must be above 0, not 0"),
        ("MARKETING_HTTP_TIMEOUT_SECONDS", "-5", "MARKETING_HTTP_TIMEOUT_SECONDS must be above 0, not -5"),
        ("MARKETING_HTTP_TIMEOUT_SECONDS", "nan", "MARKETING_HTTP_TIMEOUT_SECONDS must be a number, not 'nan'"),
        ("MARKETING_HTTP_TIMEOUT_SECONDS", "inf", "MARKETING_HTTP_TIMEOUT_SECONDS must be a number, not 'inf'"),
        ("MARKETING_HTTP_MAX_ATTEMPTS", "2.5", "MARKETING_HTTP_MAX_ATTEMPTS must be a whole number from 1 to 100"),
        ("MARKETING_HTTP_MAX_ATTEMPTS", "0", "MARKETING_HTTP_MAX_ATTEMPTS must be a whole number from 1 to 100"),
        ("CW_CONCURRENCY", "99999999999999999999", "CW_CONCURRENCY must be a whole number from 1 to 64"),
        ("ENCHARGE_CONCURRENCY", "four", "ENCHARGE_CONCURRENCY must be a number, not 'four'"),
        ("ENCHARGE_BATCH_SIZE", "0", "ENCHARGE_BATCH_SIZE must be a whole number from 1 to 1000"),
        ("ENCHARGE_MAX_REQUESTS_PER_SECOND", "-1", "ENCHARGE_MAX_REQUESTS_PER_SECOND must be at least 0, not -1"),
        ("CW_MAX_REQUESTS_PER_SECOND", "fast", "CW_MAX_REQUESTS_PER_SECOND must be a number, not 'fast'"),
    ],
)
def test_bad_numbers_are_refused_by_name(monkeypatch: pytest.MonkeyPatch, name: str, raw: str, message: str) -> None:
    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigurationError) as caught:
        settings.http_tuning()
    assert str(caught.value).startswith(message)


def test_good_numbers_and_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETING_HTTP_TIMEOUT_SECONDS", " 2.5 ")
    monkeypatch.setenv("CW_CONCURRENCY", "8")
    monkeypatch.setenv("ENCHARGE_BATCH_SIZE", "50.0")
    monkeypatch.setenv("ENCHARGE_MAX_REQUESTS_PER_SECOND", "0")
    monkeypatch.setenv("CW_MAX_REQUESTS_PER_SECOND", "12.5")
    monkeypatch.setenv("ENCHARGE_CONCURRENCY", "  ")
    tuning = settings.http_tuning()
    assert (tuning.timeout_seconds, tuning.cw_concurrency, tuning.encharge_batch_size) == (2.5, 8, 50)
    assert (tuning.encharge_max_requests_per_second, tuning.encharge_concurrency) == (0, 4)
    assert tuning.cw_max_requests_per_second == 12.5


def test_the_old_fixed_encharge_rate_is_still_a_ceiling_until_the_new_variable_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ENCHARGE_MAX_REQUESTS_PER_SECOND", raising=False)
    monkeypatch.delenv("ENCHARGE_REQUESTS_PER_SECOND", raising=False)
    assert settings.http_tuning().encharge_max_requests_per_second == settings.DEFAULT_ENCHARGE_MAX_REQUESTS_PER_SECOND
    monkeypatch.setenv("ENCHARGE_REQUESTS_PER_SECOND", "20")
    assert settings.http_tuning().encharge_max_requests_per_second == 20
    monkeypatch.setenv("ENCHARGE_MAX_REQUESTS_PER_SECOND", "75")
    assert settings.http_tuning().encharge_max_requests_per_second == 75
    monkeypatch.delenv("ENCHARGE_MAX_REQUESTS_PER_SECOND")
    monkeypatch.setenv("ENCHARGE_REQUESTS_PER_SECOND", "-2")
    with pytest.raises(ConfigurationError, match="ENCHARGE_REQUESTS_PER_SECOND must be at least 0"):
        settings.http_tuning()


def test_a_blank_secret_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in settings.REQUIRED:
        monkeypatch.setenv(name, "value")
    monkeypatch.setenv("CW_PRIVATE_KEY", " \n")
    assert settings.missing_required() == ["CW_PRIVATE_KEY"]


@pytest.mark.parametrize(
    "raw, message",
    [
        ("https://api.encharge.io/v1/", None),
        (" https://api.encharge.io/v1/\n", None),
        ("http://[::1]:8702/v1/", None),
        ("api.encharge.io", "must be an http:// or https:// URL"),
        ("https://api.encharge.io/v1/ extra", "must be an http:// or https:// URL"),
        ("https://:443/v1/", "has no host"),
        ("https://api.encharge.io:abc/v1/", "port that is not a number"),
        ("https://api.encharge.io:0/v1/", "port that is not a number"),
    ],
)
def test_api_base_urls(raw: str, message: str | None) -> None:
    if message is None:
        assert settings.http_url("ENCHARGE_BASE_URL", raw) == raw.strip()
        return
    with pytest.raises(ConfigurationError, match=f"^ENCHARGE_BASE_URL .*{message}"):
        settings.http_url("ENCHARGE_BASE_URL", raw)
