"""How many events a count must reach to be improbable: the upper quantile of a Poisson count,
or of an over-dispersed one (a negative binomial with variance `dispersion` x mean, the
quasi-Poisson of outbreak detection, e.g. Farrington et al. 1996).

Written here rather than imported from SciPy: the serving image (the NAS's, LiteRT only) has
no SciPy, and the bad-buzz watch needs one quantile per window, a few dozen terms each.
"""

from __future__ import annotations

import math
from collections.abc import Callable

MAX_TERMS = 100_000  # a mean this large is judged by its normal tail instead


def tail_probability(z: float) -> float:
    """The one-sided normal tail beyond `z` standard deviations (z = 4: 3.2e-5)."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def upper_quantile(mean: float, dispersion: float, alpha: float) -> int:
    """The smallest count k with P(X >= k) <= alpha, X of mean `mean` and variance
    `dispersion` * mean (Poisson when dispersion is 1)."""
    if mean <= 0:
        return 1
    if mean * dispersion > MAX_TERMS / 10:
        z = math.sqrt(2) * _erfc_inverse(2 * alpha)
        return math.ceil(mean + z * math.sqrt(dispersion * mean))
    log_pmf = _log_pmf(mean, dispersion)
    below = 0.0  # P(X < k)
    for k in range(MAX_TERMS):
        if 1.0 - below <= alpha:
            return k
        below += math.exp(log_pmf(k))
    return MAX_TERMS


def _log_pmf(mean: float, dispersion: float) -> Callable[[int], float]:
    if dispersion <= 1.0 + 1e-9:
        log_mean = math.log(mean)
        return lambda k: k * log_mean - mean - math.lgamma(k + 1)
    size = mean / (dispersion - 1.0)  # r, with p = 1 / dispersion
    log_p, log_q = -math.log(dispersion), math.log1p(-1.0 / dispersion)
    base = size * log_p - math.lgamma(size)
    return lambda k: base + math.lgamma(k + size) - math.lgamma(k + 1) + k * log_q


def _erfc_inverse(y: float) -> float:
    """x with erfc(x) = y, by bisection: only reached for huge means, so speed is moot."""
    low, high = -10.0, 10.0
    for _ in range(200):
        middle = (low + high) / 2
        if math.erfc(middle) > y:
            low = middle
        else:
            high = middle
    return (low + high) / 2
