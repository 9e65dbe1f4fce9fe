"""The orchestrator: `import_file` checks the header, then runs the producer and writer.

The header is checked before anything is written (HeaderError lists every problem).
A million rows must import in a third of `sqlite-utils insert`'s time on two cores, so
the producer (read, check, shape: storage/imports/produce.py) runs beside this
process's writer (storage/imports/write.py), and cyclic garbage collection pauses
while rows stream through (`GcPause`).
"""

from __future__ import annotations

import gc
import itertools
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from storage.db import Database
from storage.imports.header import plan_columns
from storage.imports.options import ImportOptions, ImportSummary, Job
from storage.imports.phones import check_region
from storage.imports.produce import HEADER_SAMPLE, can_spawn, in_process, in_thread
from storage.imports.read import open_sheet
from storage.imports.write import Batcher
from storage.lists import ListError, ListInfo, ensure_static_list, find_list
from storage.models import utcnow

__all__ = ["import_file"]

# Rows the producer hands over at a time; a batch (a transaction) is one or more.
CHUNK_ROWS = 5000
# Files at least this big are read and checked in a process of their own.
PROCESS_FROM_BYTES = 4_000_000


def import_file(
    path: Path | str,
    *,
    db: Database,
    options: ImportOptions | None = None,
    progress: Callable[[float], None] | None = None,
    now: datetime | None = None,
) -> ImportSummary:
    """Import a spreadsheet; HeaderError, SheetError or ListError (nothing written) if not.

    `progress` is called after each chunk of rows with the fraction of the file read.
    """
    options = options or ImportOptions()
    path = Path(path)
    now = now or utcnow()
    summary = ImportSummary(dry_run=options.dry_run, list_name=options.list_name)
    with open_sheet(path) as sheet:
        summary.kind = sheet.kind
        sample = [values for _, values in itertools.islice(sheet.rows, HEADER_SAMPLE)]
        plan_columns(sheet.header, sample, custom=options.custom)  # HeaderError: stop here
    check_region(options.region)
    target = _target_list(db, options, now)
    if target is not None:
        summary.list_name = target.name
    job = Job(
        path=path,
        region=options.region,
        custom=options.custom,
        chunk_rows=min(options.batch_size, CHUNK_ROWS),
        # A dry run writes nothing, not even the rejects file.
        rejects_path=None if options.dry_run else options.rejects_path,
        now=now,
        opt_in_source=options.opt_in_source or f"import:{path.name}",
        fast=db.is_sqlite and not options.dry_run,
        create_new=options.create_new,
        update_existing=options.update_existing,
        active_policy=options.active_policy,
    )
    parallel = options.parallel
    if parallel is None:
        parallel = path.stat().st_size >= PROCESS_FROM_BYTES
    parallel = parallel and can_spawn()
    batcher = Batcher(
        db=db,
        options=options,
        summary=summary,
        list_id=target.id if target else None,
        now=now,
        opt_in_source=job.opt_in_source,
    )
    ok = False
    with GC_PAUSE:
        try:
            for item in (in_process if parallel else in_thread)(job):
                if item[0] == "rows":
                    _, count, rows, fast, fraction = item
                    batcher.run(count, rows, fast)
                    if progress is not None:
                        progress(fraction)
                else:
                    _, summary.rows, summary.rejected, summary.rejects, opened = item
                    summary.rejects_path = options.rejects_path if opened else None
            ok = True
        finally:
            batcher.close(ok=ok)
    if progress is not None:
        progress(1.0)
    return summary


class GcPause:
    """No cyclic garbage collection while rows stream through.

    A chunk is some 100,000 fresh objects with no cycles among them; collections that
    walk them cost a fifth of an import. Imports running at once share the pause, and
    the collector comes back as it was when the last one ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._was_enabled:
                gc.enable()


GC_PAUSE = GcPause()


def _target_list(db: Database, options: ImportOptions, now: datetime) -> ListInfo | None:
    """The static list rows join; created now unless this is a dry run."""
    if not options.list_name:
        return None
    if options.dry_run:
        with db.read() as session:
            info = find_list(session=session, name=options.list_name)
        if info is not None and info.dynamic:
            raise ListError(f'list "{info.name}" is dynamic (a saved filter): it takes no rows')
        return info
    with db.write() as session:
        return ensure_static_list(session=session, name=options.list_name, now=now)
