"""An alert mail's delivery state in words, for the pages that list alerts (no Streamlit)."""

from __future__ import annotations

from typing import Any


def mail_status(mail: dict[str, Any]) -> str:
    """The mail's delivery state in words (`GET /alerts`' `mail`)."""
    tries = f"{mail['attempts']} {'try' if mail['attempts'] == 1 else 'tries'}"
    delivered = ", ".join(mail.get("delivered_to") or [])
    refused = ", ".join(mail.get("refused_by") or [])
    if mail.get("state") == "dead":
        words = f"**not delivered, given up** after {tries} ({mail['last_error']})"
        if refused:
            words += f"; refused for good by {refused}"
        if delivered:
            words += f"; {delivered} got it"
        return words
    if mail.get("state") == "held":
        return "**held back** by the hourly cap of alert mails: the next summary mail lists it"
    if mail.get("state") == "summarised":
        return "held back by the hourly cap, listed in a summary mail: " + _words(mail, tries)
    return _words(mail, tries)


def _words(mail: dict[str, Any], tries: str) -> str:
    """A mail on its way or sent: the alert's own, or the summary that lists it."""
    delivered = ", ".join(mail.get("delivered_to") or [])
    if mail["sent_at"]:
        return f"sent {mail['sent_at']}"
    if mail["last_error"]:
        words = f"not sent after {tries}, tried again later ({mail['last_error']})"
        return words + (f"; {delivered} got it already" if delivered else "")
    return "not sent yet"
