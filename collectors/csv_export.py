"""CSV downloads of the API and the dashboard, streamed, safe to open in a spreadsheet.

Hostnames, messages and tags come from the hosts, so a cell like ``=HYPERLINK(...)`` would be
run as a formula by the spreadsheet that opens the export. Every text cell starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe (OWASP's
advice for CSV injection); numbers are written as they are.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Iterator

from fastapi.responses import StreamingResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FLUSH_AT = 65536  # characters buffered before a chunk is sent


def inert(value: Any) -> Any:
    """The cell as a spreadsheet should show it: text it would run as a formula is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(name: str, rows: Iterable[dict[str, Any]], columns: Iterable[str] | None = None) -> StreamingResponse:
    """``rows`` streamed as a CSV attachment; the columns are ``columns`` or the first row's keys."""
    def generate() -> Iterator[str]:
        out = io.StringIO()
        writer: csv.DictWriter[str] | None = None
        header = list(columns) if columns else None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=header or list(row), extrasaction="ignore")
                writer.writeheader()
            writer.writerow({k: inert(v) for k, v in row.items()})
            if out.tell() > FLUSH_AT:
                yield out.getvalue()
                out.seek(0), out.truncate()
        if writer is None and header:
            csv.DictWriter(out, fieldnames=header).writeheader()
        yield out.getvalue()

    return StreamingResponse(generate(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
