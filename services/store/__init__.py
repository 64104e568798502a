"""The petition domain's tables and their queries, declared on `engine.db.Base` (one metadata, one Alembic
history in `infra/migrations`).

- `handling`: the handlers' desk: the registration index for finding likely repeats, the petitioners' keyed
  digests, saved task-list filters.
- `casefiles`: comments and attachments on a case (journaled through `engine.case_chain`).
- `stats`: the statistics' read side and frozen monthly snapshots.
- `drafts`: designers' drafts of a process, validated and deployed through the runtime.
"""
