"""The handlers' desk: registration (with likely repeats), the task list and its actions, task forms, the case
search, the case registers (four lists). Pages: handling.py, lists.py; its part of /api: api.py; its OpenAPI paths:
openapi.py. Imports no other area (web/http.py and the shared modules of web/ only)."""
