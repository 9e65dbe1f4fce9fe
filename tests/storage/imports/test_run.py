"""The import, end to end on each database: counts, no duplicates, whole batches."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

import storage.imports.write as write
from storage.db import Database
from storage.imports import REASON_HEADER, HeaderError, ImportOptions, SheetError, import_file
from storage.lists import ListError, create_list, find_list
from storage.lists_models import APPLIES, CANDIDATES, LIST_MEMBERS

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HEADER = ["First Name", "Last Name", "Mobile", "Email", "Opt In", "City", "Source", "Campaign"]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


ROWS = [
    ["Ana", "López", "(512) 555-0101", "ana@example.com", "yes", "Austin", "indeed", "Fall 2026"],
    ["Ben", "Ruiz", "512-555-0102", "ben@example.com", "no", "Dallas", "linkedin", "Fall 2026"],
    ["Cy", "Diaz", "555-0100", "cy@example.com", "yes", "Austin", "indeed", "Fall 2026"],
    ["Dee", "Park", "+1 512 555 0104", "dee@example", "yes", "Austin", "indeed", "Spring 2027"],
    ["Eve", "Stone", "5125550105", "", "1", "Houston", "", ""],
]


def rows_of(db: Database, table: sa.Table, *columns: str) -> list[tuple[Any, ...]]:
    """The rows, sorted here (None first) since databases order NULLs differently."""
    with db.read() as session:
        rows = [tuple(row) for row in session.execute(sa.select(*(table.c[c] for c in columns)))]
    return sorted(
        rows, key=lambda row: tuple((v is not None, v if v is not None else 0) for v in row)
    )


def test_an_import_stores_candidates_applies_and_the_list(
    database: Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", ROWS)
    rejects = tmp_path / "rejects.csv"
    summary = import_file(
        path,
        db=database,
        options=ImportOptions(list_name="Night nurses", rejects_path=rejects),
        now=NOW,
    )
    assert (summary.rows, summary.created, summary.rejected) == (5, 3, 2)
    assert (summary.added_to_list, summary.applies_added, summary.list_name) == (
        3,
        3,
        "Night nurses",
    )
    assert [str(r) for r in summary.rejects] == [
        "row 4: column C (Mobile): phone 555-0100 has no area code",
        "row 5: column D (Email): email dee@example is not valid",
    ]
    assert rows_of(database, CANDIDATES, "phone", "first_name", "email", "opt_in", "city") == [
        ("+15125550101", "Ana", "ana@example.com", True, "Austin"),
        ("+15125550102", "Ben", "ben@example.com", False, "Dallas"),
        ("+15125550105", "Eve", None, True, "Houston"),
    ]
    opted = rows_of(database, CANDIDATES, "phone", "opt_in_source", "opt_in_at")
    assert opted[0] == ("+15125550101", "import:c.csv", NOW)
    assert opted[1] == ("+15125550102", None, None)
    assert rows_of(database, APPLIES, "source", "campaign", "status", "is_active", "origin") == [
        (None, None, "New", True, "import"),
        ("indeed", "Fall 2026", "New", True, "import"),
        ("linkedin", "Fall 2026", "New", True, "import"),
    ]
    assert len(rows_of(database, LIST_MEMBERS, "candidate_id")) == 3
    with rejects.open(encoding="utf-8-sig", newline="") as stream:
        written = list(csv.reader(stream))
    assert written[0] == [*HEADER, REASON_HEADER]
    assert written[1][:3] == ["Cy", "Diaz", "555-0100"]
    assert written[1][-1] == "row 4: column C (Mobile): phone 555-0100 has no area code"


def test_importing_the_same_file_again_adds_nothing(database: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", ROWS)
    import_file(path, db=database, options=ImportOptions(list_name="L"), now=NOW)
    again = import_file(path, db=database, options=ImportOptions(list_name="L"), now=NOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert (again.applies_added, again.added_to_list) == (0, 0)
    assert len(rows_of(database, CANDIDATES, "id")) == 3
    assert len(rows_of(database, APPLIES, "id")) == 3
    assert len(rows_of(database, LIST_MEMBERS, "candidate_id")) == 3


def test_a_fixed_rejects_file_imports_as_it_is(database: Database, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    path = write_csv(tmp_path / "c.csv", ROWS)
    import_file(path, db=database, options=ImportOptions(rejects_path=rejects), now=NOW)
    fixed = rejects.read_text(encoding="utf-8-sig").replace("555-0100", "512-555-0103")
    fixed = fixed.replace("dee@example,", "dee@example.com,")
    rejects.write_text(fixed, encoding="utf-8-sig")
    summary = import_file(rejects, db=database, now=NOW)
    assert (summary.created, summary.rejected) == (2, 0)


def test_filled_cells_update_and_blank_cells_keep(database: Database, tmp_path: Path) -> None:
    import_file(write_csv(tmp_path / "a.csv", ROWS[:2]), db=database, now=NOW)
    changed = [["Ana", "López", "512 555 0101", "", "yes", "San Antonio", "indeed", "Fall 2026"]]
    summary = import_file(write_csv(tmp_path / "b.csv", changed), db=database, now=NOW)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 0)
    assert rows_of(database, CANDIDATES, "first_name", "email", "city")[0] == (
        "Ana",
        "ana@example.com",
        "San Antonio",
    )


def test_update_and_create_can_be_turned_off(database: Database, tmp_path: Path) -> None:
    import_file(write_csv(tmp_path / "a.csv", ROWS[:1]), db=database, now=NOW)
    rows = [
        ["Ana", "López", "5125550101", "", "yes", "Waco", "", ""],
        ["Ben", "Ruiz", "5125550102", "", "yes", "Waco", "", ""],
    ]
    options = ImportOptions(update_existing=False, create_new=False)
    summary = import_file(
        write_csv(tmp_path / "b.csv", rows), db=database, options=options, now=NOW
    )
    assert (summary.updated, summary.unchanged, summary.skipped, summary.created) == (0, 1, 1, 0)
    assert rows_of(database, CANDIDATES, "city") == [("Austin",)]


def test_rows_override_the_defaults(database: Database, tmp_path: Path) -> None:
    import_file(write_csv(tmp_path / "a.csv", ROWS[:1]), db=database, now=NOW)
    header = ["Last Name", "Mobile", "Email", "Opt In", "City", "Update Existing", "Create New"]
    rows = [
        ["López", "5125550101", "", "yes", "Waco", "no", ""],
        ["Ruiz", "5125550102", "", "yes", "Waco", "", "no"],
        ["Diaz", "5125550103", "", "yes", "Waco", "", "yes"],
    ]
    summary = import_file(write_csv(tmp_path / "b.csv", rows, header), db=database, now=NOW)
    assert (summary.unchanged, summary.skipped, summary.created) == (1, 1, 1)


def test_a_phone_twice_in_a_file_is_one_candidate(database: Database, tmp_path: Path) -> None:
    rows = [
        ["Ana", "López", "5125550101", "", "no", "Austin", "indeed", "Fall 2026"],
        ["Ana", "López", "(512) 555-0101", "ana@example.com", "yes", "Austin", "referral", ""],
    ]
    summary = import_file(write_csv(tmp_path / "a.csv", rows), db=database, now=NOW)
    assert (summary.created, summary.updated, summary.applies_added) == (1, 1, 2)
    assert rows_of(database, CANDIDATES, "email", "opt_in") == [("ana@example.com", True)]
    assert rows_of(database, APPLIES, "source", "is_active") == [
        ("indeed", True),
        ("referral", False),
    ]


def test_the_latest_apply_can_be_the_active_one(database: Database, tmp_path: Path) -> None:
    import_file(write_csv(tmp_path / "a.csv", ROWS[:1]), db=database, now=NOW)
    rows = [["Ana", "López", "5125550101", "", "yes", "Austin", "referral", "Spring 2027"]]
    options = ImportOptions(active_policy="latest")
    import_file(write_csv(tmp_path / "b.csv", rows), db=database, options=options, now=NOW)
    assert rows_of(database, APPLIES, "source", "is_active") == [
        ("indeed", False),
        ("referral", True),
    ]


def test_an_opted_out_candidate_stays_opted_out(database: Database, tmp_path: Path) -> None:
    import_file(write_csv(tmp_path / "a.csv", ROWS[:1]), db=database, now=NOW)
    with database.write() as session:
        session.execute(sa.update(CANDIDATES).values(opted_out=True))
    import_file(write_csv(tmp_path / "a.csv", ROWS[:1]), db=database, now=NOW)
    assert rows_of(database, CANDIDATES, "opted_out") == [(True,)]


def test_custom_columns_become_custom_fields(database: Database, tmp_path: Path) -> None:
    header = [*HEADER, "Shift"]
    path = write_csv(tmp_path / "a.csv", [[*ROWS[0], "nights"]], header)
    with pytest.raises(HeaderError):
        import_file(path, db=database, now=NOW)
    import_file(path, db=database, options=ImportOptions(custom=True), now=NOW)
    later = write_csv(
        tmp_path / "b.csv",
        [[*ROWS[0][:2], "5125550101", "", "yes", "", "", "", ""]],
        [*HEADER, "Badge"],
    )
    import_file(later, db=database, options=ImportOptions(custom=True), now=NOW)
    assert rows_of(database, CANDIDATES, "custom_fields") == [({"Shift": "nights"},)]


def test_a_header_problem_writes_nothing(database: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ROWS, [*HEADER[:6], "Notes", "Campaign"])
    with pytest.raises(HeaderError) as caught:
        import_file(path, db=database, options=ImportOptions(list_name="L"), now=NOW)
    assert [str(p) for p in caught.value.problems][0].startswith("column G (Notes): unknown header")
    assert rows_of(database, CANDIDATES, "id") == []
    with database.read() as session:
        assert find_list(session=session, name="L") is None


def test_a_dry_run_counts_and_writes_nothing(database: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", ROWS)
    options = ImportOptions(list_name="L", dry_run=True)
    summary = import_file(path, db=database, options=options, now=NOW)
    assert (summary.created, summary.rejected, summary.applies_added) == (3, 2, 3)
    assert summary.added_to_list == 3
    assert rows_of(database, CANDIDATES, "id") == []
    real = import_file(path, db=database, now=NOW)
    dry_again = import_file(path, db=database, options=ImportOptions(dry_run=True), now=NOW)
    assert (real.created, dry_again.created, dry_again.unchanged) == (3, 0, 3)


def test_a_dynamic_list_takes_no_rows(database: Database, tmp_path: Path) -> None:
    with database.write() as session:
        create_list(session=session, name="Austin", filter_text="city:Austin", dynamic=True)
    with pytest.raises(ListError, match="dynamic"):
        import_file(
            write_csv(tmp_path / "a.csv", ROWS),
            db=database,
            options=ImportOptions(list_name="austin"),
        )


def test_an_interrupted_import_leaves_whole_batches_and_reruns(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash mid-import keeps the batches before it; running again finishes the job."""
    rows = [
        [f"P{n}", "Smith", f"512555{n:04d}", "", "yes", "Austin", "indeed", ""]
        for n in range(200, 210)
    ]
    path = write_csv(tmp_path / "a.csv", rows)
    real_insert = write.bulk_insert
    calls = {"applies": 0}

    def failing(conn: Any, table: sa.Table, *args: Any, **kwargs: Any) -> None:
        if table is APPLIES:
            calls["applies"] += 1
            if calls["applies"] == 2:
                raise RuntimeError("power cut")
        real_insert(conn, table, *args, **kwargs)

    monkeypatch.setattr(write, "bulk_insert", failing)
    with pytest.raises(RuntimeError, match="power cut"):
        import_file(path, db=database, options=ImportOptions(batch_size=4), now=NOW)
    assert len(rows_of(database, CANDIDATES, "id")) == 4
    assert len(rows_of(database, APPLIES, "id")) == 4
    monkeypatch.setattr(write, "bulk_insert", real_insert)
    summary = import_file(path, db=database, options=ImportOptions(batch_size=4), now=NOW)
    assert (summary.created, summary.unchanged, summary.applies_added) == (6, 4, 6)
    assert len(rows_of(database, APPLIES, "id")) == 10


