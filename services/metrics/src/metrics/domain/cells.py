"""What a CSV cell may hold, so that a spreadsheet opening an export never runs it.

A text cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which some
spreadsheets skip before reading one of those) is taken for a formula; a content item
titled `=HYPERLINK(...)` would otherwise become a live link in a manager's spreadsheet.
Such text gets a leading `'` (OWASP's rule); numbers stay numbers, negative ones too.
"""

from __future__ import annotations

import json
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> int | float | str:
    """One value as a CSV cell: a number as it is, anything else as text that is not a formula."""
    if isinstance(value, int | float):  # bool is an int: written True/False, never a formula
        return value
    if value is None:
        return ""
    text = json.dumps(value) if isinstance(value, dict | list) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
