"""How an alert travels: an incoming webhook (Slack and Microsoft Teams) and email over SMTP. I/O only.

Each channel is off unless configured. A channel that fails is reported back (and logged by the caller);
it never raises into a sync. Dagster's own alert helpers do not fit here: `dagster-slack` posts through the
Slack Web API with a bot token and a channel (not an incoming webhook), `dagster-msteams` posts Teams cards
that Slack refuses, and `make_email_on_run_failure_sensor` (like both libraries' sensors) sends on every
failed run, with no recovery, no failed-contacts message and no state change; so the rule is ours and these
two small senders are too.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol
from urllib.parse import urlsplit

import requests

from marketing_pipeline.alerts.message import AlertMessage
from marketing_pipeline.settings import DEFAULTS
from marketing_pipeline.transport.redact import redact

TIMEOUT_SECONDS = 15.0
IMPLICIT_TLS_PORT = 465
USER_AGENT = "marketing-pipeline/0.1 (+dagster) alerts"


class AlertDeliveryError(Exception):
    """A channel could not deliver; the message says which channel and why, without any secret."""


class AlertChannel(Protocol):
    name: str

    def send(self, message: AlertMessage) -> None:
        """Deliver, or raise AlertDeliveryError."""
        ...


@dataclass(frozen=True)
class WebhookChannel:
    """A JSON POST with a `text` field: what Slack and Microsoft Teams incoming webhooks both accept."""

    url: str
    timeout: float = TIMEOUT_SECONDS
    name: str = "webhook"

    def send(self, message: AlertMessage) -> None:
        host = urlsplit(self.url).hostname or "?"
        try:
            response = requests.post(
                self.url,
                json={"text": f"{message.subject}\n{message.text}"},
                timeout=self.timeout,
                headers={"User-Agent": USER_AGENT},
            )
        except requests.RequestException as exc:
            # requests' messages repeat the URL, whose path is the webhook's secret: name the host only.
            raise AlertDeliveryError(f"webhook at {host}: {type(exc).__name__}") from None
        if not response.ok:
            body = redact(" ".join(response.text[:120].split()), [self.url, urlsplit(self.url).path])
            raise AlertDeliveryError(f"webhook at {host}: HTTP {response.status_code} {body}".rstrip())


@dataclass(frozen=True)
class EmailChannel:
    """One email to every recipient. STARTTLS whenever the server offers it (implicit TLS on port 465);
    a login is never sent over a connection that is not encrypted."""

    recipients: tuple[str, ...]
    sender: str
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    implicit_tls: bool = False  # TLS from the first byte (port 465) rather than STARTTLS
    timeout: float = TIMEOUT_SECONDS
    name: str = "email"

    def _email(self, message: AlertMessage) -> EmailMessage:
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = self.sender
        email["To"] = ", ".join(self.recipients)
        email["Date"] = formatdate(time.time(), localtime=False)
        email["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        email.set_content(message.text)
        return email

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif self.user:
                raise AlertDeliveryError(
                    f"email via {self.host}:{self.port}: the server does not offer STARTTLS, and SMTP_PASSWORD "
                    "is never sent unencrypted (use a server with STARTTLS, port 465, or no login)"
                )
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: AlertMessage) -> None:
        where = f"email via {self.host}:{self.port}"
        try:
            with self._connect() as smtp:
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(self._email(message))
        except AlertDeliveryError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            detail = redact(" ".join(str(exc).split()), [self.password or ""])[:200]
            raise AlertDeliveryError(f"{where}: {type(exc).__name__}: {detail}") from None


@dataclass(frozen=True)
class Delivery:
    channel: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class AlertChannels:
    """The configured channels, and why any channel that was asked for is off."""

    channels: tuple[AlertChannel, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.channels)

    def deliver(self, message: AlertMessage) -> list[Delivery]:
        deliveries = []
        for channel in self.channels:
            try:
                channel.send(message)
            except AlertDeliveryError as exc:
                deliveries.append(Delivery(channel.name, str(exc)))
            except Exception as exc:  # a channel must never break the caller: say what went wrong and carry on
                deliveries.append(Delivery(channel.name, f"{channel.name}: unexpected {type(exc).__name__}"))
            else:
                deliveries.append(Delivery(channel.name))
        return deliveries


@dataclass(frozen=True)
class AlertSettings:
    """The channels' configuration as the environment gives it (empty strings when unset)."""

    webhook_url: str = ""
    email_to: str = ""
    email_from: str = ""
    smtp_host: str = ""
    smtp_port: str = DEFAULTS.smtp_port  # as given: a bad value turns email off with a reason, never breaks loading
    smtp_user: str = ""
    smtp_password: str = ""

    def secrets(self) -> list[str]:
        return [s for s in (self.webhook_url, urlsplit(self.webhook_url).path, self.smtp_password) if len(s) > 1]


def _address(value: str) -> str | None:
    _, address = parseaddr(value)
    local, at, domain = address.partition("@")
    return value.strip() if at and local and "." in domain and not any(c.isspace() for c in address) else None


def _email_channel(config: AlertSettings, problems: list[str]) -> EmailChannel | None:
    recipients_raw = [part.strip() for part in config.email_to.split(",") if part.strip()]
    if not recipients_raw:
        if config.email_from:
            problems.append("email alerts are off: MARKETING_ALERT_EMAIL_TO is not set")
        return None
    off = "email alerts are off: "
    bad = [r for r in recipients_raw if _address(r) is None]
    if bad:
        problems.append(off + f"MARKETING_ALERT_EMAIL_TO has addresses that are not email addresses: {bad}")
        return None
    if not config.email_from or _address(config.email_from) is None:
        problems.append(off + "set MARKETING_ALERT_EMAIL_FROM to the sender's address")
        return None
    if not config.smtp_host:
        problems.append(off + "set SMTP_HOST (and SMTP_PORT)")
        return None
    port = int(config.smtp_port) if config.smtp_port.strip().isdigit() else 0
    if not 0 < port < 65536:
        problems.append(off + f"SMTP_PORT {config.smtp_port!r} is not a port number")
        return None
    if bool(config.smtp_user) != bool(config.smtp_password):
        problems.append(off + "set both SMTP_USER and SMTP_PASSWORD, or neither")
        return None
    return EmailChannel(
        recipients=tuple(recipients_raw),
        sender=config.email_from.strip(),
        host=config.smtp_host.strip(),
        port=port,
        user=config.smtp_user or None,
        password=config.smtp_password or None,
        implicit_tls=port == IMPLICIT_TLS_PORT,
    )


def _webhook_channel(config: AlertSettings, problems: list[str]) -> WebhookChannel | None:
    url = config.webhook_url.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append("webhook alerts are off: MARKETING_ALERT_WEBHOOK_URL is not an http(s) URL")
        return None
    return WebhookChannel(url=url)


def build_channels(config: AlertSettings) -> AlertChannels:
    problems: list[str] = []
    found: Sequence[AlertChannel | None] = (_webhook_channel(config, problems), _email_channel(config, problems))
    return AlertChannels(channels=tuple(c for c in found if c is not None), problems=tuple(problems))


def describe(deliveries: Sequence[Delivery]) -> str:
    """ "webhook ok, email failed (why)"."""
    return ", ".join(d.channel + " ok" if d.ok else f"{d.channel} failed ({d.error})" for d in deliveries)