def test_an_xlsx_file_imports(database: Database, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["Ana", "López", 5125550101, "ana@example.com", True, "Austin", "indeed", None])
    path = tmp_path / "c.xlsx"
    book.save(path)
    progress: list[float] = []
    summary = import_file(path, db=database, progress=progress.append, now=NOW)
    assert (summary.created, summary.kind) == (1, "XLSX, sheet 'Sheet'")
    assert progress[-1] == 1.0
    assert rows_of(database, CANDIDATES, "phone") == [("+15125550101",)]


def test_a_phone_in_two_chunks_is_one_candidate(database: Database, tmp_path: Path) -> None:
    """The second sighting comes after the first was written: it updates, it adds no one."""
    rows = [
        ["Ana", "López", "5125550101", "", "no", "Austin", "indeed", ""],
        ["Ben", "Ruiz", "5125550102", "", "yes", "Dallas", "", ""],
        ["Cy", "Diaz", "5125550103", "", "yes", "Dallas", "", ""],
        ["Ana", "López", "5125550101", "ana@example.com", "yes", "Austin", "referral", ""],
        ["Dee", "Park", "5125550104", "", "yes", "Waco", "", ""],
    ]
    options = ImportOptions(batch_size=2)
    summary = import_file(
        write_csv(tmp_path / "a.csv", rows), db=database, options=options, now=NOW
    )
    assert (summary.created, summary.updated, summary.applies_added) == (4, 1, 5)
    assert rows_of(database, CANDIDATES, "phone", "email", "opt_in")[0] == (
        "+15125550101",
        "ana@example.com",
        True,
    )


