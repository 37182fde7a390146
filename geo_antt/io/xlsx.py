"""Writing XLSX cells safely: text stays text (no formula injection).

openpyxl stores a ``str`` value beginning with ``=`` as a formula (``Cell.data_type == "f"``);
every other string is stored as a string cell (``"s"``), which Excel never evaluates, whatever
its first character (``+``, ``-``, ``@``, tab, CR). So a name typed as ``=HYPERLINK(...)`` would
become a live formula in a report. :func:`append_text_row` is the one way the project's XLSX
writers add rows: it appends the values and turns any cell openpyxl took for a formula back
into a string cell holding the same text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["append_text_row"]


def append_text_row(ws: Any, values: Sequence[Any]) -> None:
    """Append ``values`` as a new row of the openpyxl worksheet ``ws``, every text as text.

    Parameters
    ----------
    ws
        An ``openpyxl`` worksheet (not read-only).
    values
        The cell values of the row; strings beginning with ``=`` are stored as strings, not
        formulas. The project never writes formulas.
    """
    ws.append(list(values))
    for cell in ws[ws.max_row]:
        if cell.data_type == "f":
            cell.data_type = "s"
