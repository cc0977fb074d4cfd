"""The rule that lets a challenger trained on feedback take `@champion`.

Both models are scored on the same gate: the feedback gate (the part of the client's cleaned
feedback kept out of training) and the Sentiment140 manual test set. The challenger is
promoted only when all three hold:

1. **It is better where the client looks**: its positive precision (the KPI) on the
   feedback gate is at least the champion's plus `margin` (0.03). A gate of a few hundred
   tweets measures precision within a few points, so a smaller gain is noise (measured:
   +0.011 on 223 tweets came with lower accuracy on both gate parts), not a reason to swap.
2. **It has not forgotten the general case**: its accuracy on the manual test set is at
   least the champion's minus `manual_tolerance` (0.01). Feedback is few tweets, weighted
   up, and sometimes wrong: a challenger that learned them at the expense of ordinary
   tweets loses here.
3. **It keeps the positive-recall floor** (0.5, promotion's `DEFAULT_FLOOR`) on both gate
   parts: positive precision alone is bought by calling almost nothing positive. Where the
   champion is already under the floor (a client whose tweets it rarely calls positive),
   the challenger must not fall under the champion's recall: it is not refused for a floor
   the champion misses too.

A metric that cannot be computed (NaN) fails its condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from badbuzz.metric_names import DEFAULT_FLOOR, FLOOR_METRIC, KPI

FEEDBACK_GATE = "feedback"  # the gate part of the client's feedback
MANUAL = "manual"  # the Sentiment140 manual test set
GATE_PARTS = (FEEDBACK_GATE, MANUAL)

Scores = Mapping[str, Mapping[str, float]]  # gate part -> metric -> value


@dataclass(frozen=True)
class GateRule:
    margin: float = 0.03
    manual_tolerance: float = 0.01
    min_positive_recall: float = DEFAULT_FLOOR


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def decide(challenger: Scores, champion: Scores, rule: GateRule) -> GateDecision:
    """Promote or not; the reason lists the conditions that failed, or all of them when
    they held."""
    old_kpi, old_accuracy = champion[FEEDBACK_GATE][KPI], champion[MANUAL]["accuracy"]
    checks = [  # (what, the challenger's value, its bound, the bound said)
        (
            f"feedback {KPI}",
            challenger[FEEDBACK_GATE][KPI],
            old_kpi + rule.margin,
            f"champion's {old_kpi:.3f} + {rule.margin:g}",
        ),
        (
            "manual accuracy",
            challenger[MANUAL]["accuracy"],
            old_accuracy - rule.manual_tolerance,
            f"champion's {old_accuracy:.3f} - {rule.manual_tolerance:g}",
        ),
        *(
            (
                f"{part} {FLOOR_METRIC}",
                challenger[part][FLOOR_METRIC],
                min(rule.min_positive_recall, champion[part][FLOOR_METRIC]),
                f"floor {rule.min_positive_recall:g}"
                if champion[part][FLOOR_METRIC] >= rule.min_positive_recall
                else f"champion's {champion[part][FLOOR_METRIC]:.3f}, under the floor",
            )
            for part in GATE_PARTS
        ),
    ]
    held = [(what, value >= bound, value, said) for what, value, bound, said in checks]
    failed = [f"{what} {value:.3f} < {said}" for what, ok, value, said in held if not ok]
    if failed:
        return GateDecision(False, "refused: " + "; ".join(failed))
    return GateDecision(
        True,
        "promoted: " + "; ".join(f"{what} {value:.3f} >= {said}" for what, _, value, said in held),
    )
