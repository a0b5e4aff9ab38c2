"""The channels against a local webhook listener and a local SMTP server; each failure is reported, never
raised, and names no secret."""

from __future__ import annotations

import pytest

from marketing_pipeline.alerts.channels import (
    AlertChannels,
    AlertSettings,
    EmailChannel,
    WebhookChannel,
    build_channels,
)
from marketing_pipeline.alerts.message import AlertMessage
from marketing_pipeline_tests.support.alerts import (
    SMTP_PASSWORD,
    SMTP_USER,
    Certificate,
    Mailbox,
    WebhookListener,
    free_port,
    smtp_server,
)

MESSAGE = AlertMessage(subject="marketing-pipeline: N: sync failed", text='Marketing sync "N" failed.\nError: boom')


def email_channel(port: int, **overrides: object) -> EmailChannel:
    settings: dict[str, object] = {
        "recipients": ("ops@example.com", "marketing@example.com"),
        "sender": "pipeline@example.com",
        "host": "127.0.0.1",
        "port": port,
        "timeout": 5,
    }
    return EmailChannel(**{**settings, **overrides})  # type: ignore[arg-type]


def test_the_webhook_gets_a_text_field_slack_and_teams_both_accept(webhook: WebhookListener) -> None:
    WebhookChannel(webhook.url).send(MESSAGE)
    assert webhook.bodies == [{"text": 'marketing-pipeline: N: sync failed\nMarketing sync "N" failed.\nError: boom'}]
    assert webhook.paths == ["/services/T000/B000/hook-sekrit-token-8d2e"]


def test_a_refused_or_unreachable_webhook_is_reported_without_its_token(webhook: WebhookListener) -> None:
    webhook.status = 404
    [refused] = AlertChannels(channels=(WebhookChannel(webhook.url),)).deliver(MESSAGE)
    assert not refused.ok and refused.error == "webhook at 127.0.0.1: HTTP 404 invalid_token"
    closed = f"http://127.0.0.1:{free_port()}/services/T000/B000/hook-sekrit-token-8d2e"
    [unreachable] = AlertChannels(channels=(WebhookChannel(closed, timeout=2),)).deliver(MESSAGE)
    assert unreachable.error == "webhook at 127.0.0.1: ConnectionError"
    assert "sekrit" not in (refused.error or "") + (unreachable.error or "")


def test_email_uses_starttls_when_offered(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    email_channel(port).send(MESSAGE)
    [message] = mailbox.messages
    assert mailbox.secure == [True]
    assert mailbox.recipients == [["ops@example.com", "marketing@example.com"]]
    assert message["Subject"] == MESSAGE.subject and message["From"] == "pipeline@example.com"
    assert message["To"] == "ops@example.com, marketing@example.com" and message["Message-ID"]
    assert message.get_content().replace("\r\n", "\n").strip() == MESSAGE.text


def test_email_without_starttls_is_sent_plain_but_never_with_a_login() -> None:
    with smtp_server() as (mailbox, port):
        email_channel(port).send(MESSAGE)
        assert mailbox.secure == [False] and len(mailbox.messages) == 1
        [refused] = AlertChannels(channels=(email_channel(port, user=SMTP_USER, password=SMTP_PASSWORD),)).deliver(
            MESSAGE
        )
    assert refused.error is not None and "does not offer STARTTLS" in refused.error
    assert SMTP_PASSWORD not in refused.error and len(mailbox.messages) == 1


def test_email_logs_in_over_starttls(certificate: Certificate) -> None:
    with smtp_server(certificate=certificate, login=True) as (mailbox, port):
        email_channel(port, user=SMTP_USER, password=SMTP_PASSWORD).send(MESSAGE)
        [wrong] = AlertChannels(
            channels=(email_channel(port, user=SMTP_USER, password="not-the-" + SMTP_PASSWORD),)
        ).deliver(MESSAGE)
    assert mailbox.logins == [SMTP_USER] and mailbox.secure == [True]
    assert wrong.error is not None and "SMTPAuthenticationError" in wrong.error and "sekrit" not in wrong.error


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd's view of port-465 TLS
def test_email_over_implicit_tls(certificate: Certificate) -> None:
    with smtp_server(certificate=certificate, implicit_tls=True, login=True) as (mailbox, port):
        email_channel(port, user=SMTP_USER, password=SMTP_PASSWORD, implicit_tls=True).send(MESSAGE)
    assert mailbox.secure == [True] and mailbox.logins == [SMTP_USER]


def test_an_untrusted_certificate_is_refused(certificate: Certificate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    with smtp_server(certificate=certificate) as (mailbox, port):
        [refused] = AlertChannels(channels=(email_channel(port),)).deliver(MESSAGE)
    assert refused.error is not None and "CERTIFICATE_VERIFY_FAILED" in refused.error and not mailbox.messages


def test_one_failing_channel_does_not_stop_the_other(webhook: WebhookListener) -> None:
    channels = AlertChannels(channels=(email_channel(free_port(), timeout=2), WebhookChannel(webhook.url)))
    email, hook = channels.deliver(MESSAGE)
    assert email.channel == "email" and not email.ok and email.error.startswith("email via 127.0.0.1:")
    assert hook.ok and len(webhook.bodies) == 1


@pytest.mark.parametrize(
    "settings, channels, problem",
    [
        (AlertSettings(), [], None),
        (AlertSettings(webhook_url="https://hooks.slack.com/services/T/B/x"), ["webhook"], None),
        (AlertSettings(webhook_url="hooks.slack.com/services/x"), [], "MARKETING_ALERT_WEBHOOK_URL is not an http"),
        (AlertSettings(email_to="a@example.com", email_from="p@example.com", smtp_host="mail"), ["email"], None),
        (AlertSettings(email_from="p@example.com", smtp_host="mail"), [], "MARKETING_ALERT_EMAIL_TO is not set"),
        (AlertSettings(email_to="a@example.com, nobody", email_from="p@example.com", smtp_host="mail"), [], "nobody"),
        (AlertSettings(email_to="a@example.com", smtp_host="mail"), [], "set MARKETING_ALERT_EMAIL_FROM"),
        (AlertSettings(email_to="a@example.com", email_from="p@example.com"), [], "set SMTP_HOST"),
        (
            AlertSettings(email_to="a@example.com", email_from="p@example.com", smtp_host="m", smtp_port="smtp"),
            [],
            "SMTP_PORT 'smtp' is not a port number",
        ),
        (
            AlertSettings(email_to="a@example.com", email_from="p@example.com", smtp_host="m", smtp_user="u"),
            [],
            "set both SMTP_USER and SMTP_PASSWORD",
        ),
    ],
)
def test_configuration(settings: AlertSettings, channels: list[str], problem: str | None) -> None:
    built = build_channels(settings)
    assert [c.name for c in built.channels] == channels
    assert (problem is None) == (not built.problems)
    if problem:
        [found] = built.problems
        assert problem in found and found.split(":")[0].endswith("alerts are off")


def test_port_465_means_implicit_tls() -> None:
    built = build_channels(
        AlertSettings(email_to="a@example.com", email_from="p@example.com", smtp_host="m", smtp_port="465")
    )
    [email] = built.channels
    assert isinstance(email, EmailChannel) and email.implicit_tls and email.port == 465
