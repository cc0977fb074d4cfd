"""The dynamic batcher: requests waiting together are scored in one call, each gets its own
score back, a lone request is not held back, and batches never mix two models."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api.batching import DynamicBatcher
from api.limits import Overloaded
from api.resolve import ResolvedBundle
from api.service import ServedModel
from badbuzz.bundle.model import Classified


class LengthModel:
    """Scores a text by its length (so every text has its own, checkable score) and records
    the size of every call; `fail` makes it raise, `short` makes it drop the last score."""

    def __init__(self, fail: bool = False, short: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail
        self.short = short

    def classify(self, texts: Sequence[str]) -> Classified:
        self.calls.append(len(texts))
        if self.fail:
            raise ValueError("model exploded")
        scores = np.array([len(t) / 1000 for t in texts][: -1 if self.short else None])
        return Classified(scores, ["positive"] * len(scores))


async def score(batcher: DynamicBatcher, model: ServedModel, text: str) -> float:
    """The P(positive) the batcher answers `text` with."""
    return (await batcher.predict(model, text)).p_positive


def served(model: LengthModel, version: str = "1") -> ServedModel:
    source = ResolvedBundle(Path("/nowhere"), "tweet-sentiment", version)
    return ServedModel(model, source)  # type: ignore[arg-type]


async def with_batcher(max_batch: int, work: Any, max_pending: int = 1024) -> Any:
    batcher = DynamicBatcher(max_batch, max_pending=max_pending)
    batcher.start()
    try:
        return await work(batcher)
    finally:
        await batcher.stop()


def texts(n: int) -> list[str]:
    return ["x" * (i + 1) for i in range(n)]


def test_concurrent_requests_are_scored_together_each_getting_its_own_score() -> None:
    model = LengthModel()
    current = served(model)

    async def work(batcher: DynamicBatcher) -> list[float]:
        return await asyncio.gather(*(score(batcher, current, t) for t in texts(40)))

    scores = asyncio.run(with_batcher(16, work))
    assert scores == [len(t) / 1000 for t in texts(40)]
    assert sum(model.calls) == 40
    assert max(model.calls) == 16, "batches fill up to max_batch"
    assert len(model.calls) == 3


def test_a_lone_request_is_scored_at_once() -> None:
    model = LengthModel()
    current = served(model)

    async def work(batcher: DynamicBatcher) -> list[float]:
        return [await score(batcher, current, t) for t in texts(3)]

    assert asyncio.run(with_batcher(16, work)) == [0.001, 0.002, 0.003]
    assert model.calls == [1, 1, 1]


def test_a_batch_holds_one_model_only() -> None:
    old, new = LengthModel(), LengthModel()
    before, after = served(old, "1"), served(new, "2")

    async def work(batcher: DynamicBatcher) -> list[float]:
        mixed = [(before if i % 2 else after, t) for i, t in enumerate(texts(10))]
        return await asyncio.gather(*(score(batcher, m, t) for m, t in mixed))

    scores = asyncio.run(with_batcher(64, work))
    assert scores == [len(t) / 1000 for t in texts(10)]
    assert sum(old.calls) == 5 and sum(new.calls) == 5


@pytest.mark.parametrize(
    ("broken", "message"),
    [(LengthModel(fail=True), "exploded"), (LengthModel(short=True), "2 scores for 3 texts")],
)
def test_a_failing_model_fails_its_requests_not_the_batcher(
    broken: LengthModel, message: str
) -> None:
    healthy = LengthModel()

    async def work(batcher: DynamicBatcher) -> tuple[list[Any], float]:
        current = served(broken)
        failed = await asyncio.gather(
            *(score(batcher, current, t) for t in texts(3)), return_exceptions=True
        )
        return failed, await score(batcher, served(healthy), "fine")

    failed, after = asyncio.run(with_batcher(8, work))
    assert all(isinstance(e, ValueError) and message in str(e) for e in failed), failed
    assert after == pytest.approx(0.004)


def test_a_cancelled_request_is_not_scored() -> None:
    model = LengthModel()
    current = served(model)

    async def work(batcher: DynamicBatcher) -> float:
        gone = asyncio.ensure_future(batcher.predict(current, "client went away"))
        await asyncio.sleep(0)  # queued, not yet scored
        gone.cancel()
        return await score(batcher, current, "abc")

    assert asyncio.run(with_batcher(8, work)) == pytest.approx(0.003)
    assert sum(model.calls) == 1


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DynamicBatcher(0)


def test_past_max_pending_a_request_is_refused_not_queued() -> None:
    model = LengthModel()
    current = served(model)

    async def work(batcher: DynamicBatcher) -> list[Any]:
        return await asyncio.gather(
            *(score(batcher, current, t) for t in texts(3)), return_exceptions=True
        )

    first, second, third = asyncio.run(with_batcher(8, work, max_pending=2))
    assert (first, second) == (0.001, 0.002)
    assert isinstance(third, Overloaded) and third.retry_after_s == 1
    assert "2 tweets already wait to be scored" in third.message
    assert model.calls == [2]
