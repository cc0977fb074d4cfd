"""The rule that lets a challenger trained on feedback take `@champion`.

Both models label the same tweets, each at its own threshold: the feedback gate (the client's
*latest* verdicts, kept out of training: the challenger learns from the earlier ones and is
judged on what came after, as it will be served) and the Sentiment140 manual test set. The
challenger is promoted only when all of these hold:

1. **The client gains**: on the feedback gate, the 95 % interval of its gain over the
   champion in the gate's metric (`accuracy`, or the KPI `positive_precision`) lies above 0
   (a paired bootstrap: the same resampled tweets for both models). A gate of a few hundred
   tweets measures a difference within a few points; the interval says how many, for this
   gate, instead of a fixed margin.
2. **The other one does not fall**: the interval of its change in the other metric does not
   lie wholly below 0 (calling a negative tweet positive is the costly error: an accuracy
   gain bought with positive precision is no gain; a precision gain bought by calling
   fewer tweets right is none either).
3. **It has not forgotten the general case**: its accuracy on the manual test set is at most
   `manual_tolerance` (0.02) below the champion's. Feedback is few tweets, weighted up, and
   sometimes wrong: a challenger that learned them at the expense of ordinary tweets loses
   here. Two points, not less: the manual set's 359 tweets measure a paired accuracy
   difference with a standard error of 1 to 1.7 points (measured 95 % intervals of +-2.2
   to +-3.4 points: the two models disagree on a few dozen tweets), so a one-point floor
   refuses sound challengers by chance; the forgetting it guards against costs more (a
   challenger trained on 600 shuffled verdicts: -4.7 points at weight 5, -13.1 at 50).
   Not more: a loss the size of the gain a client's verdicts bring to the manual set
   (+1.7 to +2.2 points measured on airline verdicts) is a real loss.
4. **It keeps the positive-recall floor** (0.5, promotion's `DEFAULT_FLOOR`) on both gate
   parts: positive precision alone is bought by calling almost nothing positive. Where the
   champion is already under the floor (a client whose tweets it rarely calls positive),
   the challenger must not fall under the champion's recall: it is not refused for a floor
   the champion misses too.

A metric that cannot be computed (NaN) fails its condition. The reason lists each condition
with its numbers, the failed ones when refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from badbuzz.metric_names import DEFAULT_FLOOR, FLOOR_METRIC, KPI

FEEDBACK_GATE = "feedback"  # the gate part of the client's feedback: its latest verdicts
MANUAL = "manual"  # the Sentiment140 manual test set
GATE_PARTS = (FEEDBACK_GATE, MANUAL)


GateMetric = Literal["accuracy", "positive_precision"]


@dataclass(frozen=True)
class GateRule:
    metric: GateMetric = "accuracy"  # what the client must gain; the other must not fall
    manual_tolerance: float = 0.02
    min_positive_recall: float = DEFAULT_FLOOR
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0


@dataclass(frozen=True)
class JudgedPart:
    """One gate part: the true labels (0/1) and each model's labels at its own threshold."""

    labels: np.ndarray
    champion: np.ndarray
    challenger: np.ndarray


@dataclass(frozen=True)
class Difference:
    """challenger - champion on a metric, with its paired-bootstrap interval."""

    value: float
    low: float
    high: float
    confidence: float

    def __str__(self) -> str:
        return (
            f"{self.value:+.3f} ({self.confidence:.0%} interval {self.low:+.3f} to "
            f"{self.high:+.3f})"
        )


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    differences: dict[str, Difference]  # "feedback accuracy", "feedback positive_precision"...


Metric = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (labels, predicted) rows -> values


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return np.mean(labels == predicted, axis=-1)


