"""Mail through a real SMTP server on loopback (aiosmtpd): what the message holds, each kind of
security and login, every failure an owner can cause named as such, and `badbuzz alerts
send-test` end to end as a process."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from badbuzz.settings import AlertSettings, OpsSettings, SmtpSettings
from ops.mailer import Mailer, MailError, build_message
from ops.report import RenderedReport
from tests.badbuzz_cli import run_badbuzz
from tests.processes import free_port
from tests.smtp import SmtpServer

MESSAGE_ID = "<alert-0b6f3c9e@badbuzz>"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))  # the bytes travel; nothing decodes them
RECIPIENTS = ["owner@example.org", "oncall@example.org"]


def report(chart_png: bytes | None = PNG) -> RenderedReport:
    # Built by hand: these tests are about the mail, not the report's wording (test_report).
    return RenderedReport(
        subject="[badbuzz] 3 wrong predictions in 5 minutes (logreg v7)",
        text="3 predictions were flagged wrong.\n",
        html='<p>3 predictions were flagged <b>wrong</b>.</p><img src="cid:chart">',
        chart_png=chart_png,
    )


def settings_for(
    server: SmtpServer | None = None, to: list[str] = RECIPIENTS, **overrides: Any
) -> OpsSettings:
    """Settings that point at `server` (`overrides`: of `SmtpSettings`), nothing read from the
    environment or a .env file."""
    values: dict[str, Any] = {"sender": "badbuzz@example.org", "timeout_s": 5.0}
    if server is not None:
        values |= {
            "host": server.host,
            "port": server.port,
            "security": server.security,
            "user": server.user,
            "password": server.password,
        }
    values |= overrides
    return OpsSettings(  # type: ignore[call-arg]
        _env_file=None, smtp=SmtpSettings(**values), alert=AlertSettings(to=to)
    )


def send(server: SmtpServer, **overrides: Any) -> None:
    settings = settings_for(server, **overrides)
    context = server.client_ssl_context() if server.security != "none" else None
    Mailer(settings, ssl_context=context).send(build_message(report(), settings, MESSAGE_ID))


def failure(server: SmtpServer | None = None, **overrides: Any) -> MailError:
    settings = settings_for(server, **overrides)
    context = server.client_ssl_context() if server and server.security != "none" else None
    with pytest.raises(MailError) as raised:
        Mailer(settings, ssl_context=context).send(build_message(report(), settings, MESSAGE_ID))
    return raised.value


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    text: str = body.get_content()
    return text


@pytest.fixture
def plain() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


# --- the message ----------------------------------------------------------------------


def test_the_message_is_text_and_html_with_the_chart_inline() -> None:
    message = build_message(report(), settings_for(), MESSAGE_ID)

    assert message["From"] == "badbuzz@example.org"
    assert message["To"] == "owner@example.org, oncall@example.org"
    assert message["Subject"] == report().subject
    assert message["Message-ID"] == MESSAGE_ID
    assert message["Date"].datetime is not None
    assert message.get_content_type() == "multipart/alternative"
    text, related = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, chart = related.iter_parts()
    assert html.get_content_type() == "text/html"
    assert "cid:chart" in html.get_content()
    assert chart.get_content_type() == "image/png"
    assert chart["Content-ID"] == "<chart>"
    assert chart.get_content_disposition() == "inline"
    assert chart.get_content() == PNG


def test_without_a_chart_the_html_stands_alone() -> None:
    message = build_message(report(chart_png=None), settings_for(), MESSAGE_ID)
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


def test_without_recipients_the_message_has_no_to_and_the_mailer_says_what_to_set() -> None:
    # The outbox stores such a message and adds the recipients of the day it sends it.
    settings = settings_for(to=[], host="127.0.0.1")
    message = build_message(report(), settings, MESSAGE_ID)
    assert message["To"] is None
    with pytest.raises(MailError, match="BADBUZZ_ALERT_TO") as raised:
        Mailer(settings).send(message)
    assert raised.value.kind == "rejected"


def test_a_message_id_must_look_like_one() -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        build_message(report(), settings_for(), "alert-42")


# --- sending --------------------------------------------------------------------------


def test_plain_send_delivers_to_every_recipient_with_the_given_message_id(
    plain: SmtpServer,
) -> None:
    send(plain)
    send(plain)  # the outbox's resend: same id, so the receiver can drop the duplicate

    first, second = plain.wait_for(2)
    assert first.mail_from == "badbuzz@example.org"
    assert first.recipients == RECIPIENTS
    assert first.message["Subject"] == report().subject
    assert first.message["To"] == "owner@example.org, oncall@example.org"
    assert first.message["Message-ID"] == second.message["Message-ID"] == MESSAGE_ID
    assert plain_text(first.message) == report().text
    [chart] = [p for p in first.message.walk() if p.get_content_type() == "image/png"]
    assert chart["Content-ID"] == "<chart>"
    assert chart.get_content() == PNG


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_sends_to_a_server_whose_ca_is_trusted(security: str) -> None:
    with SmtpServer(security=security) as server:  # type: ignore[arg-type]
        send(server)
        [received] = server.wait_for(1)
    assert received.message["Message-ID"] == MESSAGE_ID


@pytest.mark.parametrize("security", ["none", "starttls"])
def test_login_with_the_right_password_sends(security: str) -> None:
    with SmtpServer(security=security, user="alerts", password="s3cret") as server:  # type: ignore[arg-type]
        send(server)
        assert len(server.wait_for(1)) == 1


def test_a_wrong_password_is_an_auth_failure_that_names_the_settings() -> None:
    with SmtpServer(user="alerts", password="s3cret") as server:
        error = failure(server, password="wrong-one")
    assert error.kind == "auth"
    assert not error.retryable
    assert "BADBUZZ_SMTP_PASSWORD" in str(error)
    assert "wrong-one" not in str(error)
    assert server.received == []


def test_the_handshake_logs_in_and_sends_nothing_or_fails_as_send_would() -> None:
    with SmtpServer(security="starttls", user="alerts", password="s3cret") as server:
        context = server.client_ssl_context()
        Mailer(settings_for(server), ssl_context=context).handshake()
        wrong = Mailer(settings_for(server, password="wrong-one"), ssl_context=context)
        with pytest.raises(MailError) as raised:
            wrong.handshake()
    assert raised.value.kind == "auth" and "BADBUZZ_SMTP_PASSWORD" in str(raised.value)
    assert server.received == []


def test_no_login_where_the_server_requires_one_says_to_set_the_user() -> None:
    with SmtpServer(user="alerts", password="s3cret") as server:
        error = failure(server, user=None, password=None)
    assert error.kind == "auth"
    assert "BADBUZZ_SMTP_USER" in str(error)


def test_a_port_with_nothing_listening_is_refused_and_retryable() -> None:
    error = failure(host="127.0.0.1", port=free_port(), security="none")
    assert error.kind == "refused"
    assert error.retryable
    assert "BADBUZZ_SMTP_PORT" in str(error)


def test_an_unresolvable_host_is_a_dns_failure() -> None:
    error = failure(host="no-such-host.invalid", port=25, security="none")
    assert error.kind == "dns"
    assert "no-such-host.invalid" in str(error)
    assert "BADBUZZ_SMTP_HOST" in str(error)


def test_starttls_asked_of_a_server_without_it_is_a_tls_failure(plain: SmtpServer) -> None:
    error = failure(plain, security="starttls")
    assert error.kind == "tls"
    assert "STARTTLS" in str(error)
    assert "BADBUZZ_SMTP_SECURITY" in str(error)
    assert plain.received == []


def test_ssl_to_a_plain_server_is_a_tls_failure(plain: SmtpServer) -> None:
    error = failure(plain, security="ssl")
    assert error.kind == "tls"
    assert "BADBUZZ_SMTP_SECURITY" in str(error)


def test_a_certificate_from_an_unknown_ca_is_not_trusted() -> None:
    with SmtpServer(security="starttls") as server:
        settings = settings_for(server)
        with pytest.raises(MailError, match="not trusted") as raised:
            # the system's CAs only: the test CA is not among them
            Mailer(settings).send(build_message(report(), settings, MESSAGE_ID))
    assert raised.value.kind == "tls"
    assert server.received == []


def test_no_starttls_where_the_server_requires_it_says_to_turn_it_on() -> None:
    with SmtpServer(security="starttls") as server:
        error = failure(server, security="none")
    assert error.kind == "tls"
    assert "BADBUZZ_SMTP_SECURITY=starttls" in str(error)


def test_a_silent_server_times_out_and_says_to_check_the_security() -> None:
    # starttls spoken to an SSL port: the server waits for a TLS hello that never comes
    with SmtpServer(security="ssl") as server:
        error = failure(server, security="starttls", timeout_s=0.5)
    assert error.kind == "timeout"
    assert error.retryable
    assert "BADBUZZ_SMTP_SECURITY" in str(error)


@pytest.mark.parametrize(
    ("answer", "retryable"),
    [("550 5.1.1 no such user", False), ("452 4.2.2 mailbox full", True)],
)
def test_refused_recipients_are_rejected_and_4xx_may_be_retried(
    answer: str, retryable: bool
) -> None:
    with SmtpServer(refuse={address: answer for address in RECIPIENTS}) as server:
        error = failure(server)
    assert error.kind == "rejected"
    assert error.retryable is retryable
    assert answer in str(error)
    assert "BADBUZZ_ALERT_TO" in str(error)


def test_one_refused_recipient_fails_the_send_but_the_others_get_it() -> None:
    with SmtpServer(refuse={"oncall@example.org": "550 5.1.1 no such user"}) as server:
        error = failure(server)
        [received] = server.wait_for(1)
    assert error.kind == "rejected"
    assert "oncall@example.org" in str(error)
    assert received.recipients == ["owner@example.org"]
    # per recipient, for the outbox: who has it, who refused it and how
    assert error.delivered == ("owner@example.org",)
    assert error.refused == {"oncall@example.org": (550, "550 5.1.1 no such user")}


def test_given_recipients_are_the_envelope_and_the_headers_stay(plain: SmtpServer) -> None:
    settings = settings_for(plain)
    message = build_message(report(), settings, MESSAGE_ID)
    Mailer(settings).send(message, ["oncall@example.org"])
    [received] = plain.wait_for(1)
    assert received.recipients == ["oncall@example.org"]
    assert received.message["To"] == "owner@example.org, oncall@example.org"


def test_the_server_can_go_down_and_come_back_on_the_same_port(plain: SmtpServer) -> None:
    plain.stop()
    assert failure(plain).kind == "refused"
    plain.start()
    send(plain)
    assert len(plain.wait_for(1)) == 1


# --- badbuzz alerts send-test ---------------------------------------------------------


def send_test(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_badbuzz(
        "alerts",
        "send-test",
        *args,
        home=tmp_path / "home",
        env={"HOME": str(tmp_path), **env},
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize("recipient_from", ["env", "--to"])
def test_send_test_sends_a_sample_report_and_says_where(
    tmp_path: Path, recipient_from: str
) -> None:
    with SmtpServer(security="starttls", user="alerts", password="s3cret") as server:
        env = server.env()
        args: tuple[str, ...] = ()
        if recipient_from == "env":
            env["BADBUZZ_ALERT_TO"] = "owner@example.org"
        else:
            args = ("--to", "owner@example.org")
        done = send_test(tmp_path, env, *args)
        assert done.returncode == 0, done.stderr
        [received] = server.wait_for(1)

    assert received.recipients == ["owner@example.org"]
    # A long subject is folded before its first word; Python's parser keeps the fold's space.
    assert received.message["Subject"].lstrip().startswith("[test] [badbuzz] ")
    assert received.message["Message-ID"].startswith("<test-")
    assert "the app keeps crashing" in plain_text(received.message)
    where = f"via 127.0.0.1:{server.port} (starttls) in"
    assert done.stdout.startswith("sent to owner@example.org ")
    assert where in done.stdout


def test_send_test_names_the_failure_in_one_error_line(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "BADBUZZ_SMTP_HOST": "127.0.0.1",
        "BADBUZZ_SMTP_PORT": str(port),
        "BADBUZZ_SMTP_SECURITY": "none",
        "BADBUZZ_ALERT_TO": "owner@example.org",
    }
    done = send_test(tmp_path, env)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: nothing accepts connections at 127.0.0.1:")
    assert "BADBUZZ_SMTP_PORT" in line
    assert "Traceback" not in done.stderr


def test_send_test_says_which_setting_is_missing(tmp_path: Path) -> None:
    done = send_test(tmp_path, {"BADBUZZ_SMTP_HOST": "127.0.0.1"})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: BADBUZZ_ALERT_TO is not set: mail needs a server and recipients "
        "(BADBUZZ_ALERT_TO is comma-separated; --to overrides it)"
    )