def test_a_chunk_of_known_and_new_phones(database: Database, tmp_path: Path) -> None:
    import_file(write_csv(tmp_path / "a.csv", ROWS[:2]), db=database, now=NOW)
    rows = [
        ["Ana", "López", "5125550101", "", "yes", "Waco", "indeed", "Fall 2026"],
        ["Zed", "Ng", "5125550120", "", "yes", "Waco", "indeed", ""],
        ["Ben", "Ruiz", "5125550102", "ben@example.com", "no", "Dallas", "linkedin", "Fall 2026"],
        ["Yan", "Li", "5125550119", "", "yes", "Waco", "", ""],
    ]
    options = ImportOptions(list_name="Mixed")
    summary = import_file(
        write_csv(tmp_path / "b.csv", rows), db=database, options=options, now=NOW
    )
    assert (summary.created, summary.updated, summary.unchanged) == (2, 1, 1)
    assert (summary.applies_added, summary.added_to_list) == (2, 4)
    assert rows_of(database, CANDIDATES, "phone", "city") == [
        ("+15125550101", "Waco"),
        ("+15125550102", "Dallas"),
        ("+15125550119", "Waco"),
        ("+15125550120", "Waco"),
    ]
    assert len(rows_of(database, APPLIES, "id")) == 4


def test_a_big_file_is_read_in_a_process_of_its_own(database: Database, tmp_path: Path) -> None:
    """The same import, its rows read and checked in another process (as for big files)."""
    rows = [
        [f"P{n}", "Smith", f"512555{n:04d}", "", "yes", "Austin", "", ""] for n in range(200, 260)
    ]
    rows.append(["Bad", "Row", "555-0100", "", "yes", "", "", ""])
    rejects = tmp_path / "rejects.csv"
    options = ImportOptions(parallel=True, batch_size=25, rejects_path=rejects)
    summary = import_file(
        write_csv(tmp_path / "a.csv", rows), db=database, options=options, now=NOW
    )
    assert (summary.rows, summary.created, summary.rejected) == (61, 60, 1)
    assert [str(r) for r in summary.rejects] == [
        "row 62: column C (Mobile): phone 555-0100 has no area code"
    ]
    assert summary.rejects_path == rejects and rejects.exists()
    assert len(rows_of(database, APPLIES, "id")) == 60


