"""The filter language: a table of filters and the tree each reads as, then bad ones."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grammar.filters import (
    APPLY_STATUSES,
    FIELDS,
    Age,
    And,
    DateCompare,
    FilterError,
    FilterExpr,
    Flag,
    Has,
    InList,
    Kind,
    Not,
    Or,
    Scope,
    Status,
    Text,
    field_spec,
    parse_filter,
    render,
    walk,
)

VALID: list[tuple[str, FilterExpr]] = [
    ("city:Austin", Text("city", "Austin")),
    (
        "city:Austin source:indeed -status:archived",
        And((Text("city", "Austin"), Text("source", "indeed"), Not(Status("Archived")))),
    ),
    (
        'campaign:"Fall 2026" OR campaign:"Spring 2027"',
        Or((Text("campaign", "Fall 2026"), Text("campaign", "Spring 2027"))),
    ),
    # OR binds tighter than the implicit AND, as in Gmail and Google search.
    (
        "city:Austin campaign:a OR campaign:b",
        And((Text("city", "Austin"), Or((Text("campaign", "a"), Text("campaign", "b"))))),
    ),
    (
        "(city:Austin campaign:a) OR campaign:b",
        Or((And((Text("city", "Austin"), Text("campaign", "a"))), Text("campaign", "b"))),
    ),
    ("city:a AND city:b", And((Text("city", "a"), Text("city", "b")))),
    ("city:a and (city:b)", And((Text("city", "a"), Text("city", "b")))),
    ("city:a or city:b | city:c", Or((Text("city", "a"), Text("city", "b"), Text("city", "c")))),
    ("NOT city:a", Not(Text("city", "a"))),
    ("-(city:a OR city:b)", Not(Or((Text("city", "a"), Text("city", "b"))))),
    ("--city:a", Not(Not(Text("city", "a")))),
    ("created:>2026-10-01", DateCompare("created", ">", date(2026, 10, 1))),
    ("created:<=2026-10-01", DateCompare("created", "<=", date(2026, 10, 1))),
    ("created:2026-10-01", DateCompare("created", "=", date(2026, 10, 1))),
    (
        "created:>=2026-10-01T09:30",
        DateCompare("created", ">=", datetime(2026, 10, 1, 9, 30)),
    ),
    (
        "created:<2026-10-01T09:30Z",
        DateCompare("created", "<", datetime(2026, 10, 1, 9, 30, tzinfo=UTC)),
    ),
    ("replied:<7d", DateCompare("replied", "<", Age(7, "d"))),
    ("replied:>12h", DateCompare("replied", ">", Age(12, "h"))),
    ("replied:<2w", DateCompare("replied", "<", Age(2, "w"))),
    ("replied:<3days", DateCompare("replied", "<", Age(3, "d"))),
    ("has:email", Has("email")),
    ("has:replied", Has("replied")),
    ("has:job", Has("job_title")),
    ("-has:e-mail", Not(Has("email"))),
    ('list:"Night nurses"', InList("Night nurses")),
    ("list:Nurses", InList("Nurses")),
    ("opted_out:false", Flag("opted_out", False)),
    ("opt_in:yes", Flag("opt_in", True)),
    ("optin:1", Flag("opt_in", True)),
    ("status:engaged", Status("Engaged")),
    ('status:"interview scheduled"', Status("Interview Scheduled")),
    ("status:not-eligible-for-hire", Status("Not Eligible for Hire")),
    ("STATUS:Information_Missing", Status("Information Missing")),
    # Field names ignore case, hyphens and underscores; aliases map to one field.
    ("First-Name:Ana", Text("first_name", "Ana")),
    ("firstname:Ana", Text("first_name", "Ana")),
    ("zip:78701", Text("postal_code", "78701")),
    ("utm_source:indeed", Text("source", "indeed")),
    ("requisition:RN", Text("content", "RN")),
    ("job_id:R-12", Text("external_job_id", "R-12")),
    ("email:*@gmail.com", Text("email", "*@gmail.com", wildcard=True)),
    ('email:"*@gmail.com"', Text("email", "*@gmail.com")),
    ("referrer:https://x.com/a?b=c", Text("referrer", "https://x.com/a?b=c")),
    ('campaign:"say \\"hi\\""', Text("campaign", 'say "hi"')),
    # Slack and macOS turn straight quotes into typographic ones as people type.
    ("campaign:\u201cFall 2026\u201d", Text("campaign", "Fall 2026")),
    ("phone:+15125550100", Text("phone", "+15125550100")),
    ('phone:"(512) 555-0100"', Text("phone", "+15125550100")),
    ("phone:512-555-0100", Text("phone", "+15125550100")),
    ("phone:+1512*", Text("phone", "+1512*", wildcard=True)),
    ("  city:a   city:b  ", And((Text("city", "a"), Text("city", "b")))),
    ("city:Orlando", Text("city", "Orlando")),
    ("city:a OR\ncity:b", Or((Text("city", "a"), Text("city", "b")))),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[t for t, _ in VALID])
def test_filter_reads_as(text: str, expected: FilterExpr) -> None:
    assert parse_filter(text) == expected


# (filter, the message starts with, 1-based column of the caret, caret width)
ERRORS: list[tuple[str, str, int, int]] = [
    ("", "the filter is empty", 1, 1),
    ("   ", "the filter is empty", 1, 1),
    ("cty:Austin", "unknown field cty (did you mean city?)", 1, 3),
    ("city:Austin sorce:indeed", "unknown field sorce (did you mean source?)", 13, 5),
    ("shoe_size:9", "unknown field shoe_size", 1, 9),
    ("city:", "a value is missing after the colon", 6, 1),
    ("city:>", "a value is missing after the colon", 7, 1),
    ("Austin", "a term is field:value", 7, 1),
    ("city:Austin Texas", "a term is field:value", 18, 1),
    ("city:a OR", "OR needs a term on each side", 10, 1),
    ("OR city:a", "OR needs a term on each side", 1, 2),
    ("city:a OR OR city:b", "OR needs a term on each side", 11, 2),
    ("AND city:a", "AND needs a term on each side", 1, 3),
    ("(city:a", "this ( is never closed", 1, 1),
    ('city:b (city:a OR (city:"(" city:c)', "this ( is never closed", 8, 1),
    ("city:a)", "this ) has no ( before it", 7, 1),
    ("()", "the parentheses are empty", 2, 1),
    ("-", "- (or NOT) must come right before a term", 2, 1),
    ('city:"Austin', "this quote is never closed", 6, 7),
    ("city: Austin", "write the value right after the colon, e.g. city:Austin", 5, 2),
    ("city: source:indeed", "write the value right after the colon", 5, 2),
    ("phone:(512) 555-0100", 'quote a value that holds spaces or parentheses, e.g. phone:"', 7, 1),
    ("city:>Austin", "only dates compare with >", 6, 1),
    ("status:<=new", "only dates compare with <=", 8, 2),
    ("created:>soon", "soon is not a date", 10, 4),
    ("created:2026-13-01", "2026-13-01 is not a date", 9, 10),
    ("replied:7d", "say replied:<7d (less than 7d ago) or replied:>7d", 9, 2),
    ("replied:<7y", "7y is not a date", 10, 2),
    ("opted_out:maybe", "opted_out is true or false, not maybe", 11, 5),
    ("status:hired", "no apply status hired", 8, 5),
    ("status:engagd", "no apply status engagd (did you mean Engaged?)", 8, 6),
    ("has:emial", "has: takes a field such as email or replied (did you mean email?)", 5, 5),
    ("has:list", "has: takes a field such as email or replied", 5, 4),
    ('city:""', "the value is empty; for candidates without a city write -has:city", 6, 2),
    ('list:" "', "the value is empty", 6, 3),
    ("phone:abc", "abc is not a phone number", 7, 3),
    ("phone:+1-5a*", "a phone pattern holds digits and *", 7, 6),
    ("city:a\ncty:b", "unknown field cty", 1, 3),
]


@pytest.mark.parametrize(("text", "message", "column", "width"), ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_filter_says_what_and_where(text: str, message: str, column: int, width: int) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    error = caught.value
    assert error.message.startswith(message), error.explain()
    assert (error.column, error.end - error.start) == (column, width), error.explain()


def test_explain_puts_a_caret_under_the_problem() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter("city:Austin sorce:indeed")
    assert caught.value.explain() == (
        "unknown field sorce (did you mean source?)\n"
        "  city:Austin sorce:indeed\n"
        "              ^^^^^"
    )


def test_explain_shows_only_the_line_with_the_problem() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter("city:a\ncty:b")
    assert caught.value.explain().splitlines()[1:] == ["  cty:b", "  ^^^"]


def test_issue_example_with_unknown_status_lists_the_statuses() -> None:
    """`-status:hired` (the issue's example) names a status caretbot does not have."""
    with pytest.raises(FilterError) as caught:
        parse_filter("city:Austin source:indeed -status:hired")
    assert "Not Eligible for Hire" in caught.value.message


def test_phone_reads_in_the_region_given() -> None:
    assert parse_filter('phone:"020 7946 0018"', region="GB") == Text("phone", "+442079460018")


def test_terms_know_where_they_are() -> None:
    tree = parse_filter('city:a -list:"Night nurses"')
    assert isinstance(tree, And)
    assert [p.span for p in tree.parts] == [(0, 6), (7, 27)]


def test_field_table_has_every_field_once() -> None:
    names = [spec.name for spec in FIELDS]
    assert len(names) == len(set(names))
    candidate = {s.name for s in FIELDS if s.scope is Scope.CANDIDATE}
    apply = {s.name for s in FIELDS if s.scope is Scope.APPLY}
    assert candidate == {
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
        "opted_out",
        "external_contact_id",
        "created",
        "replied",
        "list",
        "has",
    }
    assert apply == {
        "source",
        "medium",
        "campaign",
        "content",
        "job_title",
        "location",
        "referrer",
        "keyword",
        "external_job_id",
        "status",
    }
    assert field_spec("replied").column == "last_inbound_at"
    assert field_spec("Zip-Code").name == "postal_code"


def test_no_alias_is_claimed_by_two_fields() -> None:
    seen: dict[str, str] = {}
    for spec in FIELDS:
        for name in (spec.name, *spec.aliases):
            key = name.replace("_", "").replace("-", "")
            assert seen.setdefault(key, spec.name) == spec.name, name


def test_walk_visits_every_node() -> None:
    tree = parse_filter("city:a -(has:email OR status:new)")
    kinds = [type(node).__name__ for node in walk(tree)]
    assert kinds == ["And", "Text", "Not", "Or", "Has", "Status"]


# --- render: what `lists show` prints for a saved filter parses back to the same tree ----

_text_fields = [s.name for s in FIELDS if s.kind is Kind.TEXT]
_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda v: v.strip() and "\u201d" not in v)


