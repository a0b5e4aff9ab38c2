"""Where alerts land in tests: a local webhook listener and a local SMTP server (aiosmtpd, with STARTTLS,
implicit TLS and logins on request), a self-signed certificate they trust, and the sensors evaluated the
way the daemon would evaluate them."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from marketing_pipeline.defs.alerts import marketing_sync_alerts_on_failure, marketing_sync_alerts_on_success

SMTP_USER, SMTP_PASSWORD = "alerts@example.com", "smtp-sekrit-pass-31f9"


class WebhookListener:
    """An incoming webhook on loopback: records every JSON body it is sent, answers `status`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                listener.paths.append(self.path)
                listener.bodies.append(json.loads(raw))
                self.send_response(listener.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if listener.status < 300 else b"invalid_token")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        # The path stands for the token a real Slack/Teams webhook URL carries.
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/hook-sekrit-token-8d2e"

    @property
    def texts(self) -> list[str]:
        return [body["text"] for body in self.bodies]

    def __enter__(self) -> WebhookListener:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Mailbox:
    """What an SMTP server received: each message with its envelope, and whether it came over TLS."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    secure: list[bool] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        self.secure.append(session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None)
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed_certificate(folder: Path) -> Certificate:
    """A certificate for localhost and 127.0.0.1; point SSL_CERT_FILE at it and clients trust it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(cert=folder / "smtp-cert.pem", key=folder / "smtp-key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def free_port() -> int:
    # aiosmtpd checks that its server is up by connecting to the port it was given, so it needs a real one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(
    *, certificate: Certificate | None = None, implicit_tls: bool = False, login: bool = False
) -> Iterator[tuple[Mailbox, int]]:
    """A local SMTP server: STARTTLS offered when given a certificate (or TLS from the first byte with
    `implicit_tls`), a login required with `login`. Yields what it receives and its port."""
    import ssl

    mailbox = Mailbox()
    context = None
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate.cert, certificate.key)
    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": free_port()}
    if implicit_tls:
        kwargs["ssl_context"] = context
    elif context is not None:
        kwargs["tls_context"] = context
    if login:
        # aiosmtpd counts only STARTTLS as TLS for logins: a server with TLS from the first byte must be told.
        kwargs.update(authenticator=mailbox.authenticate, auth_required=True, auth_require_tls=not implicit_tls)
    controller = Controller(mailbox, **kwargs)
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()


def evaluate_alert_sensor(instance: dg.DagsterInstance, run_id: str, resources: dict[str, Any]) -> None:
    """What the daemon does when a run finishes: the run-status sensor for its status, with its event."""
    run = instance.get_run_by_id(run_id)
    assert run is not None
    failed = run.status == dg.DagsterRunStatus.FAILURE
    sensor = marketing_sync_alerts_on_failure if failed else marketing_sync_alerts_on_success
    event_type = dg.DagsterEventType.RUN_FAILURE if failed else dg.DagsterEventType.RUN_SUCCESS
    [record] = instance.get_records_for_run(run_id, of_type=event_type).records
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=record.event_log_entry.dagster_event,  # type: ignore[arg-type]
        resources=resources,
    )
    sensor(context.for_run_failure() if failed else context)  # type: ignore[operator]
