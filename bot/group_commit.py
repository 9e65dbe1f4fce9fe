"""Group commit for inbound webhooks: the texts that arrive together share a transaction.

Under a storm, dozens of webhooks are parsed in one turn of the event loop; storing
each in its own transaction would spend most of the time in per-transaction overhead.
A webhook waits for its batch's commit before it is answered, so an answered webhook
is always stored. At low load a batch is one text and adds no wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_BATCH = 256


class GroupCommit(Generic[Item, Result]):
    """Collects items submitted in one loop turn and stores them with one call."""

    def __init__(self, store: Callable[[Sequence[Item]], list[Result]]) -> None:
        self.store = store
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._scheduled = False

    async def submit(self, item: Item) -> Result:
        """Store `item` with whatever else arrived meanwhile; its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            self._store(batch)

    def _store(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = self.store([item for item, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                batch[0][1].set_exception(error)
                return
            # One bad item must not fail its neighbours: store them one by one.
            log.warning("group_commit.batch_failed", size=len(batch), error=repr(error))
            for single in batch:
                self._store([single])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.cancelled():
                future.set_result(result)
