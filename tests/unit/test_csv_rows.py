"""Reading CSV rows in bounded memory, with every problem on its own line number."""

from __future__ import annotations

import io

from adapters.csv_rows import MAX_LINE, Row, RowProblem, neutralise, read_rows


def _read(text: str) -> list[Row | RowProblem]:
    return list(read_rows(io.StringIO(text)))


def test_rows_keep_their_spreadsheet_line_numbers_past_a_skipped_long_line() -> None:
    text = "a,b\n1,2\n" + "x" * (MAX_LINE + 10) + "\n3,4\n\n5,6\n"
    found = _read(text)
    assert [(r.line, r.values) for r in found if isinstance(r, Row)] == [
        (2, {"a": "1", "b": "2"}),
        (4, {"a": "3", "b": "4"}),
        (6, {"a": "5", "b": "6"}),
    ]
    assert [(p.line, p.rule) for p in found if isinstance(p, RowProblem)] == [(3, "line-size")]


def test_a_quoted_record_over_two_lines_is_one_row_named_by_its_whole_text() -> None:
    [row] = _read('a,b\n"one\ntwo",2\n')
    assert isinstance(row, Row)
    assert row.values == {"a": "one\ntwo", "b": "2"}
    assert row.text == '"one\ntwo",2'


def test_formula_cells_are_refused_but_plain_numbers_are_not() -> None:
    found = _read("a,b\n=1+1,x\n-3,+44\n@SUM(A1),x\n\tcmd,x\nok,-x\n")
    assert [(getattr(r, "line", None), getattr(r, "rule", "row")) for r in found] == [
        (2, "formula"),
        (3, "row"),
        (4, "formula"),
        (5, "formula"),
        (6, "formula"),
    ]


def test_a_field_over_the_limit_is_a_problem_on_its_line() -> None:
    found = _read('a,b\n"' + "y" * 100_000 + '",1\n2,3\n')
    assert isinstance(found[0], RowProblem) and found[0].rule == "csv"
    assert isinstance(found[-1], Row) and found[-1].values == {"a": "2", "b": "3"}


def test_an_unreadable_header_stops_the_file_with_one_problem() -> None:
    assert [(p.line, p.rule) for p in _read("z" * (MAX_LINE + 1) + "\n1,2\n")] == [(1, "header")]  # type: ignore[union-attr]


def test_exports_neutralise_formula_prefixes() -> None:
    assert [neutralise(v) for v in ("=cmd", "+1", "-x", "@a", "\tx", "ok")] == [
        "'=cmd",
        "'+1",
        "'-x",
        "'@a",
        "'\tx",
        "ok",
    ]
