"""Reading agency CSV exports row by row, with each problem reported by line, field and rule.

The mapping from a row to a canonical event is the adapter's (pure, tested with plain data);
this module only turns lines into rows and pydantic errors into row-level problems. Nothing here
holds more than one record: a physical line longer than ``MAX_LINE`` or a field longer than
``MAX_FIELD`` is reported on its line and skipped, so a file of any size reads in bounded memory.

A value that a spreadsheet would run as a formula (one starting ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return, unless it is a plain number) is refused with rule ``formula``: such a value
is never a legitimate case id, code, date or name, and refusing it keeps it out of every later
export. Exports the hub writes neutralise the same prefixes as well (``neutralise``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError

from adapters.common import MappingError
from schemas.events import Event


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str
    rule: str
    message: str


@dataclass(frozen=True)
class MappedRow:
    line: int
    event: Event


RowMapper = Callable[[dict[str, str]], Event]
MAX_FIELD = 64 * 1024
MAX_LINE = 1024 * 1024
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
csv.field_size_limit(MAX_FIELD)


@dataclass(frozen=True)
class Row:
    """One data row: the line it ends on (line 1 is the header, as a spreadsheet shows it), its
    values by column, and the text it was read from, which names it (the same row, the same id)."""

    line: int
    values: dict[str, str]
    text: str


class _LineTooLong(Exception):
    pass


class _Lines:
    """The lines of a text stream for the csv reader, each at most ``MAX_LINE`` characters; a longer
    one is skipped to its end and raised as _LineTooLong. Remembers the text of the current record."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self.stream = stream
        self.record: list[str] = []
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.stream.readline(MAX_LINE + 1)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > MAX_LINE and not line.endswith("\n"):
            while (rest := self.stream.readline(MAX_LINE)) and not rest.endswith("\n"):
                pass
            raise _LineTooLong
        self.record.append(line.rstrip("\r\n"))
        return line


def read_rows(stream: io.TextIOBase) -> Iterator[Row | RowProblem]:
    """Each data row of a CSV stream, or the problem that stopped it being read."""
    lines = _Lines(stream)
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    except (_LineTooLong, csv.Error):
        yield RowProblem(1, "(header)", "header", "the first line is not a readable CSV header; nothing was read")
        return
    while True:
        lines.record = []
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _LineTooLong:
            yield RowProblem(lines.number, "(row)", "line-size", f"the line is longer than {MAX_LINE} characters")
            continue
        except csv.Error as exc:
            yield RowProblem(lines.number, "(row)", "csv", str(exc))
            continue
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, as csv.DictReader skips it
        formula = next((h for h, v in zip(header, cells, strict=False) if _is_formula(v)), None)
        if formula is not None:
            yield RowProblem(lines.number, formula, "formula", f"{formula} starts like a spreadsheet formula")
            continue
        values = {h: v.strip() for h, v in zip(header, cells, strict=False)}
        yield Row(lines.number, values, "\n".join(lines.record))


def _is_formula(value: str) -> bool:
    return value.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(value)


def map_row(row: Row, mapper: RowMapper) -> MappedRow | RowProblem:
    try:
        return MappedRow(row.line, mapper(row.values))
    except MappingError as exc:
        return RowProblem(row.line, exc.field, exc.rule, exc.message)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(row)"
        return RowProblem(row.line, field, err["type"], err["msg"].removeprefix("Value error, "))


def neutralise(value: str) -> str:
    """A value safe in a spreadsheet: one that would run as a formula is prefixed with ``'`` (OWASP)."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def required(row: dict[str, str], column: str) -> str:
    value = row.get(column, "")
    if not value:
        raise MappingError(f"{column} is required", field=column, rule="required")
    return value


def optional(row: dict[str, str], column: str) -> str | None:
    return row.get(column) or None


def day(row: dict[str, str], column: str, *, needed: bool = True) -> date | None:
    """Dates as ISO (2026-01-05) or as LA systems usually export them (05/01/2026)."""
    value = required(row, column) if needed else row.get(column, "")
    if not value:
        return None
    for parse in (date.fromisoformat, _uk_date):
        try:
            return parse(value)
        except ValueError:
            continue
    raise MappingError(f"{column} {value!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)", field=column, rule="date")


def _uk_date(value: str) -> date:
    d, m, y = value.split("/")
    return date(int(y), int(m), int(d))
