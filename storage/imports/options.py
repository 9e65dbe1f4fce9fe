"""What an import is asked to do (ImportOptions) and what it answers (ImportSummary).

`Job` is the part of the options the producer needs, as plain values so that it
crosses to another process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from grammar.counts import counted
from storage.applies import ActivePolicy
from storage.imports.check import Reject

__all__ = ["ImportOptions", "ImportSummary", "Job", "Repeat"]


@dataclass(frozen=True)
class ImportOptions:
    """How to import: the CLI's flags."""

    list_name: str | None = None
    region: str = "US"
    dry_run: bool = False
    update_existing: bool = True
    create_new: bool = True
    custom: bool = False
    rejects_path: Path | None = None
    # Rows per transaction: an interrupted import keeps whole batches of this size.
    batch_size: int = 50_000
    active_policy: ActivePolicy = "first"
    # Where consent came from when a row does not say: "import:<file name>" by default.
    opt_in_source: str | None = None
    # Read and check in another process: None decides by the file's size.
    parallel: bool | None = None


@dataclass(frozen=True)
class Repeat:
    """A row whose phone an earlier row of the same file had.

    `earlier` is that row's number, None when it was in an earlier chunk of a big file
    (only its number is forgotten). `won`: whether this row's filled cells replaced
    the earlier row's (not when update_existing is off for it).
    """

    row: int
    earlier: int | None
    phone: str
    won: bool

    def __str__(self) -> str:
        first = f"row {self.earlier}" if self.earlier else "an earlier row"
        winner = f"row {self.row}" if self.won else first
        return f"row {self.row} has the phone of {first} ({self.phone}): {winner} won"


@dataclass
class ImportSummary:
    """What an import did (or, on a dry run, would do)."""

    kind: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    rejected: int = 0
    added_to_list: int = 0
    applies_added: int = 0
    list_name: str | None = None
    dry_run: bool = False
    rejects_path: Path | None = None
    rejects: list[Reject] = field(default_factory=list)
    # Rows that shared a phone with an earlier row of the file; the first few of them.
    repeated: int = 0
    repeats: list[Repeat] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as a person reads it."""
        out = [f"{counted(self.rows, 'row')} read ({self.kind})"]
        if self.dry_run:
            out.append("dry run: nothing was written; this is what the import would do")
        out += [
            f"created: {self.created}",
            f"updated: {self.updated}",
            f"unchanged: {self.unchanged}",
            f"rejected: {self.rejected}",
        ]
        if self.repeated:
            out.append(
                f"rows that shared a phone with an earlier row: {self.repeated} "
                "(the later row wins, its blank cells keeping the earlier row's values, "
                "unless update_existing is off for it)"
            )
        if self.skipped:
            out.append(f"skipped (new, and create_new is off): {self.skipped}")
        if self.list_name:
            out.append(f"added to list {self.list_name}: {self.added_to_list}")
        out.append(f"applies added: {self.applies_added}")
        return out


@dataclass(frozen=True)
class Job:
    """What the producer needs; plain values, so it crosses to another process."""

    path: Path
    region: str
    custom: bool
    chunk_rows: int
    rejects_path: Path | None
    now: datetime
    opt_in_source: str
    fast: bool
    create_new: bool
    update_existing: bool
    active_policy: ActivePolicy
