"""The promotion gate of `badbuzz retrain` (training/feedback/gate.py): a paired bootstrap
on the client's latest verdicts, the manual set as a floor against forgetting, the
positive-recall floor, and a reason that says which held."""

from __future__ import annotations

import numpy as np
import pytest

from training.feedback.gate import (
    FEEDBACK_GATE,
    MANUAL,
    GateRule,
    JudgedPart,
    accuracy,
    decide,
    paired_bootstrap,
)

RULE = GateRule()


def judged(labels: np.ndarray, champion_wrong: range, challenger_wrong: range) -> JudgedPart:
    """Both models right everywhere except on the tweets they are said to get wrong."""

    def predicted(wrong: range) -> np.ndarray:
        labels_given = labels.copy()
        labels_given[list(wrong)] = 1 - labels_given[list(wrong)]
        return labels_given

    return JudgedPart(labels, predicted(champion_wrong), predicted(challenger_wrong))


# The later verdicts: 300 tweets, 85 % negative (255 negatives, then 45 positives).
FEEDBACK_LABELS = np.r_[np.zeros(255, dtype=int), np.ones(45, dtype=int)]
# The manual test set: 359 tweets, about half positive.
MANUAL_LABELS = np.r_[np.zeros(177, dtype=int), np.ones(182, dtype=int)]
MANUAL_AS_BEFORE = judged(MANUAL_LABELS, range(0, 60), range(0, 60))  # 0.833 for both


def test_a_challenger_better_on_the_later_verdicts_is_promoted() -> None:
    # the champion misreads 30 complaints as praise and 15 praises; the challenger 10 and 10
    feedback = judged(FEEDBACK_LABELS, range(225, 270), range(245, 265))
    decision = decide({FEEDBACK_GATE: feedback, MANUAL: MANUAL_AS_BEFORE}, RULE)
    assert decision.promote, decision.reason
    gain = decision.differences["feedback accuracy"]
    assert gain.value == pytest.approx(25 / 300)
    assert 0 < gain.low < gain.value < gain.high
    assert decision.reason.startswith("promoted: feedback accuracy +0.083 (95% interval +0.")


@pytest.mark.parametrize(
    ("feedback", "manual", "said"),
    [
        # worse on the later verdicts: the champion's and the challenger's errors swapped
        (
            judged(FEEDBACK_LABELS, range(245, 265), range(225, 270)),
            MANUAL_AS_BEFORE,
            "feedback accuracy -0.083",
        ),
        # two tweets better of 300: within the noise
        (
            judged(FEEDBACK_LABELS, range(230, 270), range(232, 270)),
            MANUAL_AS_BEFORE,
            ": no gain at 95%",
        ),
        # better for the client, but 18 more manual tweets wrong (-5 points): forgetting
        (
            judged(FEEDBACK_LABELS, range(225, 270), range(245, 265)),
            judged(MANUAL_LABELS, range(0, 60), range(0, 78)),
            "manual accuracy -0.050: < -0.02, forgetting",
        ),
    ],
)
def test_a_challenger_worse_or_forgetful_is_refused(
    feedback: JudgedPart, manual: JudgedPart, said: str
) -> None:
    decision = decide({FEEDBACK_GATE: feedback, MANUAL: manual}, RULE)
    assert not decision.promote
    assert decision.reason.startswith("refused: ")
    assert said in decision.reason


def test_two_points_lost_on_the_manual_set_are_tolerated() -> None:
    feedback = judged(FEEDBACK_LABELS, range(225, 270), range(245, 265))
    manual = judged(MANUAL_LABELS, range(0, 60), range(0, 67))  # 7 of 359: -1.9 points
    assert decide({FEEDBACK_GATE: feedback, MANUAL: manual}, RULE).promote


