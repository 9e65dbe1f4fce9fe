"""The rejects file: original values, a reason, and no formula a spreadsheet would run."""

from __future__ import annotations

import csv
import io

import pytest

from storage.imports.check import Reject, RowProblem
from storage.imports.header import REASON_HEADER
from storage.imports.rejects import RejectsWriter, neutralise

HEADER = ["First Name", "Last Name", "Mobile", "E-mail", "Opt In"]


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+15125550100", "'+15125550100"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Ana", "Ana"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralised(cell: str, safe: str) -> None:
    assert neutralise(cell) == safe


def test_rejects_file_has_original_values_and_a_reason() -> None:
    stream = io.StringIO()
    writer = RejectsWriter(stream, [*HEADER, REASON_HEADER])
    problem = RowProblem(4, "E-mail", "email a@x is not valid")
    writer.write(
        Reject(7, ("=cmd", "López", "+1512", "a@x", "yes", "old reason", "spill"), (problem,))
    )
    text = stream.getvalue()
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [
        [*HEADER, REASON_HEADER],
        [
            "'=cmd",
            "López",
            "'+1512",
            "a@x",
            "yes",
            "row 7: column D (E-mail): email a@x is not valid",
            "spill",
        ],
    ]
