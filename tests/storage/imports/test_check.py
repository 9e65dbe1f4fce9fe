"""The row check: tables of rows and what caretbot makes of them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.imports.check import Reject, RowRules, ValidRow, parse_bool, split_name
from storage.imports.header import column_letter, plan_columns

HEADER = ["First Name", "Last Name", "Mobile", "E-mail", "Opt In"]


def _rules(header: list[str] = HEADER, region: str = "US") -> RowRules:
    return RowRules(plan_columns(header), region=region)


def test_a_good_row_becomes_a_candidate() -> None:
    row = _rules().check(2, ["Ana", "López", "(512) 555-0100", "Ana@Example.COM", "Yes"])
    assert isinstance(row, ValidRow)
    assert row.candidate == {
        "phone": "+15125550100",
        "first_name": "Ana",
        "middle_name": None,
        "last_name": "López",
        "email": "ana@example.com",
        "opt_in": True,
    }


# (values under HEADER, the problems: (column letter, reason))
BAD_ROWS: list[tuple[list[str], list[tuple[str, str]]]] = [
    (["Ana", "López", "555-0100", "a@x.com", "yes"], [("C", "phone 555-0100 has no area code")]),
    (["Ana", "López", "", "a@x.com", "yes"], [("C", "phone is missing")]),
    (
        ["Ana", "López", "800 555 0100", "a@x.com", "yes"],
        [("C", "phone 800 555 0100 is a toll-free number; texts need a mobile")],
    ),
    (["Ana", "López", "5125550100", "a@x", "yes"], [("D", "email a@x is not valid")]),
    (["Ana", "López", "5125550100", "a@@x.com", "yes"], [("D", "email a@@x.com is not valid")]),
    (
        ["Ana", "López", "5125550100", "a@x.com", "maybe"],
        [("E", "opt_in 'maybe' is not true, false, yes, no, 1 or 0")],
    ),
    (
        ["Ana", "López", "5125550100", "a@x.com", ""],
        [("E", "opt_in is blank; write true, false, yes, no, 1 or 0")],
    ),
    (["Ana", " ", "5125550100", "a@x.com", "no"], [("B", "the last name is missing")]),
    (
        ["Ana", "", "1234", "nope", "y"],
        [
            ("C", "phone 1234 is too short"),
            ("D", "email nope is not valid"),
            ("E", "opt_in 'y' is not true, false, yes, no, 1 or 0"),
            ("B", "the last name is missing"),
        ],
    ),
    (
        ["Ana", "López", "5125550100", "a@x.com", "yes", "extra"],
        [("F", "this cell is past the last heading")],
    ),
]


@pytest.mark.parametrize(("values", "problems"), BAD_ROWS)
def test_bad_rows_are_rejected_with_every_reason(
    values: list[str], problems: list[tuple[str, str]]
) -> None:
    row = _rules().check(7, values)
    assert isinstance(row, Reject)
    assert row.row == 7
    assert [(column_letter(p.column), p.reason) for p in row.problems] == problems


def test_a_reject_reads_with_row_column_and_reason() -> None:
    row = _rules().check(7, ["Ana", "López", "5125550100", "a@x", "yes"])
    assert str(row) == "row 7: column D (E-mail): email a@x is not valid"


@pytest.mark.parametrize(
    ("text", "flag"),
    [("true", True), ("YES", True), ("1", True), ("False", False), ("no", False), ("0", False)],
)
def test_opt_in_words(text: str, flag: bool) -> None:
    assert parse_bool(text) is flag


@pytest.mark.parametrize("text", ["y", "n", "maybe", "", "2", "on"])
def test_other_opt_in_words_are_not_read(text: str) -> None:
    assert parse_bool(text) is None


@pytest.mark.parametrize(
    ("full", "parts"),
    [
        ("Ana López", ("Ana", None, "López")),
        ("Ana María López", ("Ana", "María", "López")),
        ("López, Ana María", ("Ana", "María", "López")),
        ("Dr. Ana López", ("Ana", None, "López")),
        ("Ana López Jr.", ("Ana", None, "López")),
        ("🌟 Ana López", ("🌟 Ana", None, "López")),
        ("Ana López 🌟", ("Ana", None, "López 🌟")),
        ("Cher", (None, None, "Cher")),
        ("", (None, None, None)),
    ],
)
def test_full_names_split(full: str, parts: tuple[str | None, str | None, str | None]) -> None:
    assert split_name(full) == parts


def test_full_name_fills_first_and_last() -> None:
    rules = _rules(["Name", "Mobile", "Email", "Opt In"])
    row = rules.check(2, ["  Ana   María  López ", "5125550100", "", "1"])
    assert isinstance(row, ValidRow)
    assert (row.candidate["first_name"], row.candidate["middle_name"]) == ("Ana", "María")
    assert (row.candidate["last_name"], row.candidate["email"]) == ("López", None)


def test_first_and_last_columns_win_over_full_name() -> None:
    rules = _rules(["First", "Last", "Name", "Mobile", "Email", "Opt In"])
    row = rules.check(2, ["Ann", "Lopes", "Ana López", "5125550100", "", "1"])
    assert isinstance(row, ValidRow)
    assert (row.candidate["first_name"], row.candidate["last_name"]) == ("Ann", "Lopes")


def test_row_overrides() -> None:
    rules = _rules([*HEADER, "Update Existing", "Create New"])
    row = rules.check(2, ["Ana", "López", "5125550100", "", "yes", "no", ""])
    assert isinstance(row, ValidRow)
    assert (row.update_existing, row.create_new) == (False, None)


def test_opt_in_at_reads_us_and_iso_dates() -> None:
    rules = _rules([*HEADER, "Opt-In Date"])
    row = rules.check(2, ["Ana", "López", "5125550100", "", "yes", "10/02/2026 9:30"])
    assert isinstance(row, ValidRow)
    assert row.candidate["opt_in_at"] == datetime(2026, 10, 2, 9, 30, tzinfo=UTC)
    row = _rules([*HEADER, "Opt-In Date"], region="GB").check(
        2, ["Ana", "López", "+447911123456", "", "yes", "10/02/2026"]
    )
    assert isinstance(row, ValidRow)
    assert row.candidate["opt_in_at"] == datetime(2026, 2, 10, tzinfo=UTC)
    bad = rules.check(2, ["Ana", "López", "5125550100", "", "yes", "soon"])
    assert isinstance(bad, Reject)
    assert bad.reason == "column F (Opt-In Date): opt_in_at soon is not a date or time"


def test_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown region XX"):
        _rules(region="XX")
