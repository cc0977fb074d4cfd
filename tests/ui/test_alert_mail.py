"""The Alerts page's mail line: each delivery state of `GET /alerts` in words, a dead
letter said as given up, with who refused it and who has it."""

from __future__ import annotations

from typing import Any

from ui.mail_words import mail_status


def mail(**fields: Any) -> dict[str, Any]:
    base = {
        "sent_at": None,
        "attempts": 0,
        "last_error": None,
        "state": "pending",
        "delivered_to": [],
        "refused_by": [],
    }
    return base | fields


def test_a_sent_mail_says_when() -> None:
    sent = mail(state="sent", sent_at="2026-12-04T10:00:00Z", attempts=1)
    assert mail_status(sent) == "sent 2026-12-04T10:00:00Z"


def test_a_dead_letter_says_it_was_given_up_who_refused_it_and_who_has_it() -> None:
    dead = mail(
        state="dead",
        attempts=1,
        last_error="refused the recipients oncall@x (550 5.1.1 no such user)",
        delivered_to=["owner@x"],
        refused_by=["oncall@x"],
    )
    words = mail_status(dead)
    assert words.startswith("**not delivered, given up** after 1 try (refused the recipients")
    assert "refused for good by oncall@x" in words
    assert "owner@x got it" in words


def test_a_mail_waiting_for_a_retry_says_so_and_who_has_it_already() -> None:
    waiting = mail(attempts=2, last_error="452 4.2.2 mailbox full", delivered_to=["owner@x"])
    words = mail_status(waiting)
    assert words.startswith("not sent after 2 tries, tried again later (452 4.2.2 mailbox full)")
    assert words.endswith("owner@x got it already")
    assert mail_status(mail()) == "not sent yet"


def test_an_older_api_without_a_state_still_reads() -> None:
    older = {"sent_at": None, "attempts": 3, "last_error": "down"}
    assert mail_status(older) == "not sent after 3 tries, tried again later (down)"


def test_a_mail_held_by_the_hourly_cap_says_so_and_then_which_summary_carries_it() -> None:
    assert "held back" in mail_status(mail(state="held"))
    listed = mail(state="summarised", sent_at="2026-12-04T11:00:00Z", attempts=1)
    assert mail_status(listed) == (
        "held back by the hourly cap, listed in a summary mail: sent 2026-12-04T11:00:00Z"
    )
    waiting = mail(state="summarised")
    assert mail_status(waiting).endswith("summary mail: not sent yet")
