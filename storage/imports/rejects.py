"""Check's output for people: the rejects file, every rejected row with its reason.

A rejects file, fixed, imports again as it is: its reason column is skipped by the
header check (`IGNORED_KEYS`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from storage.imports.check import FORMULA_STARTS, Reject
from storage.imports.header import IGNORED_KEYS, REASON_HEADER, ColumnPlan, normalise_header

__all__ = ["RejectsFile", "RejectsWriter", "neutralise"]


def neutralise(cell: str) -> str:
    """Cells that a spreadsheet would run as a formula get a leading quote (CSV injection).

    The check stage takes the quote off again when a rejects file is imported
    (`unguard`), so a fixed rejects file stores what the original row said.
    """
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


class RejectsWriter:
    """Writes rejected rows with their original values and a reason column.

    UTF-8 with a BOM, because Excel reads a BOM-less CSV as Windows-1252. A rejects
    file, fixed, imports again as it is: the importer skips the reason column.
    """

    def __init__(self, stream: IO[str], header: Sequence[str]) -> None:
        self._writer = csv.writer(stream)
        self._keep = [
            at for at, title in enumerate(header) if normalise_header(title) not in IGNORED_KEYS
        ]
        self._width = len(header)
        stream.write("\ufeff")
        self._writer.writerow([neutralise(header[at]) for at in self._keep] + [REASON_HEADER])

    def write(self, reject: Reject) -> None:
        values = list(reject.values)
        values += [""] * (self._width - len(values))
        cells = [values[at] for at in self._keep] + [f"row {reject.row}: {reject.reason}"]
        # Cells past the last heading stay, after the reason, so nothing is lost.
        cells += values[self._width :]
        self._writer.writerow([neutralise(cell) for cell in cells])


class RejectsFile:
    """The rejects file, opened at the first reject so a clean import leaves none."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.opened = False
        self._stream: IO[str] | None = None
        self._writer: RejectsWriter | None = None

    def __enter__(self) -> RejectsFile:
        return self

    def __exit__(self, *_: object) -> None:
        if self._stream is not None:
            self._stream.close()

    def write(self, plan: ColumnPlan, reject: Reject) -> None:
        if self.path is None:
            return
        if self._writer is None:
            self._stream = self.path.open("w", encoding="utf-8", newline="")
            self._writer = RejectsWriter(self._stream, plan.header)
            self.opened = True
        self._writer.write(reject)
