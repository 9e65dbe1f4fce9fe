"""Read: a candidate spreadsheet as a header and rows of text, streaming.

CSV comes as UTF-8 (with or without a BOM) or as Excel's Windows-1252, separated by
commas, semicolons or tabs, with CRLF and quoted newlines; XLSX is read from its first
sheet with openpyxl in read-only mode. Either way rows are yielded one at a time with
the row number the spreadsheet shows, so a million-row file never sits in memory.
Pure of SQL; the check stage decides what the text means (header.py, check.py).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

__all__ = ["Sheet", "SheetError", "open_sheet", "cell_text"]

_SAMPLE = 1 << 16
_DELIMITERS = (",", ";", "\t")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls

# A CSV field may be long (a pasted cover letter), but one that swallows the rest of the
# file is an unclosed quote: say so instead of reading 100 MB into one cell.
csv.field_size_limit(min(sys.maxsize, 1 << 24))


class SheetError(ValueError):
    """The file cannot be read as a spreadsheet at all; `row` is where, when known."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(f"row {row}: {message}" if row else message)
        self.row = row


@dataclass
class Sheet:
    """A header row and an iterator of (row number, values) after it.

    `rows` skips rows with nothing in them but keeps counting them, so row numbers are
    the ones Excel shows. `progress()` is the fraction of the file read so far.
    """

    header: list[str]
    header_row: int
    rows: Iterator[tuple[int, list[str]]]
    kind: str
    progress: Callable[[], float]


def _cp1252_with_gaps(error: UnicodeError) -> tuple[str, int]:
    """Windows-1252 leaves five bytes undefined; Excel writes them as Latin-1 would."""
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


def _utf8_else_cp1252(error: UnicodeError) -> tuple[str, int]:
    """A stray Windows-1252 byte in a UTF-8 file (pasted from Word) reads as Windows-1252."""
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="caretbot-cp1252"), error.end


codecs.register_error("caretbot-cp1252", _cp1252_with_gaps)
codecs.register_error("caretbot-utf8-else-cp1252", _utf8_else_cp1252)


