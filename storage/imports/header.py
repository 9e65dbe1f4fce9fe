"""Check, part one: what a candidate spreadsheet's header must hold.

Pure (no SQL, no files). `plan_columns` maps the header row to caretbot's columns (by
name or by one of the aliases people write) or raises HeaderError listing every
problem, before anything is written; `ALIASES` is the table the README's list of
recognised headings is generated from.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ALIASES",
    "APPLY_COLUMNS",
    "CANDIDATE_COLUMNS",
    "COLUMNS",
    "IGNORED_KEYS",
    "REASON_HEADER",
    "REQUIRED",
    "ColumnPlan",
    "HeaderError",
    "HeaderProblem",
    "column_letter",
    "headings_markdown",
    "normalise_header",
    "plan_columns",
    "where",
]

CANDIDATE_COLUMNS: tuple[str, ...] = (
    "phone",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "street",
    "city",
    "state",
    "country",
    "postal_code",
    "opt_in",
    "opt_in_source",
    "opt_in_at",
    "external_contact_id",
)
APPLY_COLUMNS: tuple[str, ...] = (
    "source",
    "medium",
    "campaign",
    "content",
    "job_title",
    "location",
    "referrer",
    "keyword",
    "external_job_id",
)
CONTROL_COLUMNS: tuple[str, ...] = ("full_name", "update_existing", "create_new")
COLUMNS: tuple[str, ...] = CANDIDATE_COLUMNS + APPLY_COLUMNS + CONTROL_COLUMNS

# One of each group must be there; last_name may come from full_name.
REQUIRED: tuple[tuple[str, ...], ...] = (
    ("phone",),
    ("email",),
    ("opt_in",),
    ("last_name", "full_name"),
)

# The column caretbot adds to a rejects file; a fixed rejects file imports again as is.
REASON_HEADER = "caretbot reason"

# Other names for the columns, as people write them; the first few show in messages.
ALIASES: dict[str, tuple[str, ...]] = {
    "phone": (
        "mobile",
        "cell",
        "phone number",
        "mobile phone",
        "mobile number",
        "cell phone",
        "cell number",
        "cell phone number",
        "mobile phone number",
        "telephone",
        "tel",
        "sms",
        "text number",
    ),
    "first_name": ("first", "given name", "fname", "forename"),
    "middle_name": ("middle", "middle initial", "mi"),
    "last_name": ("last", "surname", "family name", "lname"),
    "full_name": ("name", "candidate name", "contact name"),
    "email": ("e-mail", "email address", "e-mail address", "mail"),
    "street": ("address", "street address", "address 1", "address line 1"),
    "city": ("town",),
    "state": ("province", "region", "state/province", "state or province"),
    "postal_code": ("zip", "zip code", "postcode", "postal"),
    "opt_in": ("opted in", "sms opt-in", "text opt-in", "consent"),
    "opt_in_source": ("consent source",),
    "opt_in_at": ("opt-in date", "opted in at", "consent date", "consent at"),
    "external_contact_id": ("contact id", "ats id", "candidate id", "ats contact id"),
    "source": ("utm_source", "apply source"),
    "medium": ("utm_medium",),
    "campaign": ("utm_campaign",),
    "content": ("utm_content", "requisition", "requisition title"),
    "job_title": ("job", "position"),
    "location": ("job location",),
    "referrer": ("referer",),
    "keyword": ("utm_term", "keywords"),
    "external_job_id": ("job id", "req id", "requisition id", "ats job id"),
}


def normalise_header(text: str) -> str:
    """The key a header matches on: case, spaces, hyphens, underscores, / do not count."""
    return re.sub(r"[\s_\-/]+", "", text.strip().lower())


_HEADER_KEYS: dict[str, str] = {}
for _column in COLUMNS:
    _HEADER_KEYS[normalise_header(_column)] = _column
for _column, _names in ALIASES.items():
    for _name in _names:
        _HEADER_KEYS[normalise_header(_name)] = _column
IGNORED_KEYS = {normalise_header(REASON_HEADER)}


def headings_markdown() -> str:
    """The README's table of columns and the headings read as each, from `ALIASES`.

    One line a column: its name, whether an import needs it, and every other heading
    that is read as it (matched ignoring case, spaces, hyphens, underscores and /).
    """
    needed = {
        column: "yes" if len(group) == 1 else f"yes ({' or '.join(group)})"
        for group in REQUIRED
        for column in group
    }
    lines = ["| column | needed | also read from |", "| --- | --- | --- |"]
    for column in COLUMNS:
        need = needed.get(column, "")
        names = ", ".join(f"`{name}`" for name in ALIASES.get(column, ()))
        lines.append(f"| `{column}` | {need} | {names} |")
    return "\n".join(lines) + "\n"


def column_letter(number: int) -> str:
    """Spreadsheet letters for a 1-based column number: 1 -> A, 27 -> AA."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def where(number: int, header: str) -> str:
    """'column C (Mobile)': a column as a person finds it in the spreadsheet."""
    name = f" ({header.strip()})" if header.strip() else ""
    return f"column {column_letter(number)}{name}"


