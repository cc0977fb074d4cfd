"""What a serving benchmark reports: the figures of each server, by section, and the printed
summary (medians, ratios against the baseline server, fixed-width tables, the machine's load)."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bench.load import Load


@dataclass
class ServingReport:
    """Figures by server name, with how they were measured: closed loops of `seconds`, open
    loops at `rate` requests/s for `rate_seconds`; `baseline` the server the others are
    compared with."""

    baseline: str
    seconds: float
    rate: float
    rate_seconds: float
    closed: dict[str, Load] = field(default_factory=dict)
    open_loop: dict[str, Load] = field(default_factory=dict)
    batch_ms: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, str] = field(default_factory=dict)
    cold: dict[str, list[float]] = field(default_factory=dict)
    model_ms: dict[int, float] = field(default_factory=dict)  # per tweet, by batch size
    notes: list[str] = field(default_factory=list)

    def print(self, title: str, elapsed_s: float) -> None:
        print(f"\n=== {title} ({elapsed_s:.0f} s; {machine_load()}) ===")
        for note in self.notes:
            print(f"- {note}")
        if self.closed:
            tool = next(iter(self.closed.values())).tool
            print(f"\n1. Closed loop, one tweet per request, {tool}, {self.seconds:g} s each")
            self._closed_loop()
        if self.open_loop:
            print(
                f"\n2. Open loop at {self.rate:g} req/s for {self.rate_seconds:g} s (Python "
                "generator in its own process; latency from each request's scheduled time)"
            )
            print_table(
                [("server", 30), ("sent/s", 8), ("p50 ms", 8), ("p99 ms", 8), ("max ms", 9),
                 ("errors", 7), ("gen. lag p99 ms", 16)],
                [[name, fmt(load.rps), fmt(load.p50_ms, 2), fmt(load.p99_ms, 2),
                  fmt(load.max_ms), str(load.errors), fmt(load.late_p99_ms, 2)]
                 for name, load in self.open_loop.items()],
            )  # fmt: skip
        if self.batch_ms:
            print("\n3. One request with 1,000 tweets (goal: badbuzz median < 200 ms)")
            for name, times in self.batch_ms.items():
                print(
                    f"   {name:<28} median {statistics.median(times):7.1f} ms, "
                    f"min {min(times):7.1f}, max {max(times):7.1f} ({len(times)} calls)"
                )
        if self.model_ms:
            print("\n   The model alone (bundle predict_proba, in this process), ms per tweet:")
            print("   " + ", ".join(f"batch of {n}: {ms:.3f}" for n, ms in self.model_ms.items()))
        print("\n4. Memory after warm-up (RSS of the process tree; goal <= 250 MB, TFLite bundle)")
        for name, text in self.rss.items():
            print(f"   {name:<48} {text}")
        print("   Cold start, process start -> ready 200 (goal <= 3 s)")
        for name, times in self.cold.items():
            print(
                f"   {name:<48} median {statistics.median(times):5.2f} s "
                f"(runs: {', '.join(f'{t:.2f}' for t in times)})"
            )

    def _closed_loop(self) -> None:
        print_table(
            [("server", 30), ("req/s", 9), ("p50 ms", 8), ("p99 ms", 8), ("max ms", 8),
             ("errors", 7)],
            [[name, fmt(load.rps), fmt(load.p50_ms, 2), fmt(load.p99_ms, 2), fmt(load.max_ms),
              str(load.errors)] for name, load in self.closed.items()],
        )  # fmt: skip
        base = self.closed.get(self.baseline)
        if base is None:
            return
        for name, load in self.closed.items():
            if name != self.baseline:
                print(
                    f"   {name} / {self.baseline}: throughput {load.rps / base.rps:.1f}x "
                    f"(goal >= 5x), p50 {load.p50_ms / base.p50_ms:.2f}x (goal <= 0.20x)"
                )


def fmt(value: float, digits: int = 1) -> str:
    """A figure with thousands separators; "-" for NaN (not measured)."""
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def machine_load() -> str:
    """The load average, so that a reader can tell a busy machine's figures."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def print_table(columns: Sequence[tuple[str, int]], rows: Iterable[Sequence[str]]) -> None:
    """Header and rows; `columns` are (title, width), the first left-aligned, the rest right."""
    for cells in ([title for title, _ in columns], *rows):
        (first, width), *rest = zip(cells, (width for _, width in columns), strict=True)
        print(" ".join([f"{first:<{width}}", *(f"{cell:>{w}}" for cell, w in rest)]))
