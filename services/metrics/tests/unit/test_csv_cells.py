"""A CSV export's cells: text that a spreadsheet would take for a formula is neutralised."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from metrics.domain.cells import cell


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-5", "'-5"),  # text that looks like a number is still text
        ("Hiring in Oslo", "Hiring in Oslo"),
        ("a = b", "a = b"),
        (" =1+1", " =1+1"),
        ("'quoted", "'quoted"),
        ("", ""),
        (None, ""),
        (-5, -5),
        (-0.25, -0.25),
        (12, 12),
        (3.5, 3.5),
        (True, True),
        (date(2026, 3, 2), "2026-03-02"),
        (["-a", "b"], '["-a", "b"]'),
        ({"x": 1}, '{"x": 1}'),
    ],
)
def test_cell(value: Any, want: Any) -> None:
    got = cell(value)
    assert got == want and type(got) is type(want)
