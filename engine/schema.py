"""Every module that declares tables on `engine.db.Base`, imported in one place.

Alembic's env, the migration check and tests import this module so that the metadata is complete.
A feature that adds tables adds its module here and a migration whose parent is the current head
(0008_merge_areas joined the parallel branches; 0013_merge_crypto_security joined 0012_journal_algorithm and
0012_security_log; the head is now 0013_merge_crypto_security; `engine.migrate` still upgrades to every head).
"""
from engine import (  # noqa: F401
    access_log as _access_log,  # noqa: F401
    accounts,
    casefiles_store as _casefiles_store,  # noqa: F401
    drafts as _drafts,  # noqa: F401
    handling_store as _handling_store,  # noqa: F401
    lockout as _lockout,  # noqa: F401
    rate_limits as _rate_limits,  # noqa: F401
    second_factor as _second_factor,  # noqa: F401
    security_log as _security_log,  # noqa: F401
    stats_store as _stats_store,  # noqa: F401
    store,
    verification_runs as _verification_runs,  # noqa: F401
)
from engine.calendar import models as _calendar_models  # noqa: F401
