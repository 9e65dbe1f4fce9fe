"""What a candidate spreadsheet must look like, and what each row turns into.

Pure (no SQL, no files): storage/importer.py reads a sheet with import_reader, asks
`plan_columns` whether the header can be imported at all, then runs every row through
`RowRules.check`. Header problems stop an import before anything is written; row
problems reject that row only, with the row number as the spreadsheet shows it.

Phones are the hot path of a million-row import: phonenumbers costs ~35 µs a number,
so NANP numbers (the common case) take a regex and a per-prefix cache whose answers are
exact because a NANP number's validity and type depend only on its first six digits
(tests/storage/test_import_rules.py checks that against phonenumbers).
"""

from __future__ import annotations

import csv
import difflib
import re
import re._constants as sre  # the regex parser's node names, to read phone metadata
import re._parser as sre_parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import IO, Any

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType

__all__ = [
    "APPLY_COLUMNS",
    "CANDIDATE_COLUMNS",
    "COLUMNS",
    "REASON_HEADER",
    "REQUIRED",
    "ColumnPlan",
    "HeaderError",
    "HeaderProblem",
    "Reject",
    "RejectsWriter",
    "RowProblem",
    "RowRules",
    "ValidRow",
    "check_region",
    "column_letter",
    "neutralise",
    "normalise_header",
    "parse_bool",
    "plan_columns",
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
_ALIASES: dict[str, tuple[str, ...]] = {
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
for _column, _names in _ALIASES.items():
    for _name in _names:
        _HEADER_KEYS[normalise_header(_name)] = _column
_IGNORED_KEYS = {normalise_header(REASON_HEADER)}


def column_letter(number: int) -> str:
    """Spreadsheet letters for a 1-based column number: 1 -> A, 27 -> AA."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _where(number: int, header: str) -> str:
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
        return f"{_where(self.column, self.header)}: {self.reason}"


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
    width = len(header)
    used = [False] * width
    for row in sample:
        for at, value in enumerate(row):
            if at >= len(used):
                used.extend([False] * (at + 1 - len(used)))
            if not used[at] and value.strip():
                used[at] = True
    for at in range(len(used)):
        title = header[at] if at < width else ""
        key = normalise_header(title)
        number = at + 1
        if not key:
            if used[at]:
                problems.append(HeaderProblem(number, title, "this column has data but no heading"))
            else:
                blank.append(at)
            continue
        if key in _IGNORED_KEYS:
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
                        f"duplicate header; {_where(first, header[first - 1])} has it too",
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
                    f"duplicate header: both this and {_where(first + 1, header[first])} "
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
            also = ", ".join(a for c in group for a in _ALIASES.get(c, ())[:3])
            problems.append(
                HeaderProblem(0, "", f"missing required column {names} (also read from: {also})")
            )
    if problems:
        problems.sort(key=lambda p: (p.column == 0, p.column))
        raise HeaderError(problems)
    return ColumnPlan(tuple(header), index, tuple(custom_columns), tuple(blank), tuple(ignored))


# --- rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    column: int
    header: str
    reason: str

    def __str__(self) -> str:
        return f"{_where(self.column, self.header)}: {self.reason}"


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


_BOOL_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def parse_bool(text: str) -> bool | None:
    """true/false/yes/no/1/0 in any case; None for anything else."""
    return _BOOL_WORDS.get(text.strip().lower())


_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
)
_SPACES = re.compile(r"\s+")
_HONORIFICS = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof"}
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "v", "phd", "md", "rn", "lpn"}

# phonenumbers' own words would confuse a recruiter ("FIXED_LINE"); these do not.
_NOT_MOBILE = {
    PhoneNumberType.FIXED_LINE: "a landline",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.VOIP: "an internet (VoIP) number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal (forwarding) number",
    PhoneNumberType.PAGER: "a pager",
    PhoneNumberType.UAN: "a company number",
    PhoneNumberType.VOICEMAIL: "a voicemail number",
}
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_TYPE_DESCS = (
    "general_desc",
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])
# +1 (512) 555-0100, 1-512-555-0100, 512.555.0100, 5125550100: the shapes of a NANP number.
_NANP = re.compile(r"(\+)?(?:1[\s.\-]*)?\(?([2-9]\d\d)\)?[\s.\-]*([2-9]\d\d)[\s.\-]*(\d{4})")
_EXCEL_NUMBER = re.compile(r"\d(?:\.\d+)?E\+\d+", re.IGNORECASE)


_ALL_DIGITS = frozenset("0123456789")
_NANP_VERDICTS: dict[str, str | None] = {}


def _digit_paths(items: Any) -> list[tuple[frozenset[str], ...]]:
    """Every digit-by-digit spelling of a parsed metadata regex (they have no * or +)."""
    paths: list[tuple[frozenset[str], ...]] = [()]
    for op, arg in items:
        if op is sre.LITERAL:
            parts: list[tuple[frozenset[str], ...]] = [(frozenset(chr(arg)),)]
        elif op is sre.IN:
            digits: set[str] = set()
            for kind, value in arg:
                if kind is sre.LITERAL:
                    digits.add(chr(value))
                elif kind is sre.RANGE:
                    digits.update(chr(c) for c in range(value[0], value[1] + 1))
                else:
                    digits |= _ALL_DIGITS  # \d inside a class
            parts = [(frozenset(digits),)]
        elif op is sre.CATEGORY:
            parts = [(_ALL_DIGITS,)]
        elif op is sre.MAX_REPEAT:
            low, high, sub = arg
            inner = _digit_paths(sub)
            parts = []
            for count in range(low, high + 1):
                runs: list[tuple[frozenset[str], ...]] = [()]
                for _ in range(count):
                    runs = [run + more for run in runs for more in inner]
                parts += runs
        elif op is sre.SUBPATTERN:
            parts = _digit_paths(arg[-1])
        elif op is sre.BRANCH:
            parts = [path for branch in arg[1] for path in _digit_paths(branch)]
        else:
            raise ValueError(f"unexpected {op} in phone metadata")
        paths = [path + part for path in paths for part in parts]
    return paths


@cache
def _nanp_depths() -> dict[str, int]:
    """How many leading digits of a +1 number decide whether it is valid and its type.

    Read from phonenumbers' own metadata: for each area code, the deepest digit that any
    pattern (or region's leading digits) constrains. Most area codes need 3 or 4 digits,
    Barbados and Jamaica 7; so a verdict cached under that prefix is exact.
    """
    patterns: list[tuple[str, bool]] = []  # (regex, whether it is a region's leading digits)
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        if metadata.leading_digits:
            patterns.append((metadata.leading_digits, True))
        for name in _TYPE_DESCS:
            desc = getattr(metadata, name, None)
            if desc is not None and desc.national_number_pattern:
                patterns.append((desc.national_number_pattern, False))
    depths: dict[str, int] = {}
    for pattern, leading in patterns:
        for path in _digit_paths(sre_parse.parse(pattern)):
            # Only ten-digit numbers take the fast path; `3\d{6}` (7 digits) never applies.
            if len(path) < 3 or (len(path) != 10 and not leading):
                continue
            deepest = max(
                (at + 1 for at, digits in enumerate(path) if digits != _ALL_DIGITS), default=0
            )
            for a in path[0]:
                for b in path[1]:
                    for c in path[2]:
                        npa = a + b + c
                        depths[npa] = max(depths.get(npa, 3), deepest)
    return depths


def _nanp_verdict(national: str) -> str | None:
    """None when a +1 number can take texts, else why not; cached per deciding prefix."""
    key = national[: _nanp_depths().get(national[:3], 3)]
    try:
        return _NANP_VERDICTS[key]
    except KeyError:
        pass
    if len(_NANP_VERDICTS) > 200_000:
        _NANP_VERDICTS.clear()
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
    verdict = _NANP_VERDICTS[key] = _phone_verdict(number)
    return verdict


_LENGTH_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: "is too short",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has the wrong number of digits",
    phonenumbers.ValidationResult.TOO_LONG: "is too long",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "has no area code",
}


_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "has an unknown country code",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
    phonenumbers.NumberParseException.TOO_LONG: "is too long",
}


def _phone_verdict(number: phonenumbers.PhoneNumber) -> str | None:
    if not phonenumbers.is_valid_number(number):
        length = phonenumbers.is_possible_number_with_reason(number)
        return _LENGTH_REASONS.get(length, "is not a valid number")
    kind = phonenumbers.number_type(number)
    if kind in _MOBILE_TYPES:
        return None
    return f"is {_NOT_MOBILE.get(kind, 'not a mobile number')}; texts need a mobile"


@lru_cache(maxsize=65536)
def _slow_phone(raw: str, region: str) -> tuple[str | None, str | None]:
    """phonenumbers for everything that is not a plain NANP number; cached on the text."""
    if _EXCEL_NUMBER.fullmatch(raw):
        return None, (
            f"phone {raw} lost digits when Excel turned it into a number; "
            "format the column as text and export again"
        )
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        return None, f"phone {raw} {_PARSE_REASONS.get(error.error_type, 'is not a phone number')}"
    verdict = _phone_verdict(number)
    if verdict is not None:
        return None, f"phone {raw} {verdict}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def normalise_phone(raw: str, region: str) -> tuple[str | None, str | None]:
    """(E.164, None) for a number that can take texts, (None, reason) otherwise."""
    text = raw.strip()
    if not text:
        return None, "phone is missing"
    match = _NANP.fullmatch(text)
    if match is not None:
        plus, npa, nxx, line = match.groups()
        if plus and not text.startswith("+1") or not plus and region not in _NANP_REGIONS:
            return _slow_phone(text, region)
        national = npa + nxx + line
        verdict = _nanp_verdict(national)
        if verdict is not None:
            return None, f"phone {text} {verdict}"
        return "+1" + national, None
    return _slow_phone(text, region)


def _split_name(full: str) -> tuple[str | None, str | None, str | None]:
    """'Ana María López' -> (Ana, María, López); 'López, Ana' -> (Ana, None, López).

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
        return (words[0] if words else None), None, None
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


def check_region(region: str) -> str:
    """The region, upper-cased; ValueError naming it when phonenumbers does not know it."""
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {region}: use a two-letter code such as US or GB")
    return region


class RowRules:
    """Checks and cleans data rows for one header; `check` is called once per row."""

    def __init__(self, plan: ColumnPlan, *, region: str = "US") -> None:
        region = check_region(region)
        self.plan = plan
        self.region = region
        self._month_first = region in _NANP_REGIONS
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

    def _problem(self, at: int, reason: str) -> RowProblem:
        header = self.plan.header[at] if at < len(self.plan.header) else ""
        return RowProblem(at + 1, header, reason)

    def check(self, row: int, values: Sequence[str]) -> ValidRow | Reject:
        """The cleaned row, or a Reject with every problem found in it.

        Called a million times in a big import: locals over attributes, one pass.
        """
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
                f_first, f_middle, f_last = _split_name(full)
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
            last = _split_name(_name_cell(values, self._full) or "")[2]
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


# --- the rejects file ---------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Cells that a spreadsheet would run as a formula get a leading quote (CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


class RejectsWriter:
    """Writes rejected rows with their original values and a reason column.

    UTF-8 with a BOM, because Excel reads a BOM-less CSV as Windows-1252. A rejects
    file, fixed, imports again as it is: the importer skips the reason column.
    """

    def __init__(self, stream: IO[str], header: Sequence[str]) -> None:
        self._writer = csv.writer(stream)
        self._keep = [
            at for at, title in enumerate(header) if normalise_header(title) not in _IGNORED_KEYS
        ]
        self._width = len(header)
        stream.write("\ufeff")
        self._writer.writerow([neutralise(header[at]) for at in self._keep] + [REASON_HEADER])

    def write(self, reject: Reject) -> None:
        values = list(reject.values)
        values += [""] * (self._width - len(values))
        cells = [values[at] for at in self._keep] + [f"row {reject.row}: {reject.reason}"]
        # Cells past the last heading stay, after the reason, so nothing is lost.
        cells += values[self._width :]
        self._writer.writerow([neutralise(cell) for cell in cells])
