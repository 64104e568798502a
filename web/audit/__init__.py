"""The auditors' area: history, replay, access log, exports, verification (pages.py), their part of /api (api.py),
and the read-only rule for auditors over the whole app. Imports no other area."""
