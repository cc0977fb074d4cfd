"""Back-test of the bad-buzz watch on a real week of an airline's mentions, scored against
the events of `bench/buzz_events.csv` (README, "The bad-buzz watch", says how they were
chosen), with the default BADBUZZ_BUZZ_* settings.

The file is read and replayed by the code of `badbuzz buzz replay` (`ops.replay`), twice:
with the people's labels as the negatives (the detector alone) and with a model's calls (the
product: --bundle, else TF-IDF + logistic regression fitted here on 20,000 Sentiment140
tweets, as bench.buzz does). For each: every alert; per event, whether an alert of the brand
fell inside it and how long after its first hour; alerts outside every event, per brand-week;
alerts on a source change; and the replay's speed (goal: >= 2,000 tweets/s, scoring included).

    .venv/bin/python -m bench.buzz_backtest [--data FILE] [--events FILE] [--bundle DIR]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from badbuzz.bundle.model import ModelBundle
from badbuzz.settings import OpsSettings
from bench.report import fmt, machine_load, print_table
from ops.brands import BrandMatcher
from ops.buzz import Buzz
from ops.replay import HistoricalTweet, Replay, detect, read_tweets, replay

DATA = Path(__file__).resolve().parents[1].parent / "shared/data/airline-dev/tweets.csv.gz"
EVENTS = Path(__file__).with_name("buzz_events.csv")
SURGE, SOURCE_CHANGE = "surge", "source change"
GOAL_DELAY = timedelta(hours=3)
SPEED_GOAL = 2_000.0


@dataclass(frozen=True)
class Event:
    brand: str
    kind: str
    first_hour: datetime
    end: datetime

    def holds(self, buzz: Buzz) -> bool:
        return buzz.brand == self.brand and self.first_hour <= buzz.at < self.end


def read_events(path: Path) -> list[Event]:
    with path.open(encoding="utf-8", newline="") as file:
        return [
            Event(
                row["brand"],
                row["kind"],
                datetime.fromisoformat(row["first_hour"]),
                datetime.fromisoformat(row["end"]),
            )
            for row in csv.DictReader(file)
        ]


def score(result: Replay, events: list[Event], tweets: list[HistoricalTweet], title: str) -> None:
    zone = events[0].first_hour.tzinfo if events else None
    print(f"\n{title}: {len(result.buzzes)} alerts ({result.tweets_per_s:,.0f} tweets/s)")
    for buzz in result.buzzes:
        inside = next((e.kind for e in events if e.holds(buzz)), "outside every event")
        print(f"  {buzz.at.astimezone(zone):%a %d %H:%M}  {buzz.reason:<8} {buzz.summary}")
        print(f"  {'':<18} -> {inside}")
    rows = []
    for event in (e for e in events if e.kind == SURGE):
        found = [b for b in result.buzzes if event.holds(b)]
        delay = (found[0].at - event.first_hour) if found else None
        rows.append(
            [
                event.brand,
                f"{event.first_hour:%d %H:%M}",
                "yes" if found else "NO",
                "" if delay is None else fmt(delay.total_seconds() / 3600, 1),
                str(len(found)),
            ]
        )
    print_table([("surge", 12), ("from", 9), ("found", 6), ("delay h", 8), ("alerts", 7)], rows)
    first, last = tweets[0].at, tweets[-1].at
    weeks = (last - first) / timedelta(days=7)
    brands = sorted({t.brand for t in tweets})
    false_rows = []
    for brand in brands:
        outside = [
            b for b in result.buzzes if b.brand == brand and not any(e.holds(b) for e in events)
        ]
        on_source = [
            b
            for b in result.buzzes
            if any(e.kind == SOURCE_CHANGE and e.holds(b) for e in events) and b.brand == brand
        ]
        false_rows.append(
            [brand, str(len(outside)), fmt(len(outside) / weeks, 2), str(len(on_source))]
        )
    print_table(
        [("brand", 16), ("false", 6), ("per week", 9), ("on source change", 17)], false_rows
    )
    delays = [float(r[3]) for r in rows if r[3]]
    found_count = sum(r[2] == "yes" for r in rows)
    print(
        f"  events found {found_count}/{len(rows)}; delay median "
        f"{fmt(statistics.median(delays), 1) if delays else '-'} h (goal for United's: "
        f"<= {GOAL_DELAY.total_seconds() / 3600:g} h); false alerts "
        f"{sum(int(r[1]) for r in false_rows)} over {len(brands)} brands x {weeks:.2f} weeks"
    )


def fit_bundle(folder: Path) -> Path:
    from bench.buzz import fit_bundle as fit

    return fit(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the airline-dev file")
    parser.add_argument("--events", type=Path, default=EVENTS)
    parser.add_argument("--bundle", type=Path, help="a bundle folder; default: fitted here")
    args = parser.parse_args()
    print(f"bench.buzz_backtest on {machine_load()}")
    settings = OpsSettings(_env_file=None)  # type: ignore[call-arg]
    events = read_events(args.events)
    tweets = read_tweets(
        args.data,
        "text",
        "tweet_created",
        "airline",
        BrandMatcher(settings.brands),
        label_column="airline_sentiment",
    )
    first, last = tweets[0].at, tweets[-1].at
    print(f"{len(tweets):,} tweets of {args.data}, {first:%Y-%m-%d} to {last:%Y-%m-%d}")
    labelled = detect(tweets, [t.label == "negative" for t in tweets], settings)
    score(labelled, events, tweets, "People's labels as the negatives (the detector alone)")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        bundle_dir = args.bundle or fit_bundle(Path(tmp) / "bundle")
        bundle = ModelBundle.load(bundle_dir)
        fitted = "" if args.bundle else f", fitted in {time.perf_counter() - started:.0f} s"
        name = f"{bundle.manifest.metadata.get('model_family', 'model')}{fitted}"
        result = replay(tweets, bundle, settings)
    called = sum(1 for _ in result.buzzes)
    score(result, events, tweets, f"The model's calls ({name})")
    verdict = "met" if result.tweets_per_s >= SPEED_GOAL else "NOT met"
    print(
        f"\nreplay speed with scoring: {result.tweets_per_s:,.0f} tweets/s "
        f"(goal {SPEED_GOAL:,.0f}: {verdict}); {called} alerts"
    )
    print(f"done on {machine_load()}")


if __name__ == "__main__":
    main()