def test_a_file_that_breaks_midway_says_where(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    body = (
        ",".join(HEADER)
        + "\n"
        + "Ana,López,5125550101,,yes,Austin,,\n"
        + 'Ben,"Ruiz,5125550102,,yes,Austin,,\n'
    )
    path.write_text(body, encoding="utf-8")
    for parallel in (False, True):
        with pytest.raises(SheetError, match="row 3: a quote opened in this row is never closed"):
            import_file(path, db=database, options=ImportOptions(parallel=parallel), now=NOW)


# --- issue 7: no input file ever gives a traceback; repeats; the same file twice -------

FUZZ_HEADER = b"Last Name,Mobile,Email,Opt In\r\n"


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=200).map(lambda tail: b"PK\x03\x04" + tail),  # a broken XLSX
        st.binary(max_size=200).map(lambda tail: b"\xff\xfe" + tail),  # UTF-16, odd bytes
        st.text(alphabet="ab,;\t\"\r\n 5é=+-'\x00\ufeff", max_size=300).map(
            lambda text: FUZZ_HEADER + text.encode("utf-8")
        ),
        st.lists(
            st.lists(
                st.sampled_from(["", "x", "512-555-0101", "yes", '"', "a,b", "\n"]), max_size=6
            ),
            max_size=8,
        ).map(lambda rows: FUZZ_HEADER + "\r\n".join(",".join(row) for row in rows).encode()),
    )
)
def test_any_file_gets_a_report_or_a_clear_error(tmp_path: Path, data: bytes) -> None:
    db = Database(f"sqlite:///{tmp_path / 'fuzz.db'}")
    db.upgrade()
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        summary = import_file(path, db=db, options=ImportOptions(rejects_path=tmp_path / "r.csv"))
    except (HeaderError, SheetError) as error:
        assert str(error)  # a sentence for the person, not a traceback
    else:
        assert summary.rows == summary.created + summary.updated + summary.unchanged + (
            summary.rejected + summary.skipped
        )
    finally:
        db.dispose()


