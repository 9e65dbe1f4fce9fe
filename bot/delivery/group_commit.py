"""Group commit for inbound webhooks: the texts that arrive together share a transaction.

Under a storm, dozens of webhooks are parsed while one write is in progress; storing
each in its own transaction would spend most of the time in per-transaction overhead.
One writer thread stores whatever has gathered, so the event loop never waits on the
database (a busy SQLite or a PostgreSQL lock stalls only the webhooks that need it).
A webhook is answered only after its batch commits. At low load a batch is one text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_BATCH = 256


class GroupCommit(Generic[Item, Result]):
    """Collects items while the writer is busy and stores them with one call."""

    def __init__(self, store: Callable[[Sequence[Item]], list[Result]]) -> None:
        self.store = store
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._draining = False
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-commit")

    async def submit(self, item: Item) -> Result:
        """Store `item` with whatever else arrived meanwhile; its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._store(batch)
        finally:
            self._draining = False

    async def _store(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(
                self._writer, self.store, [item for item, _ in batch]
            )
        except Exception as error:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(error)
                return
            # One bad item must not fail its neighbours: store them one by one.
            log.warning("group_commit.batch_failed", size=len(batch), error=repr(error))
            for single in batch:
                await self._store([single])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    def close(self) -> None:
        """Stop the writer thread (after the batch in hand)."""
        self._writer.shutdown(wait=True)