def test_a_challenger_that_calls_nothing_positive_is_refused_by_the_floor() -> None:
    # on 85 % negatives, calling everything negative is accurate: the floor refuses it
    champion = FEEDBACK_LABELS.copy()
    champion[:60] = 1  # 60 complaints read as praise: 0.80 accurate
    challenger = np.zeros_like(FEEDBACK_LABELS)  # 0.85 accurate, no positive tweet found
    decision = decide(
        {
            FEEDBACK_GATE: JudgedPart(FEEDBACK_LABELS, champion, challenger),
            MANUAL: MANUAL_AS_BEFORE,
        },
        RULE,
    )
    assert not decision.promote
    assert "feedback positive_recall 0.000: < floor 0.5" in decision.reason


def test_an_accuracy_gain_bought_with_the_kpi_is_refused() -> None:
    # the champion calls 25 of the 45 positives positive and no complaint: precision 1.0;
    # the challenger finds all 45 but reads 8 complaints as praise: +0.040 accuracy
    champion = np.zeros_like(FEEDBACK_LABELS)
    champion[255:280] = 1
    challenger = FEEDBACK_LABELS.copy()
    challenger[:8] = 1
    decision = decide(
        {
            FEEDBACK_GATE: JudgedPart(FEEDBACK_LABELS, champion, challenger),
            MANUAL: MANUAL_AS_BEFORE,
        },
        RULE,
    )
    assert decision.differences["feedback accuracy"].low > 0  # the gain is real
    assert not decision.promote
    assert "feedback positive_precision -0.151" in decision.reason
    assert ": a loss at 95%" in decision.reason


def test_the_interval_is_paired_and_seeded() -> None:
    part = judged(FEEDBACK_LABELS, range(225, 270), range(245, 265))
    first = paired_bootstrap(part, accuracy, RULE)
    assert paired_bootstrap(part, accuracy, RULE) == first
    # the same models on tweets where their errors coincide: no spread at all
    same = judged(FEEDBACK_LABELS, range(225, 270), range(225, 270))
    assert paired_bootstrap(same, accuracy, RULE).low == paired_bootstrap(same, accuracy, RULE).high


def test_every_failed_condition_is_said() -> None:
    feedback = judged(FEEDBACK_LABELS, range(245, 265), range(200, 300))
    manual = judged(MANUAL_LABELS, range(0, 60), range(100, 300))
    reason = decide({FEEDBACK_GATE: feedback, MANUAL: manual}, RULE).reason
    for said in ("feedback accuracy", "manual accuracy", "feedback positive_recall"):
        assert said in reason


def test_the_gate_metric_says_what_the_client_must_gain() -> None:
    # 12 complaints no longer read as praise, 7 praises missed: +5 tweets of 300 (noise),
    # but positive precision 45/65 -> 38/46 (+0.134)
    champion = FEEDBACK_LABELS.copy()
    champion[:20] = 1
    challenger = FEEDBACK_LABELS.copy()
    challenger[:8] = 1
    challenger[293:] = 0
    parts = {
        FEEDBACK_GATE: JudgedPart(FEEDBACK_LABELS, champion, challenger),
        MANUAL: MANUAL_AS_BEFORE,
    }
    by_accuracy = decide(parts, RULE)
    assert not by_accuracy.promote
    assert "feedback accuracy +0.017" in by_accuracy.reason and "no gain" in by_accuracy.reason
    by_kpi = decide(parts, GateRule(metric="positive_precision"))
    assert by_kpi.promote, by_kpi.reason
    assert by_kpi.reason.startswith("promoted: feedback positive_precision +0.134")


def test_a_gate_without_positive_tweets_cannot_keep_the_floor_and_refuses() -> None:
    negatives = np.zeros(200, dtype=int)
    feedback = judged(negatives, range(0, 40), range(0, 10))  # 30 more tweets right
    decision = decide({FEEDBACK_GATE: feedback, MANUAL: MANUAL_AS_BEFORE}, RULE)
    assert decision.differences["feedback accuracy"].low > 0
    assert not decision.promote
    assert "feedback positive_recall nan" in decision.reason
