"""What a check says (`CheckResult`), and the deadline every check runs under (`Background`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

Status = Literal["ok", "warn", "fail", "skipped"]
T = TypeVar("T")


@dataclass(frozen=True)
class CheckResult:
    """One line of the doctor's report.

    `fail` means the stack cannot serve as configured (the doctor exits 1); `warn` means it
    serves, worse or without something (alert mail, a runtime, disk to grow); `skipped`
    means the check does not apply here.
    """

    check: str
    status: Status
    detail: str  # what was found
    action: str = ""  # what to do about it; empty when nothing

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "status": self.status,
            "detail": self.detail,
            "action": self.action,
        }


class Background(Generic[T]):
    """`work()` in a daemon thread, waited for at most until a deadline: a check stuck in a
    call that ignores its own timeout (a DNS lookup, a hung server) cannot hang the doctor,
    nor keep its process alive at exit."""

    def __init__(self, work: Callable[[], T], seconds: float) -> None:
        self.seconds = seconds
        self._deadline = time.monotonic() + seconds
        self._value: list[T] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], T]) -> None:
        try:
            self._value.append(work())
        except BaseException as error:  # handed to the caller in `result`
            self._error.append(error)

    def result(self) -> T | None:
        """The value, None when the deadline passed first; re-raises what `work` raised."""
        self._thread.join(max(0.0, self._deadline - time.monotonic()))
        if self._error:
            raise self._error[0]
        return self._value[0] if self._value else None
