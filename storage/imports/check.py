"""Check, part two: each data row becomes a ValidRow or a Reject with every reason.

Pure (no SQL, no files). `RowRules.check` runs once per row of a million-row import, so
it stops at the first problem (locals over attributes, one pass); only a row known to
be bad goes through `_reject`, its slow twin that names every problem. Row numbers are
the ones the spreadsheet shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from storage.imports.header import APPLY_COLUMNS, CANDIDATE_COLUMNS, ColumnPlan, where
from storage.imports.phones import NANP_REGIONS, check_region, normalise_phone

__all__ = [
    "Reject",
    "RowProblem",
    "RowRules",
    "ValidRow",
    "check_region",
    "parse_bool",
    "split_name",
    "unguard",
]


@dataclass(frozen=True)
class RowProblem:
    column: int
    header: str
    reason: str

    def __str__(self) -> str:
        return f"{where(self.column, self.header)}: {self.reason}"


@dataclass(frozen=True)
class Reject:
    """A row that was not imported, as the spreadsheet numbers it, with every reason."""

    row: int
    values: tuple[str, ...]
    problems: tuple[RowProblem, ...]

    @property
    def reason(self) -> str:
        return "; ".join(str(p) for p in self.problems)

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass(slots=True)
class ValidRow:
    """A row ready to store: candidate columns, apply columns and the row's overrides."""

    row: int
    candidate: dict[str, Any]
    apply: dict[str, Any]
    custom: dict[str, str] = field(default_factory=dict)
    update_existing: bool | None = None
    create_new: bool | None = None


# What a spreadsheet would run as a formula (OWASP's CSV injection list): the rejects
# file writes such a cell with a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def unguard(cell: str) -> str:
    """A rejects-file cell without the quote that kept a spreadsheet from running it."""
    return cell[1:] if cell[:1] == "'" and cell[1:].startswith(FORMULA_STARTS) else cell


_BOOL_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def parse_bool(text: str) -> bool | None:
    """true/false/yes/no/1/0 in any case; None for anything else."""
    return _BOOL_WORDS.get(text.strip().lower())


_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
)
_HONORIFICS = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof"}
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "v", "phd", "md", "rn", "lpn"}


def split_name(full: str) -> tuple[str | None, str | None, str | None]:
    """'Ana María López' -> (Ana, María, López); 'López, Ana' -> (Ana, None, López).

    A single name ('Prince') is the last name: (None, None, Prince).

    Words with no letter in them (🌟, 👩‍⚕️) stay with the word they stand beside, so an
    emoji is never taken for a name.
    """
    if "," in full:
        last, _, rest = full.partition(",")
        first, _, middle = rest.strip().partition(" ")
        return first or None, middle.strip() or None, last.strip() or None
    words: list[str] = []
    for word in full.split():
        lettered = any(c.isalpha() for c in word)
        if words and (not lettered or not any(c.isalpha() for c in words[-1])):
            words[-1] += " " + word
        else:
            words.append(word)
    if len(words) > 1 and words[0].rstrip(".").lower() in _HONORIFICS:
        words = words[1:]
    if len(words) > 2 and words[-1].rstrip(".").lower() in _SUFFIXES:
        words = words[:-1]
    if len(words) <= 1:
        # One name ("Prince", "Cher") is the name a person goes by: the last name.
        return None, None, (words[0] if words else None)
    return words[0], " ".join(words[1:-1]) or None, words[-1]