def positive_precision(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    called = predicted.sum(axis=-1)
    right = (predicted & labels).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(called > 0, right / np.maximum(called, 1), np.nan)


def positive_recall(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    positives = labels.sum(axis=-1)
    right = (predicted & labels).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(positives > 0, right / np.maximum(positives, 1), np.nan)


METRICS: dict[str, Metric] = {
    "accuracy": accuracy,
    KPI: positive_precision,
    FLOOR_METRIC: positive_recall,
}


def paired_bootstrap(part: JudgedPart, metric: Metric, rule: GateRule) -> Difference:
    """The metric's change from champion to challenger, and its percentile interval over
    `rule.resamples` resamples of the tweets (the same tweets for both models). Resamples
    where the metric is undefined (nothing called positive) are left out."""
    labels = np.asarray(part.labels, dtype=bool)
    if len(labels) == 0:
        return Difference(float("nan"), float("nan"), float("nan"), rule.confidence)
    old, new = np.asarray(part.champion, dtype=bool), np.asarray(part.challenger, dtype=bool)
    value = float(metric(labels, new) - metric(labels, old))
    rows = np.random.default_rng(rule.seed).integers(
        0, len(labels), size=(rule.resamples, len(labels))
    )
    changes = metric(labels[rows], new[rows]) - metric(labels[rows], old[rows])
    changes = changes[~np.isnan(changes)]
    if changes.size == 0:
        return Difference(value, float("nan"), float("nan"), rule.confidence)
    tail = (1 - rule.confidence) / 2 * 100
    low, high = np.percentile(changes, [tail, 100 - tail])
    return Difference(value, float(low), float(high), rule.confidence)


def part_metric(part: JudgedPart, name: str, model: str) -> float:
    labels = np.asarray(part.labels, dtype=bool)
    return float(METRICS[name](labels, np.asarray(getattr(part, model), dtype=bool)))


def decide(parts: Mapping[str, JudgedPart], rule: GateRule) -> GateDecision:
    """Promote or not; the reason lists the conditions that failed, or all of them when
    they held."""
    feedback, manual = parts[FEEDBACK_GATE], parts[MANUAL]
    other = KPI if rule.metric == "accuracy" else "accuracy"
    gain = paired_bootstrap(feedback, METRICS[rule.metric], rule)
    guard = paired_bootstrap(feedback, METRICS[other], rule)
    forgot = paired_bootstrap(manual, accuracy, rule)
    level = f"{rule.confidence:.0%}"
    checks: list[tuple[str, bool, str, str]] = [  # (what, held, if held, if not)
        (
            f"feedback {rule.metric} {gain}",
            gain.low > 0,
            "gain above 0",
            f"no gain at {level}",
        ),
        (
            f"feedback {other} {guard}",
            not guard.high < 0,
            "no loss",
            f"a loss at {level}",
        ),
        (
            f"manual accuracy {forgot.value:+.3f}",
            forgot.value >= -rule.manual_tolerance,
            f">= -{rule.manual_tolerance:g}",
            f"< -{rule.manual_tolerance:g}, forgetting",
        ),
    ]
    for name, part in parts.items():
        recall = part_metric(part, FLOOR_METRIC, "challenger")
        old = part_metric(part, FLOOR_METRIC, "champion")
        floor = min(rule.min_positive_recall, old)
        said = (
            f"floor {rule.min_positive_recall:g}"
            if old >= rule.min_positive_recall
            else f"champion's {old:.3f}, under the floor"
        )
        checks.append(
            (f"{name} {FLOOR_METRIC} {recall:.3f}", recall >= floor, f">= {said}", f"< {said}")
        )
    differences = {
        f"feedback {rule.metric}": gain,
        f"feedback {other}": guard,
        "manual accuracy": forgot,
    }
    failed = [f"{what}: {bad}" for what, held, _, bad in checks if not held]
    if failed:
        return GateDecision(False, "refused: " + "; ".join(failed), differences)
    held_said = "; ".join(f"{what}: {good}" for what, _, good, _ in checks)
    return GateDecision(True, "promoted: " + held_said, differences)
