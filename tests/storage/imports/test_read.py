"""Reading spreadsheets: a corpus of real-world bad files, each with its expected report.

Each file in tests/fixtures/import/ has FILE.expected.json beside it: what the header
check says, or which rows import (phone, names, email, opt-in) and which are rejected
(row number as the spreadsheet shows it, column and reason).
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from storage.imports.check import Reject, RowRules
from storage.imports.header import HeaderError, plan_columns
from storage.imports.read import SheetError, cell_text, open_sheet

CORPUS = Path(__file__).parents[2] / "fixtures" / "import"
FILES = sorted(p for p in CORPUS.iterdir() if not p.name.endswith(".expected.json"))


def report(path: Path, *, region: str = "US", custom: bool = False) -> dict[str, Any]:
    """What an import would tell a person about this file, without a database."""
    try:
        with open_sheet(path) as sheet:
            sample = list(itertools.islice(sheet.rows, 1000))
            try:
                plan = plan_columns(sheet.header, [v for _, v in sample], custom=custom)
            except HeaderError as error:
                return {"kind": sheet.kind, "header_problems": [str(p) for p in error.problems]}
            rules = RowRules(plan, region=region)
            valid: list[list[Any]] = []
            rejects: list[list[Any]] = []
            for row, values in itertools.chain(sample, sheet.rows):
                checked = rules.check(row, values)
                if isinstance(checked, Reject):
                    rejects.append([checked.row, *(str(p) for p in checked.problems)])
                    continue
                c = checked.candidate
                line = [row, c["phone"], c["first_name"], c["middle_name"], c["last_name"]]
                line += [c["email"], c["opt_in"]]
                valid.append(line + ([checked.custom] if checked.custom else []))
            return {"kind": sheet.kind, "valid": valid, "rejects": rejects}
    except SheetError as error:
        return {"error": str(error)}


def test_the_corpus_is_there() -> None:
    assert len(FILES) >= 12


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_bad_file_gets_its_expected_report(path: Path) -> None:
    expected = json.loads(Path(f"{path}.expected.json").read_text(encoding="utf-8"))
    assert report(path, custom="custom" in path.name) == expected


def test_rows_are_numbered_as_the_spreadsheet_shows_them(tmp_path: Path) -> None:
    """Quoted line breaks stay in one row; blank rows are skipped but counted."""
    path = tmp_path / "rows.csv"
    path.write_bytes(b'\r\na,b\r\n1,"x\r\ny"\r\n\r\n,\r\n2,z\r\n')
    with open_sheet(path) as sheet:
        assert (sheet.header, sheet.header_row) == (["a", "b"], 2)
        assert list(sheet.rows) == [(3, ["1", "x\r\ny"]), (6, ["2", "z"])]


def test_a_stray_windows_1252_byte_deep_in_a_utf8_file_reads(tmp_path: Path) -> None:
    """The encoding is guessed from the start; a pasted ’ far below still decodes."""
    path = tmp_path / "mixed.csv"
    body = b"a,b\n" + b"x,\xc3\xa9\n" * 20_000 + b"y,O\x92Brien\n"
    path.write_bytes(body)
    with open_sheet(path) as sheet:
        assert sheet.kind.startswith("CSV, UTF-8")
        rows = list(sheet.rows)
    assert rows[0][1] == ["x", "é"]
    assert rows[-1][1] == ["y", "O\u2019Brien"]


def test_windows_1252_gaps_read_as_latin_1(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_bytes(b"a,b\nx,caf\xe9\x81\n")
    with open_sheet(path) as sheet:
        assert list(sheet.rows) == [(2, ["x", "café\x81"])]


def test_delimiter_is_read_from_the_header_outside_quotes(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text('"Last, First";Mobile;"a,b,c"\nx;y;z\n', encoding="utf-8")
    with open_sheet(path) as sheet:
        assert sheet.header == ["Last, First", "Mobile", "a,b,c"]
        assert "semicolon" in sheet.kind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\r\n\r\n", "the file is empty"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old Excel .xls file"),
        (b"PK\x03\x04not really a zip", "cannot read this XLSX file"),
    ],
    ids=["empty", "blank lines", "xls", "broken xlsx"],
)
def test_unreadable_files_say_why(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(content)
    with pytest.raises(SheetError, match=message), open_sheet(path) as sheet:
        list(sheet.rows)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SheetError, match="cannot open"), open_sheet(tmp_path / "nope.csv"):
        pass


def test_progress_reaches_the_end(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a\n" + "x\n" * 100_000, encoding="utf-8")
    with open_sheet(path) as sheet:
        assert sheet.progress() < 0.5
        for _ in sheet.rows:
            pass
        assert sheet.progress() == 1.0


def _workbook(path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Candidates"
    sheet.append(["First Name", "Last Name", "Mobile", "Email", "Opt In", "Opt-In Date", None])
    sheet.append(["Ana", "López", 5125550301, "ana@example.com", True, datetime(2026, 10, 1)])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["Ben", "Ruiz", 5125550302.0, "ben@example.com", False, date(2026, 10, 2)])
    sheet.append(["Cy", "Diaz", "512-555-0303", "cy@example", 1, None])
    other = book.create_sheet("Ignored")
    other.append(["not", "read"])
    book.save(path)


def test_xlsx_first_sheet_reads_as_text(tmp_path: Path) -> None:
    """Numbers typed into cells lose their .0; booleans and dates read as words."""
    path = tmp_path / "candidates.xlsx"
    _workbook(path)
    with open_sheet(path) as sheet:
        assert sheet.kind == "XLSX, sheet 'Candidates'"
        assert sheet.header == [
            "First Name",
            "Last Name",
            "Mobile",
            "Email",
            "Opt In",
            "Opt-In Date",
        ]
        rows = list(sheet.rows)
    assert [number for number, _ in rows] == [2, 4, 5]
    assert rows[0][1][:6] == ["Ana", "López", "5125550301", "ana@example.com", "true", "2026-10-01"]
    assert rows[1][1][2] == "5125550302"


def test_xlsx_gets_the_same_report_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "candidates.xlsx"
    _workbook(path)
    assert report(path) == {
        "kind": "XLSX, sheet 'Candidates'",
        "valid": [
            [2, "+15125550301", "Ana", None, "López", "ana@example.com", True],
            [4, "+15125550302", "Ben", None, "Ruiz", "ben@example.com", False],
        ],
        "rejects": [[5, "column D (Email): email cy@example is not valid"]],
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("x", "x"),
        (True, "true"),
        (12, "12"),
        (5125550100.0, "5125550100"),
        (1.5, "1.5"),
        (datetime(2026, 10, 1), "2026-10-01"),
        (datetime(2026, 10, 1, 9, 30), "2026-10-01 09:30:00"),
        (date(2026, 10, 1), "2026-10-01"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text