_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _parse_when(text: str, month_first: bool) -> datetime | None:
    """ISO dates and times, or 10/01/2026 (month first in NANP regions); naive is UTC."""
    slash = _SLASH_DATE.fullmatch(text)
    try:
        if slash:
            a, b, year, hour, minute, second = slash.groups()
            month, day = (a, b) if month_first else (b, a)
            when = datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
            )
        else:
            when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class RowRules:
    """Checks and cleans data rows for one header; `check` is called once per row."""

    def __init__(self, plan: ColumnPlan, *, region: str = "US") -> None:
        region = check_region(region)
        self.plan = plan
        self.region = region
        self._month_first = region in NANP_REGIONS
        at = plan.index
        self._phone = at["phone"]
        self._email = at["email"]
        self._opt_in = at["opt_in"]
        self._full = at.get("full_name")
        self._last = at.get("last_name")
        self._first = at.get("first_name")
        self._middle = at.get("middle_name")
        self._opt_in_at = at.get("opt_in_at")
        self._update = at.get("update_existing")
        self._create = at.get("create_new")
        special = {"phone", "email", "opt_in", "first_name", "middle_name", "last_name"}
        special |= {"opt_in_at"}
        texts = [column for column in CANDIDATE_COLUMNS if column in at and column not in special]
        self._text_names = tuple(texts)
        self._text_at = tuple(at[column] for column in texts)
        applies = [column for column in APPLY_COLUMNS if column in at]
        self._apply_names = tuple(applies)
        self._apply_at = tuple(at[column] for column in applies)
        self._width = len(plan.header)
        # A rejects file (it has caretbot's reason column) imports as the original said.
        self._unguard = bool(plan.ignored)

    def _problem(self, at: int, reason: str) -> RowProblem:
        header = self.plan.header[at] if at < len(self.plan.header) else ""
        return RowProblem(at + 1, header, reason)

    def check(self, row: int, values: Sequence[str]) -> ValidRow | Reject:
        """The cleaned row, or a Reject with every problem found in it.

        Called a million times in a big import: locals over attributes, one pass.
        """
        if self._unguard:
            values = [unguard(value) for value in values]
        width = self._width
        if len(values) != width:
            if len(values) < width:
                values = [*values, *([""] * (width - len(values)))]
            elif any(v.strip() for v in values[width:]):
                return self._reject(row, values)
        phone, why = normalise_phone(values[self._phone], self.region)
        if why is not None:
            return self._reject(row, values)

        email: str | None = values[self._email].strip()
        if email:
            if email[:7].lower() == "mailto:":
                email = email[7:]
            if _EMAIL.fullmatch(email) is None:
                return self._reject(row, values)
            email = email.lower()
        else:
            email = None

        opt_in = _BOOL_WORDS.get(values[self._opt_in].strip().lower())
        if opt_in is None:
            return self._reject(row, values)

        first = _name_cell(values, self._first)
        middle = _name_cell(values, self._middle)
        last = _name_cell(values, self._last)
        if self._full is not None and (last is None or first is None):
            full = _name_cell(values, self._full)
            if full:
                f_first, f_middle, f_last = split_name(full)
                first = first or f_first
                middle = middle or f_middle
                last = last or f_last
        if last is None:
            return self._reject(row, values)

        candidate: dict[str, Any] = dict(
            zip(self._text_names, [values[at].strip() or None for at in self._text_at], strict=True)
        )
        candidate["phone"] = phone
        candidate["first_name"] = first
        candidate["middle_name"] = middle
        candidate["last_name"] = last
        candidate["email"] = email
        candidate["opt_in"] = opt_in
        if self._opt_in_at is not None:
            raw = values[self._opt_in_at].strip()
            when = _parse_when(raw, self._month_first) if raw else None
            if raw and when is None:
                return self._reject(row, values)
            candidate["opt_in_at"] = when

        update = create = None
        if self._update is not None and values[self._update].strip():
            update = _BOOL_WORDS.get(values[self._update].strip().lower())
            if update is None:
                return self._reject(row, values)
        if self._create is not None and values[self._create].strip():
            create = _BOOL_WORDS.get(values[self._create].strip().lower())
            if create is None:
                return self._reject(row, values)
        for at in self.plan.unlabelled:
            if values[at].strip():
                return self._reject(row, values)

        apply = dict(
            zip(
                self._apply_names,
                [values[at].strip() or None for at in self._apply_at],
                strict=True,
            )
        )
        custom = {name: values[at].strip() for at, name in self.plan.custom if values[at].strip()}
        return ValidRow(row, candidate, apply, custom, update, create)

    def _reject(self, row: int, values: Sequence[str]) -> Reject:
        """Every problem in a row known to be bad; the slow, thorough twin of `check`."""
        problem = self._problem
        problems: list[RowProblem] = []
        phone_why = normalise_phone(values[self._phone], self.region)[1]
        if phone_why is not None:
            problems.append(problem(self._phone, phone_why))
        email = values[self._email].strip()
        if email[:7].lower() == "mailto:":
            email = email[7:]
        if email and _EMAIL.fullmatch(email) is None:
            problems.append(problem(self._email, f"email {email} is not valid"))
        raw_opt_in = values[self._opt_in].strip()
        if raw_opt_in.lower() not in _BOOL_WORDS:
            # Consent to texts must be stated: a blank is not a yes.
            said = f"{raw_opt_in!r} is not" if raw_opt_in else "is blank; write"
            problems.append(problem(self._opt_in, f"opt_in {said} true, false, yes, no, 1 or 0"))
        last = _name_cell(values, self._last)
        if last is None and self._full is not None:
            last = split_name(_name_cell(values, self._full) or "")[2]
        if last is None:
            at = self._last if self._last is not None else self._full
            assert at is not None
            problems.append(problem(at, "the last name is missing"))
        if self._opt_in_at is not None:
            raw = values[self._opt_in_at].strip()
            if raw and _parse_when(raw, self._month_first) is None:
                problems.append(problem(self._opt_in_at, f"opt_in_at {raw} is not a date or time"))
        for at, name in ((self._update, "update_existing"), (self._create, "create_new")):
            if at is None or not values[at].strip():
                continue
            if values[at].strip().lower() not in _BOOL_WORDS:
                text = values[at].strip()
                problems.append(problem(at, f"{name} {text!r} is not true, false, yes or no"))
        for at in self.plan.unlabelled:
            if values[at].strip():
                problems.append(problem(at, "this column has data but no heading"))
        for at in range(self._width, len(values)):
            if values[at].strip():
                problems.append(problem(at, "this cell is past the last heading"))
        return Reject(row, tuple(values), tuple(problems))


def _name_cell(values: Sequence[str], at: int | None) -> str | None:
    """A name cell, trimmed, with runs of spaces and line breaks made one space."""
    if at is None:
        return None
    text = values[at]
    return " ".join(text.split()) or None if text else None
