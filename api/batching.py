"""Dynamic batching of single-tweet requests, with no added wait.

Under load, requests arrive while the model is busy; scoring them together costs far less
than one call each (a scikit-learn pipeline spends most of a one-tweet call on per-call
overhead: 0.8 ms for one tweet, 0.17 ms per tweet in a batch of 8). A lone request is scored
at once: the batcher only gathers what is already waiting, it never holds a request back to
fill a batch.

Each request names the model it started with (a reload must not change the model under a
request in flight); a batch holds requests for one model only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from api.limits import Overloaded
from api.service import ServedModel
from badbuzz.bundle.model import Scored

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    model: ServedModel
    text: str
    result: asyncio.Future[Scored]


class DynamicBatcher:
    """Collects one-tweet requests in the event loop and scores them in batches of up to
    `max_batch`; at most `max_pending` wait, one more is refused (`Overloaded`). Start it
    inside the running loop; stop it on shutdown."""

    def __init__(
        self,
        max_batch: int = 64,
        on_batch: Callable[[int], None] = lambda size: None,
        max_pending: int = 1024,
    ) -> None:
        if max_batch < 1 or max_pending < 1:
            raise ValueError("max_batch and max_pending must be at least 1")
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.on_batch = on_batch  # told the size of every batch scored (e.g. a histogram)
        self._pending: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        while self._pending:
            item = self._pending.popleft()
            if not item.result.done():
                item.result.set_exception(RuntimeError("the API is shutting down"))

    async def predict(self, model: ServedModel, text: str) -> Scored:
        """`text` scored and labelled with `model`."""
        if self._task is None or self._task.done():
            raise RuntimeError("the batcher is not running")
        if len(self._pending) >= self.max_pending:
            raise Overloaded(
                f"{len(self._pending)} tweets already wait to be scored, the most this API "
                "queues: retry after the Retry-After seconds"
            )
        result: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(model, text, result))
        self._wake.set()
        return await result

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            # one pass of the loop: requests already read from their sockets join this batch
            await asyncio.sleep(0)
            while self._pending:
                self._score(self._take_batch())
            self._wake.clear()

    def _take_batch(self) -> list[_Pending]:
        model = self._pending[0].model
        batch: list[_Pending] = []
        others: list[_Pending] = []
        while self._pending and len(batch) < self.max_batch:
            item = self._pending.popleft()
            if item.result.cancelled():  # the client went away
                continue
            (batch if item.model is model else others).append(item)
        self._pending.extendleft(reversed(others))
        return batch

    def _score(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        try:
            scored = batch[0].model.classify([item.text for item in batch]).each()
            if len(scored) != len(batch):
                raise ValueError(f"the model gave {len(scored)} scores for {len(batch)} texts")
        except Exception as error:  # a model failure fails these requests, not the batcher
            log.exception("scoring a batch of %d failed", len(batch))
            for item in batch:
                if not item.result.done():
                    item.result.set_exception(error)
            return
        self.on_batch(len(batch))
        for item, result in zip(batch, scored, strict=True):
            if not item.result.done():
                item.result.set_result(result)
