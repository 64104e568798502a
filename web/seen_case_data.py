"""Case data this process has already made, by case and version, for the form checks of a later submission
(issue #21: restoring a case's workflow only to read its data cost about a tenth of a task completion's CPU).

A case's data is a function of its stored workflow state, and every change of that state moves the case's version
(the version lock: `engine.runtime` writes the next version with every command, the ORM with every other change of
the row). So the data made from the row at version v, by `Runtime.case_data` or with a case view
(`Runtime.get_case`), is the data at v for as long as the case is at v, and a case at another version is looked up
under another key. What is kept is the data as the state holds it (masked values and party references, never the
parties' plain fields), as JSON text: each reader gets its own copy, and nobody can change the kept one.

Kept per container (one database): the newest `SIZE` cases, at most `MAX_CHARS` characters of data in all (a long
case's data is large: it then keeps fewer); a miss costs what it cost before.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict

from .http import container

SIZE = 256
MAX_CHARS = 16 * 1024 * 1024
_KEY = "seen_case_data"


class SeenCaseData:
    def __init__(self, size: int = SIZE, max_chars: int = MAX_CHARS):
        self.size, self.max_chars = size, max_chars
        self._lock = threading.Lock()
        self._texts: OrderedDict[tuple[int, int], str] = OrderedDict()
        self._chars = 0

    def keep(self, case_id: int, version: int, data: dict) -> None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if len(text) > self.max_chars:
            return
        with self._lock:
            old = self._texts.pop((case_id, version), None)
            self._chars += len(text) - (len(old) if old is not None else 0)
            self._texts[(case_id, version)] = text
            while len(self._texts) > self.size or self._chars > self.max_chars:
                self._chars -= len(self._texts.popitem(last=False)[1])

    def get(self, case_id: int, version: int) -> dict | None:
        with self._lock:
            text = self._texts.get((case_id, version))
        return None if text is None else json.loads(text)


def seen() -> SeenCaseData:
    """The container's table (made on first use)."""
    extras = container().extras
    table = extras.get(_KEY)
    return table if table is not None else extras.setdefault(_KEY, SeenCaseData())


def keep_view(view) -> None:
    """Keep the data of a case view made from the stored state (`Runtime.get_case`), at the view's version.
    Not for the view a command returns: that one is made from the workflow in memory, not read back."""
    seen().keep(view.id, view.version, view.data)
