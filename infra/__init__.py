"""Lianxin's infrastructure: what any case-handling system on a database needs, with no petition rules in it.

- `db`: connecting (SQLite or PostgreSQL) and the session factories; `migrate` and `migrations/`: the one Alembic
  history of every table (the tables are declared on `engine.db.Base`, one metadata).
- `accounts`: units, users, memberships, API tokens, and the handlers' membership directory (a port of the engine).
- `delivery`, `delivery_worker`, `channels`: delivering the outbox the engine writes, over in-app, e-mail and SMS.
- `rate_limits`: counters for the request limits; `access_log`: who looked at which case.

Import rule: `infra` may import `engine` (its Base, store and worker); it imports neither `services` nor `web`.
What it needs from them is named in `infra.ports` and handed in by the composition root (`web.bootstrap`).
"""
