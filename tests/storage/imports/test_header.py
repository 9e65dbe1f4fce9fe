"""The header check: tables of headings and what caretbot makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.imports.header import (
    REASON_HEADER,
    HeaderError,
    column_letter,
    headings_markdown,
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
        ["First Name", "", *HEADER[1:]],
        False,
        [["a", "data", "b", "c", "d", "e"]],
        ["column B: this column has data but no heading"],
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
    ids=["unknown", "duplicate", "blank over data", "missing", "custom dup"],
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
    plan = plan_columns(["First Name", "", *HEADER[1:]], [["a", "", "b", "c", "d", "e"]])
    assert plan.unlabelled == (1,)


@pytest.mark.parametrize(
    ("header", "sample"),
    [
        ([*HEADER, ""], [["a", "b", "c", "d", "e", "data"]]),
        ([*HEADER, "", ""], [["a", "b", "c", "d", "e", "", ""]]),
        (HEADER, [["a", "b", "c", "d", "e", "", "spilled"]]),
    ],
    ids=["trailing blank heading over data", "trailing commas", "data past header"],
)
def test_cells_past_the_last_heading_are_no_header_problem(
    header: list[str], sample: list[list[str]]
) -> None:
    # Issue 7: extra empty cells are empty values, extra data is the row's problem.
    plan = plan_columns(header, sample)
    assert plan.header == tuple(HEADER)
    assert plan.unlabelled == ()


def test_custom_keeps_unknown_columns() -> None:
    plan = plan_columns([*HEADER, "Shift Preference"], custom=True)
    assert plan.custom == ((5, "Shift Preference"),)


def test_the_rejects_reason_column_is_ignored_on_reimport() -> None:
    plan = plan_columns([*HEADER, REASON_HEADER])
    assert plan.ignored == (5,)


def test_the_readme_lists_every_heading_the_alias_table_reads() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- import-headings:begin -->\n", "<!-- import-headings:end -->"
    assert begin in readme and end in readme, "README.md lost its import-headings markers"
    shown = readme.split(begin, 1)[1].split(end, 1)[0]
    assert shown == headings_markdown(), (
        "README.md's import headings differ from storage/imports/header.py: paste "
        "`python -c 'from storage.imports.header import headings_markdown as h; print(h())'`"
    )
    for column in ("phone", "email", "opt_in", "last_name", "full_name"):
        assert f"`{column}` | yes" in shown
