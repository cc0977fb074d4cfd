"""`badbuzz alerts send-test`: check the mail settings before a real alert depends on them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from badbuzz.errors import UserError
from cli.tables import console

if TYPE_CHECKING:
    from ops.report import AlertContext

app = typer.Typer(help="Alert mail: check the BADBUZZ_SMTP_* settings.", no_args_is_help=True)


@app.command("send-test")
def send_test(
    to: Annotated[
        str | None,
        typer.Option(help="Send to this address instead of BADBUZZ_ALERT_TO.", metavar="ADDRESS"),
    ] = None,
) -> None:
    """Send a sample alert report through the BADBUZZ_SMTP_* server, and say where it went
    or what failed (the name, the connection, TLS, the login, the recipients)."""
    import dataclasses
    import time
    import uuid
    from datetime import UTC

    from pydantic import ValidationError

    from badbuzz.settings import OpsSettings, setting_name
    from ops.mailer import Mailer, build_message
    from ops.report import render_alert

    try:
        settings = OpsSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"BADBUZZ_{setting_name(e['loc']).upper()}: {e['msg']}" for e in error.errors()
        )
        raise UserError(f"invalid settings: {problems}") from error
    if to is not None:
        settings = settings.model_copy(
            update={"alert": settings.alert.model_copy(update={"to": [to]})}
        )
    missing = [
        name
        for name, value in (
            ("BADBUZZ_SMTP_HOST", settings.smtp.host),
            ("BADBUZZ_ALERT_TO", settings.alert.to),
        )
        if not value
    ]
    if missing:
        raise UserError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: mail "
            "needs a server and recipients "
            "(BADBUZZ_ALERT_TO is comma-separated; --to overrides it)"
        )
    mailer = Mailer(settings)
    context = sample_alert(datetime.now(UTC), settings.alert.threshold)
    rendered = render_alert(context)
    # so that no one who gets it takes it for a real alert
    rendered = dataclasses.replace(rendered, subject=f"[test] {rendered.subject}")
    message = build_message(rendered, settings, f"<test-{uuid.uuid4()}@badbuzz>")
    started = time.monotonic()
    mailer.send(message)
    console.print(
        f"sent to {', '.join(settings.alert.to)} via {mailer.endpoint} "
        f"in {time.monotonic() - started:.1f} s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def sample_alert(now: datetime, threshold: int) -> AlertContext:
    """An error-window alert as the service would raise it, with three flagged tweets and a
    day of hourly verdicts: made up, and its summary says so."""
    from ops.report import AlertContext, ErrorRate, FlaggedTweet, HourCount

    tweets = [
        ("my flight got cancelled and the app keeps crashing, great day", "positive", 0.81),
        ("not bad at all, the new seats are actually comfy", "negative", 0.22),
        ("I can't believe how good this customer service was!!", "negative", 0.41),
    ]
    flagged = [
        FlaggedTweet(text, label, p, now - timedelta(minutes=3 - i), "7")
        for i, (text, label, p) in enumerate(tweets)
    ]
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    hours = [
        HourCount(this_hour - timedelta(hours=23 - i), wrong=int(i % 6 == 0), judged=2 + i % 5)
        for i in range(24)
    ]
    hours[-1] = HourCount(this_hour, wrong=len(flagged), judged=5)
    return AlertContext(
        alert_id="send-test",
        rule="error_window",
        fired_at=now,
        window_start=now - timedelta(minutes=5),
        window_end=now,
        observed=len(flagged),
        threshold=threshold,
        summary=f"TEST from badbuzz alerts send-test: {len(flagged)} predictions flagged "
        "wrong in 5 minutes (sample data, nothing happened)",
        flagged=flagged,
        model_card={
            "name": "tweet-sentiment",
            "version": "7",
            "model_family": "logreg",
            "embedding_type": "tfidf",
            "threshold": 0.5,
        },
        error_rate_hour=ErrorRate(wrong=3, judged=5, predictions=120),
        error_rate_day=ErrorRate(
            wrong=sum(h.wrong for h in hours), judged=sum(h.judged for h in hours), predictions=2400
        ),
        hours=hours,
    )
