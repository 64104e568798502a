"""The one guard for every cell that leaves the system in a CSV file or an Excel workbook.

A spreadsheet program reads a cell that starts with `=`, `+`, `-` or `@` as a formula (and a leading tab or
carriage return lets one slip past a check of the first visible character); WPS and Excel with a Chinese input
method also take the full-width `＝＋－＠`. A case title such as `=HYPERLINK("http://…","点此查看")` written
unchanged into an audit export would then run, or send data away, when an officer opens the file. Text from
outside (titles, names, notes, field values) is therefore written with a leading apostrophe, which spreadsheet
programs read as "this cell is text" and do not evaluate; numbers and dates keep their type, since they cannot
carry a formula. openpyxl would otherwise store such a string as a formula itself.
"""
from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def safe_cell(value):
    """`value`, or for text that a spreadsheet would evaluate, the same text behind an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable) -> list:
    return [safe_cell(v) for v in values]
