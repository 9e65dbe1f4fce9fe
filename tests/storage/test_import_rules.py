"""Header and row rules for imports: tables of input and what caretbot makes of it."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.import_rules import (
    REASON_HEADER,
    HeaderError,
    Reject,
    RejectsWriter,
    RowProblem,
    RowRules,
    ValidRow,
    _nanp_depths,
    _split_name,
    column_letter,
    neutralise,
    normalise_phone,
    parse_bool,
    plan_columns,
)

HEADER = ["First Name", "Last Name", "Mobile", "E-mail", "Opt In"]


@pytest.mark.parametrize(
    ("number", "letters"),
    [(1, "A"), (2, "B"), (26, "Z"), (27, "AA"), (52, "AZ"), (53, "BA"), (702, "ZZ"), (703, "AAA")],
)
def test_column_letters(number: int, letters: str) -> None:
    assert column_letter(number) == letters


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("First Name", "first_name"),
        ("first_name", "first_name"),
        ("FIRST-NAME", "first_name"),
        (" firstname ", "first_name"),
        ("Mobile", "phone"),
        ("Cell", "phone"),
        ("Phone Number", "phone"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("Name", "full_name"),
        ("Zip", "postal_code"),
        ("ZIP Code", "postal_code"),
        ("State/Province", "state"),
        ("Opt-In", "opt_in"),
        ("utm_source", "source"),
        ("Job Title", "job_title"),
        ("Requisition ID", "external_job_id"),
        ("Update Existing", "update_existing"),
    ],
)
def test_headers_map_whatever_their_spelling(header: str, column: str) -> None:
    required = {"last_name": "Last", "phone": "Phone", "email": "Email", "opt_in": "Opt In"}
    base = [title for name, title in required.items() if name != column]
    plan = plan_columns([*base, header])
    assert plan.index[column] == len(base)


# (header, custom, sample rows, expected problems as the person reads them)
HEADER_PROBLEMS: list[tuple[list[str], bool, list[list[str]], list[str]]] = [
    (
        [*HEADER, "Notes"],
        False,
        [],
        [
            "column F (Notes): unknown header; rename it, delete the column, "
            "or import with --custom to keep it as a custom field"
        ],
    ),
    (
        ["Last Name", "Phone", "Email", "Opt In", "Mobile"],
        False,
        [],
        ["column E (Mobile): duplicate header: both this and column B (Phone) are phone"],
    ),
    (
        [*HEADER, ""],
        False,
        [["a", "b", "c", "d", "e", "data"]],
        ["column F: this column has data but no heading"],
    ),
    (
        [*HEADER],
        False,
        [["a", "b", "c", "d", "e", "", "spilled"]],
        ["column G: this column has data but no heading"],
    ),
    (
        ["First Name", "Mobile", "Emial"],
        False,
        [],
        [
            "column C (Emial): unknown header (did you mean email?); rename it, delete the "
            "column, or import with --custom to keep it as a custom field",
            "missing required column email (also read from: e-mail, email address, e-mail address)",
            "missing required column opt_in (also read from: opted in, sms opt-in, text opt-in)",
            "missing required column last_name or full_name (also read from: last, surname, "
            "family name, name, candidate name, contact name)",
        ],
    ),
    (
        [*HEADER, "Shift", "shift"],
        True,
        [],
        ["column G (shift): duplicate header; column F (Shift) has it too"],
    ),
]


@pytest.mark.parametrize(
    ("header", "custom", "sample", "problems"),
    HEADER_PROBLEMS,
    ids=["unknown", "duplicate", "blank over data", "data past header", "missing", "custom dup"],
)
def test_header_problems_name_the_column(
    header: list[str], custom: bool, sample: list[list[str]], problems: list[str]
) -> None:
    with pytest.raises(HeaderError) as caught:
        plan_columns(header, sample, custom=custom)
    assert [str(p) for p in caught.value.problems] == problems


def test_every_problem_has_its_column_number_and_letter() -> None:
    with pytest.raises(HeaderError) as caught:
        plan_columns([*HEADER, "Notes", "Mobile"])
    assert [(p.column, p.letter) for p in caught.value.problems] == [(6, "F"), (7, "G")]


def test_blank_columns_without_data_are_skipped() -> None:
    plan = plan_columns([*HEADER, "", ""], [["a", "b", "c", "d", "e", "", ""]])
    assert plan.unlabelled == (5, 6)


def test_custom_keeps_unknown_columns() -> None:
    plan = plan_columns([*HEADER, "Shift Preference"], custom=True)
    assert plan.custom == ((5, "Shift Preference"),)


def test_the_rejects_reason_column_is_ignored_on_reimport() -> None:
    plan = plan_columns([*HEADER, REASON_HEADER])
    assert plan.ignored == (5,)


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
        ("Cher", ("Cher", None, None)),
        ("", (None, None, None)),
    ],
)
def test_full_names_split(full: str, parts: tuple[str | None, str | None, str | None]) -> None:
    assert _split_name(full) == parts


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


# --- phones -------------------------------------------------------------------------

PHONES: list[tuple[str, str, str]] = [
    ("(512) 555-0100", "US", "+15125550100"),
    ("512.555.0100", "US", "+15125550100"),
    ("1-512-555-0100", "US", "+15125550100"),
    ("+1 512 555 0100", "GB", "+15125550100"),
    ("5125550100", "CA", "+15125550100"),
    ("07911 123456", "GB", "+447911123456"),
    ("+44 7911 123456", "US", "+447911123456"),
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("(512) 555-0100", "GB", "is not a valid number"),
    ("+44 20 7946 0018", "US", "is a landline; texts need a mobile"),
    ("+1 900 555 0100", "US", "is a premium-rate number"),
    ("+1 246 521 0100", "US", "is a landline"),
    ("+1 246 521 1100", "US", "+12465211100"),
    ("1.51255E+10", "US", "lost digits when Excel turned it into a number"),
    ("512 555 0100 ext. 7", "US", "+15125550100"),
    ("+512 555 0100", "US", "not a valid number"),
    ("+999 1234", "US", "has an unknown country code"),
]


@pytest.mark.parametrize(("raw", "region", "expected"), PHONES)
def test_phones(raw: str, region: str, expected: str) -> None:
    phone, why = normalise_phone(raw, region)
    if expected.startswith("+"):
        assert (phone, why) == (expected, None)
    else:
        assert phone is None
        assert why is not None and expected in why, why


def _library(raw: str, region: str) -> str | None:
    """What phonenumbers alone says: the E.164 of a number that takes texts, else None."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_the_fast_path_agrees_with_phonenumbers() -> None:
    """NANP numbers skip phonenumbers through a per-prefix cache: same answers, sampled.

    Every area code, a few exchanges each, in every format; and the Barbados and Jamaica
    prefixes whose answer turns on the seventh digit.
    """
    rng = random.Random(20261123)
    formats = ["({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "1{a}{b}{c}", "{a}{b}{c}"]
    cases = []
    for area in range(200, 1000):
        for _ in range(3):
            exchange = rng.randint(200, 999)
            cases.append((area, exchange, f"{rng.randint(0, 9999):04d}"))
    for prefix in ("246521", "246522", "876606"):
        for seventh in range(10):
            cases.append((int(prefix[:3]), int(prefix[3:]), f"{seventh}{rng.randint(0, 999):03d}"))
    for area, exchange, line in cases:
        raw = rng.choice(formats).format(a=area, b=exchange, c=line)
        for region in ("US", "CA"):
            assert normalise_phone(raw, region)[0] == _library(raw, region), raw


def test_prefix_depths_come_from_the_metadata() -> None:
    depths = _nanp_depths()
    assert depths["512"] in (3, 4)
    assert depths["246"] == 7
    assert depths["876"] == 7


@given(st.text(max_size=30), st.sampled_from(["US", "GB", "IN"]))
def test_any_text_gets_an_answer(raw: str, region: str) -> None:
    phone, why = normalise_phone(raw, region)
    assert (phone is None) != (why is None)


# --- the rejects file ---------------------------------------------------------------


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
