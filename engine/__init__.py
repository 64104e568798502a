"""Lianxin's BPMN runtime on SpiffWorkflow: runtime, journal, clock, calendar, and the tables of definitions,
cases, work items, timers and the outbox the steps write (one `engine.db.Base` for every table of Lianxin).

Import rule: `engine` imports none of `services`, `infra` and `web`. It knows nothing of Flask, HTTP, the database
connection or the petition domain. Everything outside reaches it through `engine.runtime.Runtime`, and what it
needs from outside is named in `engine.ports`.
"""
