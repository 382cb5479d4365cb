"""Downloads: CSV of the supervisor's tables, and diagram files.

CSV downloads of the supervisor's tables. UTF-8 with a byte-order mark so that Excel, which
most centers use, opens the Chinese text correctly; cells that a spreadsheet would take for a
formula are prefixed with an apostrophe (CSV injection)."""
import csv
import io
from urllib.parse import quote

from flask import Response

# The first characters that make a spreadsheet read a cell as a formula.
_FORMULA_START = frozenset(("=", "+", "-", "@", "\t", "\r"))


def _cell(value):
    # A report's download writes some 100,000 cells: plain text takes the short way.
    if value.__class__ is str:
        text = value
    elif isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    else:
        text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA_START else text


def csv_response(filename, head, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_cell(h) for h in head])
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


def xml_attachment(text, name):
    """A diagram file as a download, never rendered as a page: an uploaded file could carry XHTML."""
    return Response(text, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{name.rsplit("/", 1)[-1]}"'})
