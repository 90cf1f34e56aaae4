"""CSV cells that a spreadsheet will not run: every CSV warden writes passes its values through
`cell`, and every CSV warden reads back (`warden log verify-export`) through `uncell`.

OWASP's CSV injection guidance: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return can be read as a formula by Excel, LibreOffice or Google Sheets (`=HYPERLINK(...)` as a
model name), so such a cell is written with a leading `'`, which spreadsheets show as text. A
cell that itself starts with `'` gets one more, so `uncell` gives back exactly what was written.
Numbers (`-0.5`, `1e+25`) are left as they are: they are not formulas.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text and text.lower() not in ("-inf", "+inf", "-nan", "+nan")


def cell(value: object) -> str:
    """`value` as a CSV cell that no spreadsheet treats as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(ESCAPE) or (text.startswith(FORMULA_STARTS) and not _is_number(text)):
        return ESCAPE + text
    return text


def uncell(text: str) -> str:
    """What `cell` was given (as text)."""
    return text[1:] if text.startswith(ESCAPE) else text
