"""A request a service refuses, with the HTTP status the web layer answers: `message` is a Chinese message id
(`%(name)s` fields from `params`), so a page can show it translated; `text()` is the Chinese filled in."""
from __future__ import annotations


class Refused(Exception):
    def __init__(self, status: int, message: str, params: dict | None = None):
        self.params = dict(params or {})
        super().__init__(message % self.params if self.params else message)
        self.status, self.message = status, message

    def text(self) -> str:
        return str(self)
