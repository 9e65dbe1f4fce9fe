"""Blast templates: a table of texts and what they render to, or where they are refused."""

from __future__ import annotations

import pytest

from grammar.errors import CommandError
from grammar.template import MissingField, parse_template

ZOE = {"first_name": "Zoë", "last_name": "López", "city": "Chicago", "job_title": "RN"}


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("Hi {first_name}!", "Hi Zoë!"),
        ("Hi {first_name|there}!", "Hi Zoë!"),
        ("Hi {middle_name|there}!", "Hi there!"),
        ("Hi {middle_name|}!", "Hi !"),
        ("Hi { First-Name }", "Hi Zoë"),  # names match as filters' do
        ("{first} {surname}, {town}", "Zoë López, Chicago"),  # aliases
        ("Nights for {job_title|nurses} in {city}", "Nights for RN in Chicago"),
        ("Braces: {{not a field}}", "Braces: {not a field}"),
        ("St. Mary’s 🌙 {first_name}", "St. Mary’s 🌙 Zoë"),
        ("No fields at all", "No fields at all"),
    ],
)
def test_templates_render(template: str, rendered: str) -> None:
    assert parse_template(template).render(ZOE) == rendered


def test_an_empty_field_without_fallback_is_missing() -> None:
    with pytest.raises(MissingField) as missing:
        parse_template("Hi {middle_name}").render(ZOE)
    assert missing.value.name == "middle_name"
    with pytest.raises(MissingField):
        parse_template("Hi {first_name}").render({"first_name": "   "})


@pytest.mark.parametrize(
    ("template", "column", "problem"),
    [
        ("Hi {frist_name}", 5, "'frist_name' is not a field"),
        ("Hi {first_name", 4, "this { is never closed"),
        ("Hi {first_name|there} and {city", 27, "this { is never closed"),
        ("Hi } there", 4, "a } with no { before it"),
        ("Hi {}", 5, "an empty field"),
        ("Hi {first_name|a{b}", 17, "a { inside a field"),
        ("Hi {opt_in}", 5, "'opt_in' is not a field"),
        ("Hi {first name}", 11, "this is not a field"),
    ],
)
def test_bad_templates_are_refused_with_a_caret(template: str, column: int, problem: str) -> None:
    with pytest.raises(CommandError) as refused:
        parse_template(template)
    assert refused.value.column == column
    assert problem in refused.value.problem
    picture = refused.value.picture().splitlines()
    assert picture[1].index("^") == column - 1


def test_a_misspelt_field_gets_a_suggestion() -> None:
    with pytest.raises(CommandError) as refused:
        parse_template("Hi {frist_name}")
    assert refused.value.suggestion == "first_name"