def test_rows_that_share_a_phone_are_counted_across_chunks(
    database: Database, tmp_path: Path
) -> None:
    rows = [[f"N{i}", f"L{i}", f"512-555-{i:04d}", "", "yes", "", "", ""] for i in range(100, 110)]
    rows += [["Later", "Row", "512-555-0100", "", "yes", "", "", ""]]  # row 12 repeats row 2
    rows += [["Same", "Chunk", "512-555-0100", "", "yes", "", "", ""]]
    path = write_csv(tmp_path / "c.csv", rows)
    summary = import_file(path, db=database, options=ImportOptions(batch_size=5), now=NOW)
    assert (summary.created, summary.repeated) == (10, 2)
    assert [str(r) for r in summary.repeats] == [
        "row 12 has the phone of an earlier row (+15125550100): row 12 won",
        "row 13 has the phone of row 12 (+15125550100): row 13 won",
    ]
    assert rows_of(database, CANDIDATES, "first_name")[-1] == ("Same",)
    # Again, in one chunk: the rows of +15125550100 leave it as it was. (Across chunks a
    # row that changes it back still counts as updated: a chunk forgets what came before.)
    again = import_file(path, db=database, options=ImportOptions(), now=NOW)
    assert (again.created, again.updated, again.unchanged, again.repeated) == (0, 0, 12, 2)
