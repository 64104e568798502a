"""The case page `/cases/<id>` and the case's part of /api (state, messages, incident retry, deadlines). Imports no
other area."""
