"""CSV and XLSX of a report table as its page displays it.

The XLSX carries a header of what the table is (its title, the period, the filters, when it
was made) above the table, numbers as numbers (never text), and the header row frozen. The
CSV is the table alone, UTF-8 with a byte-order mark so that Excel opens Chinese right.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Table:
    """A table as displayed: its title, what it covers (label → value), headers and rows.
    `formats` gives a column's number format in XLSX (e.g. '0.0%'), by header."""

    title: str
    headers: list[str]
    rows: list[list[Any]]
    context: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    bold_rows: set[int] = field(default_factory=set)  # subtotals and the total


def _generated() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _disposition(name: str, suffix: str) -> str:
    filename = f"{name}.{suffix}"
    plain = filename.encode("ascii", "replace").decode()
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"


def to_csv(table: Table) -> bytes:
    """The table alone: headers, then rows; a number as its plain digits."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(["" if value is None else value for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    """One sheet: title, context lines, generation time, a blank row, then the table."""
    book = Workbook()
    sheet = book.active
    sheet.title = "report"
    sheet.append([table.title])
    sheet["A1"].font = Font(bold=True, size=13)
    for label, value in table.context.items():
        sheet.append([label, value])
    sheet.append(["generated", _generated()])
    sheet.append([])
    header_row = sheet.max_row + 1
    sheet.append(table.headers)
    fill = PatternFill("solid", fgColor="EEF1F6")
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.fill = fill
    for index, row in enumerate(table.rows):
        sheet.append([_cell(value) for value in row])
        if index in table.bold_rows:
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
    for column, header in enumerate(table.headers, start=1):
        number_format = table.formats.get(header)
        letter = get_column_letter(column)
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=header_row + 1, min_col=column, max_col=column):
                cell.number_format = number_format
        width = max([len(str(header))] + [len(str(row[column - 1] or "")) for row in table.rows])
        sheet.column_dimensions[letter].width = min(40, max(10, width + 2))
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def csv_response(table: Table, name: str) -> Response:
    return Response(
        to_csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _disposition(name, "csv"), "Cache-Control": "no-store"},
    )


def xlsx_response(table: Table, name: str) -> Response:
    return Response(
        to_xlsx(table),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": _disposition(name, "xlsx"), "Cache-Control": "no-store"},
    )


def export_response(table: Table, name: str, suffix: str) -> Response:
    """`table` as `suffix` (csv or xlsx): what a page's export links ask for."""
    return (csv_response if suffix == "csv" else xlsx_response)(table, name)
