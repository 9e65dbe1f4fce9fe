"""Importing candidates from a CSV or XLSX file, one module per stage a row goes through.

    read.py      the file as a header and rows of text, streaming (CSV or XLSX)
    header.py    check, part one: the header mapped to columns, or HeaderError
    check.py     check, part two: each row a ValidRow or a Reject with every reason
    phones.py    check: a phone cell as E.164, or why it cannot take texts
    rejects.py   the rejects file (check's output for people), which imports again
    shape.py     shape: a phone's rows folded into its candidate, in the driver's form
    write.py     write: chunks into the database, a batch per transaction
    produce.py   read, check and shape in a thread or process of their own
    options.py   ImportOptions (what is asked) and ImportSummary (what it did)
    run.py       the orchestrator: import_file

Only read, header, check, phones and rejects are pure of SQL. Each speed trick is
explained, with its reason, in the module that plays it.
"""

from __future__ import annotations

from storage.imports.check import Reject
from storage.imports.header import REASON_HEADER, HeaderError, HeaderProblem
from storage.imports.options import ImportOptions, ImportSummary
from storage.imports.read import SheetError
from storage.imports.run import import_file

__all__ = [
    "REASON_HEADER",
    "HeaderError",
    "HeaderProblem",
    "ImportOptions",
    "ImportSummary",
    "Reject",
    "SheetError",
    "import_file",
]
