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
        ("ENCHARGE_REQUESTS_PER_SECOND", "inf", "ENCHARGE_REQUESTS_PER_SECOND must be a number, not 'inf'"),
    ],
)
def test_bad_numbers_are_refused_by_name(monkeypatch: pytest.MonkeyPatch, name: str, raw: str, message: str) -> None:
    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigurationError) as caught:
        settings.load()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)  # one line


def test_good_numbers_and_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETING_HTTP_TIMEOUT_SECONDS", " 2.5 ")
    monkeypatch.setenv("CW_CONCURRENCY", "8")
    monkeypatch.setenv("ENCHARGE_BATCH_SIZE", "50.0")
    monkeypatch.setenv("ENCHARGE_MAX_REQUESTS_PER_SECOND", "0")
    monkeypatch.setenv("CW_MAX_REQUESTS_PER_SECOND", "12.5")
    monkeypatch.setenv("ENCHARGE_CONCURRENCY", "  ")
    monkeypatch.setenv("encharge_batch_size", "7")  # only the names as written count
    monkeypatch.setenv("timeout_seconds", "7")  # nor the model's own field names
    tuning = settings.load()
    assert (tuning.timeout_seconds, tuning.cw_concurrency, tuning.encharge_batch_size) == (2.5, 8, 50)
    assert (tuning.encharge_ceiling, tuning.encharge_concurrency) == (0, 4)
    assert tuning.cw_max_requests_per_second == 12.5


def test_the_old_fixed_encharge_rate_is_still_a_ceiling_until_the_new_variable_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ENCHARGE_MAX_REQUESTS_PER_SECOND", raising=False)
    monkeypatch.delenv("ENCHARGE_REQUESTS_PER_SECOND", raising=False)
    assert settings.load().encharge_ceiling == settings.DEFAULTS.encharge_max_requests_per_second == 200
    monkeypatch.setenv("ENCHARGE_REQUESTS_PER_SECOND", "20")
    assert settings.load().encharge_ceiling == 20
    monkeypatch.setenv("ENCHARGE_MAX_REQUESTS_PER_SECOND", "75")
    assert settings.load().encharge_ceiling == 75
    monkeypatch.delenv("ENCHARGE_MAX_REQUESTS_PER_SECOND")
    monkeypatch.setenv("ENCHARGE_REQUESTS_PER_SECOND", "-2")
    with pytest.raises(ConfigurationError, match="ENCHARGE_REQUESTS_PER_SECOND must be at least 0"):
        settings.load()


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


def test_the_model_names_every_variable_once_with_a_default_and_a_meaning() -> None:
    """Every name the code uses is a variable of the model, and every variable says what it is for."""
    constants = {v for k, v in vars(settings).items() if k.isupper() and isinstance(v, str) and v.isupper()}
    assert constants == set(settings.VARIABLES)
    assert len(settings.VARIABLES) == len(set(settings.VARIABLES)) == 29
    for name in settings.VARIABLES:
        assert settings.about(name).startswith(f"{name}: ") and len(settings.about(name)) > len(name) + 8, name
    assert settings.REQUIRED == ("CW_PUBLIC_KEY", "CW_PRIVATE_KEY", "CW_CLIENT_ID", "ENCHARGE_REST_API_KEY")
    assert "CW_CLIENT_ID" in settings.SENSITIVE and "CW_CLIENT_ID" not in settings.SECRETS


def test_the_defaults_reach_the_resources_and_the_clients_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """A default is written once, in the model: the resources and the transport take theirs from it."""
    from marketing_pipeline.defs.alerts import MarketingAlertsResource
    from marketing_pipeline.defs.resources import ConnectWiseResource, EnchargeResource, build_resources
    from marketing_pipeline.transport.http import RetrySettings

    for name in settings.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    fields = ConnectWiseResource.model_fields
    assert fields["timeout_seconds"].default == settings.DEFAULTS.timeout_seconds == 30
    assert fields["max_attempts"].default == RetrySettings().max_attempts == settings.DEFAULTS.max_attempts == 6
    assert EnchargeResource.model_fields["batch_size"].default == settings.DEFAULTS.encharge_batch_size
    assert MarketingAlertsResource.model_fields["smtp_port"].default == "587"
    built = build_resources()
    assert built["connectwise"].access.site == settings.DEFAULTS.cw_site == "api-eu.myconnectwise.net"
    assert built["encharge"].access.base_url == "https://api.encharge.io/v1/"
    assert built["encharge"].max_requests_per_second == 200
