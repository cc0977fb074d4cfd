"""A real SMTP server on loopback for tests (aiosmtpd, in a thread of the test process).

    with SmtpServer(security="starttls", user="alerts", password="s3cret") as server:
        Mailer(settings_for(server), ssl_context=server.client_ssl_context()).send(message)
        [received] = server.wait_for(1)

It keeps every message it accepts (`received`), can be stopped and started again on the same
port to play an outage, and can require STARTTLS, serve SSL from the first byte, require a
login, or refuse given recipients or every message. TLS uses a certificate for 127.0.0.1
and localhost from a throwaway CA (trustme): trust it with `client_ssl_context()` in
process, or with `ca_file` as SSL_CERT_FILE in a child process (`env()` sets it).

No pytest here: other tests and benchmarks import it as they import `tests.processes`.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.processes import free_port

Security = Literal["none", "starttls", "ssl"]
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """A message the server accepted: as parsed, and its envelope."""

    message: EmailMessage
    mail_from: str
    recipients: list[str]  # envelope recipients (RCPT TO), Bcc included
    accepted_at: float  # time.monotonic() when its DATA was accepted (this process's clock)


class SmtpServer:
    """An SMTP server on 127.0.0.1:`port` (a free one unless given).

    - `security`: "none" (plain, no STARTTLS offered), "starttls" (offered and required
      before MAIL) or "ssl" (TLS from the first byte).
    - `user`/`password`: when set, MAIL needs a login with exactly these (AUTH PLAIN or
      LOGIN, offered even without TLS: loopback only).
    - `refuse`: recipient address -> SMTP reply ("550 5.1.1 no such user", "452 4.2.2
      mailbox full"); a plain dict, change it while the server runs.
    - `refuse_data`: when set, the reply to every message's DATA ("554 5.6.0 message
      rejected"): the message is refused, whoever it is for.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        security: Security = "none",
        user: str | None = None,
        password: str | None = None,
        refuse: Mapping[str, str] | None = None,
        refuse_data: str | None = None,
    ) -> None:
        self.host = HOST
        self.port = port or free_port()
        self.security = security
        self.user = user
        self.password = password
        self.refuse = dict(refuse or {})
        self.refuse_data = refuse_data
        self.received: list[Received] = []
        self._arrived = threading.Condition()
        self._controller: Controller | None = None
        self._ca: trustme.CA | None = None
        self._server_context: ssl.SSLContext | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        if security != "none":
            self._ca = trustme.CA()
            self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ca.issue_cert(HOST, "localhost").configure_cert(self._server_context)

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> SmtpServer:
        """Listen (again) on `port`; returns once the server answers."""
        if self._controller is not None:
            raise RuntimeError(f"SMTP server on {self.port} is already running")
        options: dict[str, Any] = {"server_hostname": "badbuzz-test-smtp"}
        if self.security == "starttls":
            options.update(tls_context=self._server_context, require_starttls=True)
        elif self.security == "ssl":
            options.update(ssl_context=self._server_context)
        if self.user is not None:
            # The handler, not auth_required, insists on the login: aiosmtpd warns when a
            # login is required without TLS, and on loopback that is what the tests want.
            options.update(authenticator=self._authenticate, auth_require_tls=False)
        # A new controller each time: a stopped one has closed its event loop.
        controller = Controller(_Handler(self), hostname=HOST, port=self.port, **options)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening and drop open connections (the port refuses until `start`)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    # --- what clients need ----------------------------------------------------------

    def client_ssl_context(self) -> ssl.SSLContext:
        """A default client context (hostname checked) that trusts this server's CA."""
        context = ssl.create_default_context()
        self._require_ca().configure_trust(context)
        return context

    @property
    def ca_file(self) -> Path:
        """The CA as a PEM file, for SSL_CERT_FILE in a child process."""
        ca = self._require_ca()
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="badbuzz-smtp-ca-")
        path = Path(self._folder.name) / "ca.pem"
        if not path.exists():
            ca.cert_pem.write_to_path(str(path))
        return path

    def env(self) -> dict[str, str]:
        """BADBUZZ_SMTP_* (and SSL_CERT_FILE when TLS) that point a badbuzz process here;
        add BADBUZZ_ALERT_TO."""
        env = {
            "BADBUZZ_SMTP_HOST": self.host,
            "BADBUZZ_SMTP_PORT": str(self.port),
            "BADBUZZ_SMTP_SECURITY": self.security,
        }
        if self.user is not None:
            env["BADBUZZ_SMTP_USER"] = self.user
            env["BADBUZZ_SMTP_PASSWORD"] = self.password or ""
        if self._ca is not None:
            env["SSL_CERT_FILE"] = str(self.ca_file)
        return env

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        """The messages received so far, once there are at least `count` (a sender in
        another thread or process may still be on its way). Raises TimeoutError."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self.received)} of {count} messages after {timeout_s:g} s"
                    )
                self._arrived.wait(left)
            return list(self.received)

    # --- server side ----------------------------------------------------------------

    def _require_ca(self) -> trustme.CA:
        if self._ca is None:
            raise RuntimeError("this server has no TLS (security='none'): no CA to trust")
        return self._ca

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == (self.password or "")
        )
        return AuthResult(success=ok, handled=False)

    def _keep(self, envelope: Envelope, accepted_at: float) -> None:
        # line ends as a mailbox stores them, so bodies compare equal to what was sent
        content = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self.received.append(
                Received(message, envelope.mail_from or "", list(envelope.rcpt_tos), accepted_at)
            )
            self._arrived.notify_all()


class _Handler:
    """aiosmtpd's hooks: the login rule, refused recipients and messages, the accepted
    message."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.server.user is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.server.refuse:
            return self.server.refuse[address]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        if self.server.refuse_data is not None:
            return self.server.refuse_data
        self.server._keep(envelope, time.monotonic())
        return "250 2.0.0 Message accepted for delivery"
