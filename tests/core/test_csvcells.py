"""CSV cells that spreadsheets will not run (OWASP CSV injection): escaped on the way out,
given back exactly on the way in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warden.core.csvcells import cell, uncell


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1+2", "'+1+2"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'quoted", "''quoted"),
        ("acme/m1", "acme/m1"),
        ("-0.5", "-0.5"),
        ("+1e25", "+1e25"),
        ("-inf", "'-inf"),
        (None, ""),
        (3, "3"),
    ],
)
def test_formula_starts_are_escaped_and_numbers_are_not(value: object, written: str) -> None:
    assert cell(value) == written


@given(st.text())
def test_uncell_gives_back_what_cell_was_given(text: str) -> None:
    written = cell(text)
    assert uncell(written) == text
    if written.startswith(("=", "+", "-", "@", "\t", "\r")):  # only a number may start so
        float(written)
