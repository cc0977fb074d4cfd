"""Reports as mail: the message (`build_message`) and the one way it leaves (`Mailer`).

Every way a send can fail becomes a `MailError` whose `kind` says what failed (the name, the
connection, TLS, the login, the message) and whose message names the BADBUZZ_SMTP_* setting
to check, so `badbuzz alerts send-test` and the outbox's log tell an owner what to fix.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import TYPE_CHECKING, Literal

from badbuzz.errors import UserError

if TYPE_CHECKING:  # the outbox sends stored bytes: no need to load the report renderer
    from badbuzz.settings import OpsSettings
    from ops.report import RenderedReport

log = logging.getLogger(__name__)

CHART_CID = "<chart>"  # the HTML reports show the chart as <img src="cid:chart">

MailFailure = Literal["dns", "refused", "timeout", "tls", "auth", "rejected", "protocol"]
Stage = Literal["connect", "starttls", "login", "send"]
# What to check when TLS or the server's answers suggest the wrong BADBUZZ_SMTP_SECURITY.
SECURITY_HINT = (
    "check BADBUZZ_SMTP_SECURITY and BADBUZZ_SMTP_PORT (usually ssl on 465, "
    "starttls on 587, none on 25)"
)


class MailError(UserError):
    """A message was not sent: `kind` says what failed; `retryable` whether the same message
    may go through later unchanged (the server was unreachable or refused it for now, 4xx).

    When the server refused recipients, `refused` holds each one's reply (code, text) and
    `delivered` the envelope recipients that took the message all the same."""

    def __init__(
        self,
        message: str,
        kind: MailFailure,
        retryable: bool,
        refused: Mapping[str, tuple[int, str]] | None = None,
        delivered: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.kind: MailFailure = kind
        self.retryable = retryable
        self.refused: dict[str, tuple[int, str]] = dict(refused or {})
        self.delivered: tuple[str, ...] = tuple(delivered)


def build_message(rendered: RenderedReport, settings: OpsSettings, message_id: str) -> EmailMessage:
    """The report as a text + HTML mail from BADBUZZ_SMTP_FROM to BADBUZZ_ALERT_TO (no To
    header when none is set: the outbox adds the recipients of the day it sends), with the
    chart inline. `message_id` ("<alert-ID@badbuzz>") stays the same on every resend, so a
    receiver can drop a duplicate."""
    if not (message_id.startswith("<") and message_id.endswith(">") and "@" in message_id):
        raise ValueError(f"a Message-ID looks like <local@domain>, not {message_id!r}")
    message = EmailMessage()
    message["From"] = settings.smtp.sender
    if settings.alert.to:
        message["To"] = ", ".join(settings.alert.to)
    message["Subject"] = rendered.subject
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(datetime.now(UTC))
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    html = message.get_body(("html",))
    if rendered.chart_png is not None and html is not None:
        # multipart/related around the HTML: mail clients show it inline, not as an attachment
        html.add_related(
            rendered.chart_png,
            maintype="image",
            subtype="png",
            cid=CHART_CID,
            disposition="inline",
            filename="chart.png",
        )
    return message


class Mailer:
    """Sends through the server of the BADBUZZ_SMTP_* settings, one connection per message.

    `ssl_context` verifies the server's certificate; the default trusts the system's CAs (and
    SSL_CERT_FILE); tests pass one that trusts their own CA.
    """

    def __init__(self, settings: OpsSettings, ssl_context: ssl.SSLContext | None = None) -> None:
        if not settings.smtp.host:
            raise UserError("BADBUZZ_SMTP_HOST is not set: there is no mail server to send to")
        self.host = settings.smtp.host
        self.port = settings.smtp.effective_port
        self.security = settings.smtp.security
        self.timeout_s = settings.smtp.timeout_s
        self.user = settings.smtp.user
        self._password = settings.smtp.password
        self._ssl_context = ssl_context or ssl.create_default_context()

    @property
    def endpoint(self) -> str:
        """Where mail goes, e.g. "smtp.example.org:587 (starttls)"."""
        return f"{self.host}:{self.port} ({self.security})"

    def send(self, message: EmailMessage, recipients: Sequence[str] | None = None) -> None:
        """Hand `message` to the server (envelope from its From, to `recipients`, else its
        To/Cc/Bcc); returns once the server accepted it for every recipient, else raises
        `MailError` (whose `delivered` names those that took it when only some refused)."""
        if recipients is None:
            recipients = envelope_recipients(message)
        if not recipients:
            raise MailError(
                "the message has no recipient: set BADBUZZ_ALERT_TO (comma-separated)",
                "rejected",
                retryable=False,
            )
        smtp = self._open()
        try:
            refused = smtp.send_message(message, to_addrs=list(recipients))
        except (smtplib.SMTPException, OSError) as error:
            raise self._explain(error, "send") from error
        finally:
            self._close(smtp)
        if refused:  # some recipients took it, these did not
            partly = self._recipients_refused(refused, partly=True)
            partly.delivered = tuple(r for r in recipients if r not in refused)
            raise partly

    def handshake(self) -> None:
        """Connect, STARTTLS and log in as the settings say, then quit: no mail is sent
        (`badbuzz doctor`). Raises `MailError` worded as `send` words it."""
        self._close(self._open())

    def _open(self) -> smtplib.SMTP:
        """A connection ready to take mail: greeted, under TLS and logged in as configured."""
        stage: Stage = "connect"
        try:
            smtp = self._connect()
        except (smtplib.SMTPException, OSError) as error:
            raise self._explain(error, stage) from error
        try:
            smtp.ehlo()
            if self.security == "starttls":
                stage = "starttls"
                smtp.starttls(context=self._ssl_context)
            if self.user:
                stage = "login"
                password = self._password.get_secret_value() if self._password else ""
                smtp.login(self.user, password)
        except (smtplib.SMTPException, OSError) as error:
            self._close(smtp)
            raise self._explain(error, stage) from error
        return smtp

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout_s, context=self._ssl_context
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)

    @staticmethod
    def _close(smtp: smtplib.SMTP) -> None:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError) as error:
            # The server accepted the message (or failed already); a lost goodbye changes
            # neither, so it must not turn into an error that makes the outbox resend.
            log.debug("SMTP QUIT failed: %s", error)
            smtp.close()

    def _explain(self, error: smtplib.SMTPException | OSError, stage: Stage) -> MailError:
        """The error as the user should read it: what failed, and which setting to check."""
        if isinstance(error, smtplib.SMTPResponseException):
            return self._explain_reply(error, stage)
        if isinstance(error, smtplib.SMTPException):
            return self._explain_smtp(error, stage)
        return self._explain_network(error, stage)

    def _explain_reply(self, error: smtplib.SMTPResponseException, stage: Stage) -> MailError:
        """An SMTP error that carries the server's reply: its code says whether to retry."""
        at = f"{self.host}:{self.port}"
        said = reply(error.smtp_code, error.smtp_error)
        temporary = is_temporary(error.smtp_code)
        if isinstance(error, smtplib.SMTPAuthenticationError):
            return MailError(
                f"{at} refused the login of BADBUZZ_SMTP_USER {self.user!r} ({said}): check "
                "BADBUZZ_SMTP_USER and BADBUZZ_SMTP_PASSWORD",
                "auth",
                retryable=temporary,
            )
        if isinstance(error, smtplib.SMTPSenderRefused) and error.smtp_code == 530:
            # 530 at MAIL FROM: the server wants something before it takes mail at all
            if "STARTTLS" in said.upper():
                return MailError(
                    f"{at} takes mail only after STARTTLS ({said}): set "
                    "BADBUZZ_SMTP_SECURITY=starttls",
                    "tls",
                    retryable=False,
                )
            return MailError(
                f"{at} takes mail only after a login ({said}): set BADBUZZ_SMTP_USER and "
                "BADBUZZ_SMTP_PASSWORD",
                "auth",
                retryable=False,
            )
        if isinstance(error, smtplib.SMTPSenderRefused):
            return MailError(
                f"{at} refused the sender {error.sender!r} ({said}): check BADBUZZ_SMTP_FROM "
                "(many servers accept only the address of BADBUZZ_SMTP_USER)",
                "rejected",
                retryable=temporary,
            )
        if isinstance(error, smtplib.SMTPDataError):
            return MailError(f"{at} refused the message ({said})", "rejected", temporary)
        if isinstance(error, smtplib.SMTPConnectError):
            return MailError(
                f"{at} refused the connection in its greeting ({said}): check "
                "BADBUZZ_SMTP_HOST and BADBUZZ_SMTP_PORT",
                "refused",
                retryable=temporary,
            )
        if stage == "starttls":
            return MailError(f"{at} refused STARTTLS ({said}): {SECURITY_HINT}", "tls", temporary)
        return MailError(
            f"unexpected answer from {at} during {stage} ({said})", "protocol", temporary
        )

    def _explain_smtp(self, error: smtplib.SMTPException, stage: Stage) -> MailError:
        """An SMTP error without a reply: a missing extension, refused recipients, a hang-up."""
        at = f"{self.host}:{self.port}"
        if isinstance(error, smtplib.SMTPNotSupportedError) and stage == "starttls":
            return MailError(
                f"{at} does not offer STARTTLS: {SECURITY_HINT}; none sends unencrypted",
                "tls",
                retryable=False,
            )
        if isinstance(error, smtplib.SMTPNotSupportedError) and stage == "login":
            return MailError(
                f"{at} offers no login ({self.security}), yet BADBUZZ_SMTP_USER is set: unset "
                "it if the server needs none, or use BADBUZZ_SMTP_SECURITY=starttls or ssl "
                "(many servers offer AUTH only over TLS)",
                "auth",
                retryable=False,
            )
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            return self._recipients_refused(error.recipients, partly=False)
        if isinstance(error, smtplib.SMTPServerDisconnected):
            # smtplib reports a read that timed out as a lost connection
            if isinstance(error.__context__, TimeoutError):
                return self._timed_out(stage)
            return MailError(
                f"{at} closed the connection during {stage} ({error}): if this repeats, "
                f"{SECURITY_HINT}",
                "protocol",
                retryable=True,
            )
        return MailError(f"unexpected answer from {at} during {stage} ({error})", "protocol", False)

    def _explain_network(self, error: OSError, stage: Stage) -> MailError:
        """A failure below SMTP: TLS, the name, the connection."""
        at = f"{self.host}:{self.port}"
        if isinstance(error, ssl.SSLCertVerificationError):
            return MailError(
                f"the certificate of {at} is not trusted ({error.verify_message}): check "
                "BADBUZZ_SMTP_HOST is the name on the certificate; a server with a private CA "
                "needs SSL_CERT_FILE pointing to that CA",
                "tls",
                retryable=False,
            )
        if isinstance(error, ssl.SSLError):
            return MailError(
                f"TLS with {at} failed ({error.reason or error}): {SECURITY_HINT}",
                "tls",
                retryable=False,
            )
        if isinstance(error, socket.gaierror):
            return MailError(
                f"cannot resolve BADBUZZ_SMTP_HOST {self.host!r} ({error.strerror}): check the "
                "name and this machine's DNS",
                "dns",
                retryable=True,
            )
        if isinstance(error, ConnectionRefusedError):
            return MailError(
                f"nothing accepts connections at {at}: check BADBUZZ_SMTP_HOST and "
                "BADBUZZ_SMTP_PORT, and that the mail server runs",
                "refused",
                retryable=True,
            )
        if isinstance(error, TimeoutError):
            return self._timed_out(stage)
        return MailError(
            f"cannot reach {at} ({error.strerror or error}): check BADBUZZ_SMTP_HOST, "
            "BADBUZZ_SMTP_PORT and the network",
            "refused",
            retryable=True,
        )

    def _timed_out(self, stage: Stage) -> MailError:
        return MailError(
            f"{self.host}:{self.port} did not answer within {self.timeout_s:g} s during "
            f"{stage}: check BADBUZZ_SMTP_HOST, BADBUZZ_SMTP_PORT and firewalls; a server that "
            "expects TLS at once (ssl, port 465) stays silent to starttls or none: check "
            "BADBUZZ_SMTP_SECURITY (BADBUZZ_SMTP_TIMEOUT_S sets the wait)",
            "timeout",
            retryable=True,
        )

    def _recipients_refused(self, refused: dict[str, tuple[int, bytes]], partly: bool) -> MailError:
        listed = ", ".join(f"{address} ({reply(*answer)})" for address, answer in refused.items())
        others = "; the other recipients got it" if partly else ""
        return MailError(
            f"{self.host}:{self.port} refused the recipients {listed}{others}: check "
            "BADBUZZ_ALERT_TO",
            "rejected",
            retryable=all(is_temporary(code) for code, _ in refused.values()),
            refused={
                address: (code, reply(code, text)) for address, (code, text) in refused.items()
            },
        )


def envelope_recipients(message: EmailMessage) -> list[str]:
    """The bare addresses of the message's To, Cc and Bcc, each once, in order."""
    fields = [str(value) for name in ("To", "Cc", "Bcc") for value in message.get_all(name, [])]
    addresses = [address for _, address in getaddresses(fields) if address]
    return list(dict.fromkeys(addresses))


def reply(code: int, text: bytes | str) -> str:
    """An SMTP reply as one line: "550 5.1.1 no such user"."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return f"{code} {' '.join(text.split())}"


def is_temporary(code: int) -> bool:
    """4xx: the server refuses for now (full mailbox, greylisting, too busy)."""
    return 400 <= code < 500
