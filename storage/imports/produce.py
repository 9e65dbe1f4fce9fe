"""The producer: read, check and shape every row, and hand chunks to the writer.

The producer runs beside the writer so that two cores share a million-row import: in a
process of its own for a big file ("spawn": safe beside the server's threads), in a
thread for a small one, where starting a process costs more than it saves. Items on
the queue: ("rows", count, compact rows or None, FastChunk or None, fraction read),
then ("end", rows read, rejected, kept rejects, whether a rejects file was written),
or ("error", exception), which the writing side raises.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from storage.imports.check import Reject, RowRules, ValidRow
from storage.imports.header import plan_columns
from storage.imports.options import Job
from storage.imports.read import SheetError, open_sheet
from storage.imports.rejects import RejectsFile
from storage.imports.shape import Shaper

__all__ = ["HEADER_SAMPLE", "can_spawn", "in_process", "in_thread"]

# Rows looked at before the header is judged (data under a blank heading).
HEADER_SAMPLE = 1000
# Rejects kept in the summary for the report; every one goes to the rejects file.
KEEP_REJECTS = 100


def produce(job: Job, put: Callable[[Any], bool]) -> None:
    """Read and check every row, handing on chunks, then ("end", counts, rejects)."""
    try:
        with open_sheet(job.path) as sheet, RejectsFile(job.rejects_path) as rejects:
            sample = list(itertools.islice(sheet.rows, HEADER_SAMPLE))
            plan = plan_columns(sheet.header, [v for _, v in sample], custom=job.custom)
            check = RowRules(plan, region=job.region).check
            shaper = Shaper(job)
            read = rejected = 0
            kept: list[Reject] = []
            chunk: list[ValidRow] = []
            for number, cells in itertools.chain(sample, sheet.rows):
                read += 1
                row = check(number, cells)
                if isinstance(row, Reject):
                    rejected += 1
                    if len(kept) < KEEP_REJECTS:
                        kept.append(row)
                    rejects.write(plan, row)
                    continue
                chunk.append(row)
                if len(chunk) >= job.chunk_rows:
                    if not put(("rows", len(chunk), *shaper.chunk(chunk), sheet.progress())):
                        return
                    chunk = []
            if chunk and not put(("rows", len(chunk), *shaper.chunk(chunk), 1.0)):
                return
            put(("end", read, rejected, kept, rejects.opened))
    except BaseException as error:  # the writing side raises it
        put(("error", error))


def in_thread(job: Job) -> Iterator[Any]:
    """The producer in a thread: for small files, where a process costs more than it saves."""
    # A short queue bounds memory: the producer waits while the writer catches up.
    items: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    thread = threading.Thread(target=produce, args=(job, put), name="import-reader", daemon=True)
    thread.start()
    try:
        yield from _drain(items.get, thread.is_alive)
    finally:
        stop.set()
        thread.join()


def _produce_in_process(job: Job, items: Any) -> None:
    gc.disable()  # this process only makes short-lived rows (see storage/imports/run.py's GcPause)

    def put(item: Any) -> bool:
        if item[0] == "error":
            item = ("error", _portable(item[1]))
        items.put(item)
        return True

    produce(job, put)


def _portable(error: BaseException) -> BaseException:
    """An error that survives pickling back to the writing process."""
    if isinstance(error, SheetError):
        return SheetError(str(error))
    return RuntimeError(f"the import's reader failed: {error!r}")


def can_spawn() -> bool:
    """A spawned process re-imports __main__ from its file: it must have one (not stdin)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return path is None or Path(path).exists()


def in_process(job: Job) -> Iterator[Any]:
    """The producer in a process of its own ("spawn": safe beside the server's threads)."""
    context = multiprocessing.get_context("spawn")
    # A short queue bounds memory (peak under 200 MB for a million rows): the producer
    # waits while the writer catches up; a few chunks in flight let both sides work.
    items = context.Queue(maxsize=4)
    process = context.Process(
        target=_produce_in_process, args=(job, items), name="import-reader", daemon=True
    )
    process.start()
    try:
        yield from _drain(items.get, process.is_alive)
    finally:
        if process.is_alive():
            process.terminate()
        process.join(10)
        items.close()


def _drain(get: Callable[..., Any], alive: Callable[[], bool]) -> Iterator[Any]:
    while True:
        try:
            item = get(timeout=1.0)
        except queue.Empty:
            if not alive():
                raise RuntimeError("the import's reader stopped without a word") from None
            continue
        if item[0] == "error":
            raise item[1]
        yield item
        if item[0] == "end":
            return
