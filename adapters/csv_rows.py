"""Reading agency CSV exports row by row, with each problem reported by line, field and rule.

The mapping from a row to a canonical event is the adapter's (pure, tested with plain data);
this module only turns text into rows and pydantic errors into row-level problems.
"""

from __future__ import annotations

import csv
import io
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


def rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; line 1 is the header, as a spreadsheet shows it."""
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        yield reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}


def map_rows(text: str, mapper: RowMapper) -> tuple[list[MappedRow], list[RowProblem]]:
    mapped: list[MappedRow] = []
    problems: list[RowProblem] = []
    for line, row in rows(text):
        try:
            mapped.append(MappedRow(line, mapper(row)))
        except MappingError as exc:
            problems.append(RowProblem(line, exc.field, exc.rule, exc.message))
        except ValidationError as exc:
            err = exc.errors()[0]
            problems.append(
                RowProblem(
                    line,
                    ".".join(str(p) for p in err["loc"]) or "(row)",
                    err["type"],
                    err["msg"].removeprefix("Value error, "),
                )
            )
    return mapped, problems


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
