"""Model drift: the served model's recent scores against the validation scores its bundle was
recorded with (`badbuzz.bundle.manifest.DriftReference`).

Two measures of one window of predictions: the PSI (population stability index) of the
P(positive) histogram, bins the reference's, an empty bin counted as `epsilon`; and the z of
the share predicted negative, a two-proportion test against the validation share. The window
is counted in SQL (a CASE over the bin edges), so an hour of heavy traffic is one query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from badbuzz.bundle.manifest import DriftReference
from ops.database import predictions


def psi(expected: list[float], actual: list[float], epsilon: float) -> float:
    """Population stability index of `actual` against `expected` (bin shares, same bins):
    sum of (a - e) * ln(a / e), a share of 0 taken as `epsilon`."""
    if len(expected) != len(actual):
        raise ValueError(f"{len(actual)} bins against a reference of {len(expected)}")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, epsilon), max(a, epsilon)
        total += (a - e) * math.log(a / e)
    return total


def share_z(reference_share: float, reference_count: int, share: float, count: int) -> float:
    """Two-proportion z of `share` (of `count`) against `reference_share` (of
    `reference_count`), pooled; 0 where both shares are 0 or both 1."""
    pooled = (reference_share * reference_count + share * count) / (reference_count + count)
    variance = pooled * (1 - pooled) * (1 / reference_count + 1 / count)
    if variance <= 0:
        return 0.0
    return (share - reference_share) / math.sqrt(variance)


@dataclass(frozen=True)
class WindowScores:
    """A window's predictions: how many, per bin, and how many under the threshold."""

    count: int
    bins: list[int]
    negatives: int

    @property
    def fractions(self) -> list[float]:
        return [b / self.count for b in self.bins] if self.count else [0.0] * len(self.bins)

    @property
    def negative_share(self) -> float:
        return self.negatives / self.count if self.count else 0.0


def window_scores(
    connection: Connection,
    model_version: str,
    since: datetime,
    until: datetime,
    reference: DriftReference,
) -> WindowScores:
    """The predictions of `model_version` made in (since, until], binned as the reference."""
    score = predictions.c.probability_positive
    size = len(reference.fractions)
    # bin i holds [i/size, (i+1)/size); the last one also 1.0, as numpy.histogram does
    edges = [(score < (i + 1) / size, i) for i in range(size - 1)]
    bin_of = case(*edges, else_=size - 1).label("bin")
    rows = connection.execute(
        select(
            bin_of,
            func.count().label("n"),
            func.count().filter(score < reference.threshold).label("negatives"),
        )
        .where(
            predictions.c.model_version == model_version,
            predictions.c.created_at > since,
            predictions.c.created_at <= until,
        )
        .group_by(bin_of)
    ).all()
    bins = [0] * size
    negatives = 0
    for row in rows:
        bins[int(row.bin)] += int(row.n)
        negatives += int(row.negatives)
    return WindowScores(sum(bins), bins, negatives)


@dataclass(frozen=True)
class DriftMeasure:
    psi: float
    z: float


def measure(scores: WindowScores, reference: DriftReference, epsilon: float) -> DriftMeasure:
    return DriftMeasure(
        psi(reference.fractions, scores.fractions, epsilon),
        share_z(reference.negative_share, reference.count, scores.negative_share, scores.count),
    )


def reference_of(values: dict[str, Any] | None) -> DriftReference | None:
    """A manifest's `drift_reference`, or None where the bundle has none."""
    return None if values is None else DriftReference.from_dict(values)