def _terms() -> st.SearchStrategy[FilterExpr]:
    when = st.one_of(
        st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
        st.builds(Age, st.integers(0, 999), st.sampled_from(["h", "d", "w"])),
    )
    return st.one_of(
        st.builds(Text, st.sampled_from(_text_fields), _values),
        st.builds(
            Text,
            st.sampled_from(_text_fields),
            st.from_regex(r"[a-z]{0,3}\*[a-z@.]{0,4}", fullmatch=True),
            st.just(True),
        ),
        st.builds(
            DateCompare,
            st.sampled_from(["created", "replied"]),
            st.sampled_from(["<", "<=", ">", ">="]),
            when,
        ),
        st.builds(Flag, st.sampled_from(["opt_in", "opted_out"]), st.booleans()),
        st.builds(Has, st.sampled_from(["email", "replied", "job_title", "phone"])),
        st.builds(InList, _values.map(str.strip).filter(bool)),
        st.builds(Status, st.sampled_from(APPLY_STATUSES)),
    )


_trees = st.recursive(
    _terms(),
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
    ),
    max_leaves=8,
)


def _flatten(expr: FilterExpr) -> FilterExpr:
    """Nested ANDs (and ORs) mean one flat AND (OR); the parser builds them flat."""
    if isinstance(expr, Not):
        return Not(_flatten(expr.expr))
    if isinstance(expr, And | Or):
        kind = type(expr)
        parts: list[FilterExpr] = []
        for part in map(_flatten, expr.parts):
            parts.extend(part.parts if isinstance(part, kind) else (part,))
        return kind(tuple(parts))
    return expr


@given(_trees)
def test_render_parses_back_to_the_same_tree(tree: FilterExpr) -> None:
    assert parse_filter(render(tree)) == _flatten(tree)