# --- the header ---------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderProblem:
    """One thing wrong with the header row; `column` is 1-based, 0 when there is none."""

    column: int
    header: str
    reason: str

    @property
    def letter(self) -> str:
        return column_letter(self.column) if self.column else ""

    def __str__(self) -> str:
        if not self.column:
            return self.reason
        return f"{where(self.column, self.header)}: {self.reason}"


class HeaderError(ValueError):
    """The header cannot be imported; nothing was written."""

    def __init__(self, problems: Sequence[HeaderProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class ColumnPlan:
    """Where each known column sits (0-based) and which columns are custom fields."""

    header: tuple[str, ...]
    index: dict[str, int]
    custom: tuple[tuple[int, str], ...] = ()
    # No heading and no data in the sample: skipped, but a row with data there is rejected.
    unlabelled: tuple[int, ...] = ()
    # caretbot's own reason column in a rejects file: skipped.
    ignored: tuple[int, ...] = ()


def plan_columns(
    header: Sequence[str], sample: Iterable[Sequence[str]] = (), *, custom: bool = False
) -> ColumnPlan:
    """Map a header row to columns, or raise HeaderError listing every problem in it.

    `sample` is the first rows of data: a column with a blank heading that has data in
    them is a problem (the data would be lost), an empty one is ignored.
    """
    problems: list[HeaderProblem] = []
    index: dict[str, int] = {}
    custom_columns: list[tuple[int, str]] = []
    custom_seen: dict[str, int] = {}
    blank: list[int] = []
    ignored: list[int] = []
    unknown: list[tuple[int, str]] = []
    # Blank headings at the end (a trailing comma) are no columns: cells past the last
    # heading are empty values, or a row problem when they hold data (RowRules.check).
    width = len(header)
    while width and not header[width - 1].strip():
        width -= 1
    header = header[:width]
    used = [False] * width
    for row in sample:
        for at, value in enumerate(row[:width]):
            if not used[at] and value.strip():
                used[at] = True
    for at in range(width):
        title = header[at]
        key = normalise_header(title)
        number = at + 1
        if not key:
            if used[at]:
                problems.append(HeaderProblem(number, title, "this column has data but no heading"))
            else:
                blank.append(at)
            continue
        if key in IGNORED_KEYS:
            ignored.append(at)
            continue
        column = _HEADER_KEYS.get(key)
        if column is None:
            if not custom:
                unknown.append((at, title))
                continue
            name = title.strip()
            if name.lower() in custom_seen:
                first = custom_seen[name.lower()]
                problems.append(
                    HeaderProblem(
                        number,
                        title,
                        f"duplicate header; {where(first, header[first - 1])} has it too",
                    )
                )
            custom_seen[name.lower()] = number
            custom_columns.append((at, name))
            continue
        if column in index:
            first = index[column]
            problems.append(
                HeaderProblem(
                    number,
                    title,
                    f"duplicate header: both this and {where(first + 1, header[first])} "
                    f"are {column}",
                )
            )
            continue
        index[column] = at
    for at, title in unknown:
        hint = difflib.get_close_matches(normalise_header(title), list(_HEADER_KEYS), n=1)
        mean = f" (did you mean {_HEADER_KEYS[hint[0]]}?)" if hint else ""
        problems.append(
            HeaderProblem(
                at + 1,
                title,
                f"unknown header{mean}; rename it, delete the column, "
                "or import with --custom to keep it as a custom field",
            )
        )
    for group in REQUIRED:
        if not any(column in index for column in group):
            names = " or ".join(group)
            also = ", ".join(a for c in group for a in ALIASES.get(c, ())[:3])
            problems.append(
                HeaderProblem(0, "", f"missing required column {names} (also read from: {also})")
            )
    if problems:
        problems.sort(key=lambda p: (p.column == 0, p.column))
        raise HeaderError(problems)
    return ColumnPlan(tuple(header), index, tuple(custom_columns), tuple(blank), tuple(ignored))
