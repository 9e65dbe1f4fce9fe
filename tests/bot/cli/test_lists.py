"""`caretbot import`, `lists` and `candidates` from a terminal, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import imports as cli_import
from bot.cli import lists as cli_lists

HEADER = "First Name,Last Name,Mobile,Email,Opt In,City,Source\n"
ROWS = (
    "Ana,López,(512) 555-0101,ana@example.com,yes,Austin,indeed\n"
    "Ben,Ruiz,512-555-0102,ben@example.com,no,Dallas,linkedin\n"
    "Cy,Diaz,555-0100,cy@example.com,yes,Austin,indeed\n"
)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'caretbot.db'}")
    monkeypatch.chdir(tmp_path)
    app = typer.Typer()
    cli_import.register(app)
    cli_lists.register(app)
    return app


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_import_reports_counts_and_rejects(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    code, out, _ = run(app, "import", str(path), "--list", "Night nurses")
    assert code == 0, out
    assert "created: 2" in out
    assert "rejected: 1" in out
    assert "added to list Night nurses: 2" in out
    assert "row 4: column C (Mobile): phone 555-0100 has no area code" in out
    assert (tmp_path / "people.rejects.csv").exists()
    code, out, _ = run(app, "import", str(path), "--dry-run")
    assert "dry run" in out and "unchanged: 2" in out


def test_a_header_problem_stops_the_import(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("First Name,Last Name,Mobile,Email,Opt In,Notes\nA,B,5125550101,,yes,x\n")
    code, _, err = run(app, "import", str(path))
    assert code == 1
    assert "was not imported" in err
    assert "column F (Notes): unknown header" in err


def test_an_unknown_region_is_a_usage_error(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    code, _, err = run(app, "import", str(path), "--region", "XX")
    assert code == 2
    assert "unknown region XX" in err


def test_lists_and_candidates(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    run(app, "import", str(path))
    code, out, _ = run(app, "lists", "create", "Austin", "--filter", "city:austin source:indeed")
    assert (code, out.strip()) == (0, "list Austin created with 1 candidate")
    code, out, _ = run(app, "lists", "create", "All", "--filter", "has:email", "--dynamic")
    assert "dynamic list All saved; 2 candidates match it now" in out
    code, out, _ = run(app, "lists")
    assert code == 0
    assert [line.split()[:3] for line in out.splitlines()[2:]] == [
        ["All", "dynamic", "2"],
        ["Austin", "static", "1"],
    ]
    code, out, _ = run(app, "lists", "show", "all")
    assert "list All (dynamic): 2 candidates" in out
    assert "+15125550101" in out and "+15125550102" in out
    code, out, _ = run(app, "candidates", "--filter", "list:austin OR city:dallas")
    assert out.splitlines()[0] == "2 candidates match"


def test_a_bad_filter_shows_the_caret(app: typer.Typer) -> None:
    code, _, err = run(app, "candidates", "--filter", "city:Austin sorce:indeed")
    assert code == 1
    assert err.splitlines() == [
        "unknown field sorce (did you mean source?)",
        "  city:Austin sorce:indeed",
        "              ^^^^^",
    ]
    code, _, err = run(app, "lists", "show", "nope")
    assert (code, err.strip()) == (1, 'there is no list named "nope"')


def test_every_count_agrees_with_its_number(app: typer.Typer, tmp_path: Path) -> None:
    """1 candidate matches, 0 and 2 candidates match; 1 row read (issue 7)."""
    path = tmp_path / "one.csv"
    path.write_text(HEADER + ROWS.splitlines(keepends=True)[0], encoding="utf-8")
    code, out, _ = run(app, "import", str(path))
    assert code == 0 and out.splitlines()[0].startswith("1 row read (")

    assert run(app, "candidates", "--filter", "city:austin")[1].splitlines()[0] == (
        "1 candidate matches"
    )
    assert run(app, "candidates", "--filter", "city:paris")[1].splitlines()[0] == (
        "0 candidates match"
    )
    out = run(app, "lists", "create", "One", "--filter", "city:austin", "--dynamic")[1]
    assert out.strip() == "dynamic list One saved; 1 candidate matches it now"
    out = run(app, "lists", "create", "None", "--filter", "city:paris")[1]
    assert out.strip() == "list None created with 0 candidates"
    assert run(app, "lists", "show", "One")[1].splitlines()[0] == "list One (dynamic): 1 candidate"


def test_candidates_match_accented_capitals_in_any_case(app: typer.Typer, tmp_path: Path) -> None:
    """Issue 7, item 7: SQLite's lower() folds ASCII only; caretbot's filters fold all."""
    path = tmp_path / "people.csv"
    path.write_bytes(
        "\ufeffFirst Name,Last Name,Mobile,Email,Opt In,City,Source\r\n"
        "Éloïse,Ñúñez,512-555-0101,e@example.com,yes,MONTRÉAL,Indéed\r\n"
        "Ben,Ruiz,512-555-0102,b@example.com,yes,MONTREAL,indeed\r\n".encode()
    )
    assert run(app, "import", str(path))[0] == 0
    for text in ("city:MONTRÉAL", "city:montréal", "city:Montré*", "first_name:ÉLOÏSE"):
        code, out, err = run(app, "candidates", "--filter", f"{text} source:INDÉED")
        assert code == 0, err
        assert out.splitlines()[0].startswith("1 candidate"), text  # plural or not
        assert "Éloïse" in out
