"""Urgent and major matters (重大紧急事项, 《信访工作条例》第二十五条): flagging a case from its page
(`/cases/{id}/urgent`, `POST /api/cases/{id}/urgent`) and the bureau's live board (`/urgent`, `GET /api/urgent`).
The rules are services/urgent.py; who may flag and who sees the board, web/visibility.py. Imports no other area."""
