"""Errors the calendar raises. Messages are for people: Chinese first, English after."""
from __future__ import annotations


class CalendarError(Exception):
    pass


class CalendarYearMissing(CalendarError, LookupError):
    """A deadline needs a year the calendar neither holds nor may compute. Raised instead of guessing."""

    def __init__(self, year: int, message: str):
        super().__init__(message)
        self.year = year


class CalendarImportError(CalendarError, ValueError):
    """An import file was rejected; nothing was written. `problems` lists every fault found, one line each."""

    def __init__(self, problems: list[str], year: int | None = None):
        self.problems = list(problems)
        self.year = year
        which = f"{year} 年节假日安排文件" if year else "节假日安排文件"
        head = (f"{which}有 {len(self.problems)} 处错误，未写入任何数据 "
                f"(the file has {len(self.problems)} problem(s); nothing was written):")
        super().__init__("\n".join([head, *(f"- {p}" for p in self.problems)]))