def _encoding(sample: bytes) -> tuple[str, str, str]:
    """(codec, error handler, name to show): BOM, else UTF-8 if it decodes, else cp1252."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "caretbot-utf8-else-cp1252", "UTF-8 with BOM"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "strict", "UTF-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252", "caretbot-cp1252", "Windows-1252"
    return "utf-8", "caretbot-utf8-else-cp1252", "UTF-8"


def _delimiter(first_line: str) -> str:
    """The separator used most in the header line, outside quotes; comma on a tie."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in first_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def cell_text(value: Any) -> str:
    """An XLSX cell as the text a CSV export would hold.

    Whole-number floats lose their `.0` (a phone typed into a number cell is 5125550100,
    not 5125550100.0); dates print as ISO dates, midnight datetimes as dates.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _blank(values: list[str]) -> bool:
    return not "".join(values).strip()


def _numbered(
    rows: Iterator[list[str]],
    first: int,
    on_error: Callable[[Exception, int], SheetError],
    lines: list[str] | None = None,
    last_check: Callable[[str, int], None] | None = None,
) -> Iterator[tuple[int, list[str]]]:
    """Rows with the numbers a spreadsheet shows, blank ones skipped but counted.

    `lines` (CSV) collects the text lines the reader takes: after each row it holds that
    row's lines, and `last_check` sees the final row's text before the row is handed
    on: an unclosed quote only shows there, as a row that swallowed the rest of the file.
    """
    number = first
    held: tuple[int, list[str]] | None = None
    last_lines: list[str] = []
    try:
        for values in rows:
            number += 1
            if lines is not None:
                # A row's lines, kept until the next row (one list copy a row).
                last_lines = lines[:]
                lines.clear()
            if values and not _blank(values):
                if held is not None:
                    yield held
                held = (number, values)
    except (csv.Error, UnicodeDecodeError) as error:
        raise on_error(error, number + 1) from error
    except Exception as error:  # openpyxl's XML and zip errors, whatever their type
        raise on_error(error, number + 1) from error
    if held is not None:
        if last_check is not None and held[0] == number:
            last_check("".join(last_lines), number)
        yield held


def _ends_inside_quotes(text: str, delimiter: str) -> bool:
    """Whether csv's reader (not strict) ends this text inside a quoted cell.

    Its rules: a quote opens a quoted cell only at the start of a cell; inside, `""` is
    a quote and `"` closes it; after the close, anything up to the delimiter is text.
    """
    inside = False
    start = True  # at the start of a cell
    closing = False  # just saw a quote inside a quoted cell
    for char in text:
        if inside:
            if char == '"':
                closing = not closing  # a second one in a row: `""`, a quote in the cell
                continue
            if closing:
                inside = closing = False
                start = char in (delimiter, "\r", "\n")
            continue
        if start and char == '"':
            inside, start = True, False
            continue
        start = char in (delimiter, "\r", "\n")
    return inside and not closing


def _csv_sheet(raw: IO[bytes], size: int) -> Sheet:
    sample = raw.read(_SAMPLE)
    raw.seek(0)
    codec, errors, shown = _encoding(sample)
    text = io.TextIOWrapper(raw, encoding=codec, errors=errors, newline="")
    try:
        first = text.readline()
        number = 0
        # Excel writes and reads a first line `sep=;` (or a tab) naming the separator;
        # it is no row. Only the line break is trimmed: a tab is what it names.
        line = first.rstrip("\r\n")
        if line[:4].lower() == "sep=" and len(line) == 5:
            delimiter = line[4]
            first = text.readline()
        else:
            delimiter = _delimiter(first)
    except UnicodeDecodeError as error:
        raise SheetError(f"cannot read this file as {shown} text: {error.reason}") from error
    lines: list[str] = []

    def remembered() -> Iterator[str]:
        for line in itertools.chain((first,), text):
            lines.append(line)
            yield line

    reader = csv.reader(remembered(), delimiter=delimiter)

    def fail(error: Exception, row: int) -> SheetError:
        if "field larger than field limit" in str(error):
            return SheetError("a quote opened in this row is never closed", row)
        return SheetError(f"cannot read this row: {error}", row)

    try:
        header: list[str] = []
        for values in reader:
            number += 1
            if not _blank(values):
                header = values
                break
    except (csv.Error, UnicodeDecodeError) as error:
        raise fail(error, number + 1) from error
    lines.clear()
    if not header:
        raise SheetError("the file is empty: no header row")
    name = {",": "comma", ";": "semicolon", "\t": "tab"}.get(delimiter, repr(delimiter))

    def progress() -> float:
        if raw.closed or not size:
            return 1.0
        return min(1.0, raw.tell() / size)

    # The text wrapper closes the file when it is collected: keep it while the sheet is.
    progress.text = text  # type: ignore[attr-defined]

    def unclosed(last_row: str, row: int) -> None:
        if _ends_inside_quotes(last_row, delimiter):
            raise SheetError("a quote opened in this row is never closed", row)

    return Sheet(
        header=header,
        header_row=number,
        rows=_numbered(reader, number, fail, lines, unclosed),
        kind=f"CSV, {shown}, {name}-separated",
        progress=progress,
    )


@contextmanager
def _xlsx_sheet(path: Path) -> Iterator[Sheet]:
    from openpyxl import load_workbook  # only an XLSX import pays for openpyxl

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises a zoo of zipfile/XML/KeyError types
        raise SheetError(f"cannot read this XLSX file: {error}") from error
    try:
        if not book.worksheets:
            raise SheetError("the workbook has no sheets")
        sheet = book.worksheets[0]
        total = sheet.max_row or 0
        rows = ([cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True))
        header: list[str] = []
        number = 0
        for values in rows:
            number += 1
            if not _blank(values):
                header = values
                break
        if not header:
            raise SheetError("the first sheet is empty: no header row")
        while header and not header[-1].strip():
            header.pop()
        done = [number]

        def counted() -> Iterator[list[str]]:
            for values in rows:
                done[0] += 1
                yield values

        def fail(error: Exception, row: int) -> SheetError:
            return SheetError(f"cannot read this row: {error}", row)

        yield Sheet(
            header=header,
            header_row=number,
            rows=_numbered(counted(), number, fail),
            kind=f"XLSX, sheet {sheet.title!r}",
            progress=lambda: min(1.0, done[0] / total) if total else 0.0,
        )
    finally:
        book.close()


@contextmanager
def open_sheet(path: Path | str) -> Iterator[Sheet]:
    """Open a CSV or XLSX file (told apart by content, not name) for streaming."""
    path = Path(path)
    try:
        raw = path.open("rb")
    except OSError as error:
        raise SheetError(f"cannot open {path}: {error.strerror}") from error
    with raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic == _ZIP_MAGIC:
            raw.close()
            with _xlsx_sheet(path) as sheet:
                yield sheet
            return
        if magic == _OLE_MAGIC:
            raise SheetError("this is an old Excel .xls file: save it as .xlsx or CSV")
        size = path.stat().st_size
        yield _csv_sheet(raw, size)
