"""`caretbot import FILE` as a person types it, on files as Excel and Google Sheets write them.

Issue 7 (import: files as spreadsheets and people make them; what a new user meets
first): each test writes the file the way the spreadsheet program does (BOM, CRLF, a
line break inside a quoted cell, trailing commas, `sep=`), runs the command and reads
what was stored from the database file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from typer.testing import CliRunner

from bot.cli import imports as cli_import
from storage.db import Database
from storage.lists_models import CANDIDATES

HEADER = "First Name,Last Name,Mobile,E-mail,Opt In,City\r\n"


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "caretbot.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.chdir(tmp_path)
    return path


@pytest.fixture
def app(db_path: Path) -> typer.Typer:
    app = typer.Typer()
    cli_import.register(app)

    @app.command("version")  # a second command, so `import` stays a subcommand
    def _version() -> None:
        pass

    return app


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"a traceback for {args}") from result.exception
    return result.exit_code, result.stdout, result.stderr


def stored(db_path: Path, *columns: str) -> list[tuple[Any, ...]]:
    db = Database(f"sqlite:///{db_path}")
    try:
        with db.engine.connect() as conn:
            select = sa.select(*(CANDIDATES.c[name] for name in columns))
            return [tuple(row) for row in conn.execute(select.order_by(CANDIDATES.c.phone))]
    finally:
        db.dispose()


# --- 6: files as spreadsheets and people make them -----------------------------------


@pytest.mark.parametrize(
    ("inside", "end"),
    [("\n", "\r\n"), ("\r\n", "\r\n"), ("\n", ""), ("\r\n", "")],
    ids=["excel alt-enter", "crlf inside", "lf inside, no final break", "crlf, no final break"],
)
def test_a_last_row_with_a_quoted_comma_and_line_break_imports(
    app: typer.Typer, db_path: Path, tmp_path: Path, inside: str, end: str
) -> None:
    path = tmp_path / "people.csv"
    body = (
        "\ufeff"
        + HEADER
        + "Ana,López,512-555-0101,ana@example.com,yes,Austin\r\n"
        + f'Ben,Ruiz,512-555-0102,ben@example.com,yes,"London,{inside}UK"{end}'
    )
    path.write_bytes(body.encode("utf-8"))
    code, out, err = run(app, "import", str(path))
    assert code == 0, err
    assert "created: 2" in out and "rejected: 0" in out
    assert stored(db_path, "last_name", "city") == [
        ("López", "Austin"),
        ("Ruiz", f"London,{inside}UK"),
    ]


def test_only_a_quote_that_is_never_closed_is_that_error(
    app: typer.Typer, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(
        (
            HEADER
            + "Ana,López,512-555-0101,ana@example.com,yes,Austin\r\n"
            + 'Ben,Ruiz,512-555-0102,ben@example.com,yes,"London,\r\n'
        ).encode()
    )
    code, _, err = run(app, "import", str(path))
    assert code == 1
    assert "row 3: a quote opened in this row is never closed" in err
    assert stored(db_path, "last_name") == []


def test_trailing_commas_are_empty_cells_and_extra_data_is_a_row_problem(
    app: typer.Typer, db_path: Path, tmp_path: Path
) -> None:
    """A header of four columns, rows with one and two trailing commas, one with a note."""
    path = tmp_path / "sheet.csv"
    path.write_bytes(
        b"Last Name,Mobile,Email,Opt In\r\n"
        b"Lopez,512-555-0101,ana@example.com,TRUE,\r\n"
        b"Ruiz,512-555-0102,ben@example.com,FALSE,,\r\n"
        b"Diaz,512-555-0103,cy@example.com,TRUE,call after 5\r\n"
        b"Eve,512-555-0104\r\n"
    )
    code, out, err = run(app, "import", str(path))
    assert code == 0, err
    assert "created: 2" in out and "rejected: 2" in out
    assert "row 4: column E: this cell is past the last heading" in out
    assert "row 5: column D (Opt In): opt_in is blank" in out
    assert stored(db_path, "last_name") == [("Lopez",), ("Ruiz",)]
    rejects = (tmp_path / "sheet.rejects.csv").read_text(encoding="utf-8-sig")
    assert "call after 5" in rejects  # nothing the person typed is lost


def test_excels_sep_line_names_a_tab(app: typer.Typer, db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(
        "sep=\t\r\nFirst Name\tLast Name\tMobile\tE-mail\tOpt In\r\n"
        "José\tMuñoz\t512-555-0141\tjose@example.com\tyes\r\n".encode("cp1252")
    )
    code, out, err = run(app, "import", str(path))
    assert code == 0, err
    assert "tab-separated" in out and "created: 1" in out
    assert stored(db_path, "first_name", "last_name") == [("José", "Muñoz")]


@pytest.mark.parametrize(
    ("phone", "extension"), [("512-555-0103 x123", "123"), ("+1 512 555 0106 ext. 9", "9")]
)
def test_a_phone_with_an_extension_is_refused_with_that_reason(
    app: typer.Typer, db_path: Path, tmp_path: Path, phone: str, extension: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + f"Ana,López,{phone},ana@example.com,yes,Austin\r\n")
    code, out, _ = run(app, "import", str(path))
    assert code == 0
    assert f"phone {phone} has an extension ({extension})" in out
    assert stored(db_path, "phone") == []


def test_a_rejects_file_imports_again_as_it_is_without_the_guard_quote(
    app: typer.Typer, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "=1+1,-Dash,555-0100,dash@example.com,yes,@home\r\n")
    code, out, _ = run(app, "import", str(path))
    assert "rejected: 1" in out
    rejects = tmp_path / "people.rejects.csv"
    text = rejects.read_text(encoding="utf-8")
    assert "'=1+1,'-Dash" in text and "'@home" in text  # a spreadsheet runs none of them
    # The person fixes the phone and imports the rejects file as it is.
    rejects.write_text(text.replace("555-0100", "512-555-0100"), encoding="utf-8")
    code, out, err = run(app, "import", str(rejects))
    assert code == 0, err
    assert "created: 1" in out and "rejected: 0" in out
    assert stored(db_path, "first_name", "last_name", "city") == [("=1+1", "-Dash", "@home")]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(alphabet='ab,;\t"\r\n 5é=\ufeff', max_size=200).map(
            lambda text: ("Last Name,Mobile,Email,Opt In\r\n" + text).encode()
        ),
    )
)
def test_no_file_gives_a_traceback(app: typer.Typer, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    code, _, err = run(app, "import", str(path))  # raises on a traceback
    assert code in (0, 1), err
    if code == 1:
        assert "was not imported" in err


# --- 6b: what a new user meets first --------------------------------------------------


def test_a_full_name_of_one_word_is_the_last_name(
    app: typer.Typer, db_path: Path, tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Mobile", "Email", "Opt In"])
    sheet.append(["Prince", 5125550107, "prince@example.com", True])
    sheet.append(["Dr. Cher", "512-555-0108", "cher@example.com", "yes"])
    path = tmp_path / "people.xlsx"
    book.save(path)
    code, out, err = run(app, "import", str(path))
    assert code == 0, err
    assert "created: 2" in out
    assert stored(db_path, "first_name", "last_name") == [(None, "Prince"), (None, "Cher")]


def test_a_dry_run_writes_nothing(app: typer.Typer, db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        HEADER
        + "Ana,López,512-555-0101,ana@example.com,yes,Austin\r\n"
        + "Ben,Ruiz,555-0100,ben@example.com,yes,Dallas\r\n"
    )
    code, out, _ = run(app, "import", str(path), "--dry-run")
    assert code == 0
    assert "dry run: nothing was written" in out and "created: 1" in out and "rejected: 1" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.csv"]  # no database, no rejects
    # With a database there, the dry run leaves its file as it was, byte for byte.
    run(app, "import", str(path))
    (tmp_path / "people.rejects.csv").unlink()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    path.write_text(HEADER + "Cy,Diaz,512-555-0103,cy@example.com,yes,Austin\r\n")
    code, out, _ = run(app, "import", str(path), "--dry-run")
    assert "created: 1" in out and "unchanged: 0" in out
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "people.csv"}
    assert after == {name: data for name, data in before.items() if name != "people.csv"}
    assert stored(db_path, "last_name") == [("López",)]


def test_rows_sharing_a_phone_are_named_and_a_second_import_changes_nothing(
    app: typer.Typer, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        HEADER
        + "Ana,López,512-555-0101,ana@example.com,yes,Austin\r\n"
        + "Ben,Ruiz,(512) 555-0101,ben@example.com,yes,\r\n"
        + "Cy,Diaz,512-555-0103,cy@example.com,yes,Austin\r\n"
    )
    code, out, _ = run(app, "import", str(path))
    assert code == 0
    assert "rows that shared a phone with an earlier row: 1" in out
    assert "row 3 has the phone of row 2 (+15125550101): row 3 won" in out
    # The later row's filled cells won; its blank city kept the earlier one.
    assert stored(db_path, "first_name", "city") == [("Ben", "Austin"), ("Cy", "Austin")]
    code, out, _ = run(app, "import", str(path))
    assert "created: 0" in out and "updated: 0" in out and "unchanged: 3" in out
    code, out, _ = run(app, "import", str(path), "--dry-run")
    assert "updated: 0" in out and "unchanged: 3" in out
