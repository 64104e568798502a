"""Every module that declares tables on `engine.db.Base`, imported in one place, so that the metadata is complete.

The tables belong to three packages: the engine's (`engine.store`, `engine.calendar.models`,
`engine.verification_runs`), the infrastructure's (`infra.accounts`, `infra.access_log`, `infra.rate_limits`, `infra.lockout`,
`infra.second_factor`, `infra.security_log`) and
the petition domain's (`services.store`). Only a package that may import all three can list them, and `services`
is the lowest such package (`infra` imports no services), so the list lives here.

Upgrading a database does not need it (the migrations in `infra/migrations` are explicit); comparing the models
with the migrations (tests/integration/test_migrations.py) and autogenerating a revision do: import this module
first. A feature that adds tables adds its module here and a migration whose parent is the current head
(0008_merge_areas joined the parallel branches; 0013_merge_crypto_security joined 0012_journal_algorithm and
0012_security_log; 0015_merge_parties_imports joined 0014_parties and 0014_imported_drafts; 0016_erasure; 0017_org_import (the org_change journal), 0017_second_orphan_work, 0017_accuse_confidential, 0017_ratesup_parent_case, 0017_inbox_read_state and their merge 0018_merge_s6; 0019_exchange (the upstream exchange's received matters) and 0019_scale_indexes (indexes for 100,000 cases), joined by 0020_merge_s7; 0021_search_indexes (the case search's words, case_text, and their text index: FTS5 trigram on SQLite, pg_trgm GIN on PostgreSQL); 0022_growing_case (a case's live timers by (case_id, status); the workflow state lz4-compressed on PostgreSQL; the head); `infra.migrate` still upgrades to every head).
"""
from engine import store, verification_runs  # noqa: F401
from engine.calendar import models as calendar_models  # noqa: F401
from infra import access_log, accounts, keys, lockout, rate_limits, second_factor, security_log  # noqa: F401
from services.store import (  # noqa: F401
    casefiles,
    drafts,
    erasures,
    exchange,
    handling,
    inbox,
    organisation,
    parties,
    stats,
)
