"""The case guard the API views share: the signed-in caller and the case they ask for, under the rules of
web/visibility.py (404 unknown, 403 not theirs, logged there)."""
from __future__ import annotations

from . import visibility
from .auth import require_login
from .http import container


def visible_case_or_404(case_id: int) -> None:
    """Whether the caller may see the case (rules in web/visibility.py): 404 unknown, 403 not theirs (logged). The
    case row is not read (the views read what they show themselves)."""
    p = require_login()
    with container().extras["read_sessions"]() as s:
        visibility.check_visible_case(s, p, case_id)
