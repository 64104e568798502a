"""The organisation for administrators: the page /admin/organisation (admins only; everyone else 403).

- `GET /admin/organisation`: the units and people in numbers, the (role, unit) pairs the deployed routing can
  produce that nobody holds (services/org_coverage.py), the upload form and the journal of imports.
- `POST /admin/organisation/preview`: upload a .yaml or .xlsx file (services/org_import.py); every problem with its
  sheet and row, or the changes it would make, with a button to apply exactly that file. Nothing changes here.
- `POST /admin/organisation/apply`: apply the previewed file (checked again; refused with every problem, changing
  nothing), journaled with the administrator and the time.
- `GET /admin/organisation/export.xlsx`: the current organisation as a workbook, the template to edit.

Forms carry the session's CSRF token (web/ui.py checks every page POST).
"""
from __future__ import annotations

import base64
import binascii
import logging

from flask import Blueprint, Response, render_template, request
from sqlalchemy import func, select

from infra.accounts import Membership, Unit, User
from services import org_coverage, org_import

from ..http import container
from ..ui import page_principal

bp = Blueprint("organisation_admin", __name__)
log = logging.getLogger("lianxin.organisation")
ADMINS = ("admin",)
MAX_FILE_BYTES = 5 * 1024 * 1024


def _tiers():
    return container().extras["org_chart"].current().tiers


def _render(status: int = 200, **extra):
    c = container()
    with c.extras["read_sessions"]() as s:
        counts = {"units": s.scalar(select(func.count()).select_from(Unit)),
                  "users": s.scalar(select(func.count()).select_from(User).where(User.active.is_(True))),
                  "memberships": s.scalar(select(func.count()).select_from(Membership))}
        roles, texts = org_coverage.deployed_routing(s)
        gaps = org_coverage.gaps(c.extras["org_chart"].current(), org_coverage.memberships_in(s), roles, texts) \
            if roles and texts else []
        journal = org_import.journal(s)
    return render_template("organisation/admin.html", counts=counts, gaps=gaps, journal=journal,
                           kinds=org_import.KINDS, **extra), status


def _upload() -> tuple[str, bytes] | None:
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        return upload.filename, upload.read(MAX_FILE_BYTES + 1)
    encoded, name = request.form.get("content_b64", ""), request.form.get("filename", "")
    if encoded and name:
        try:
            return name, base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


@bp.get("/admin/organisation")
def page():
    page_principal(*ADMINS)
    return _render()


@bp.get("/admin/organisation/export.xlsx")
def export():
    page_principal(*ADMINS)
    with container().extras["read_sessions"]() as s:
        data = org_import.workbook(s)
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=organisation.xlsx"})


def _checked(apply: bool):
    p = page_principal(*ADMINS)
    got = _upload()
    if got is None:
        return _render(400, problems=["请选择要上传的组织机构文件（.yaml 或 .xlsx）（choose a file to upload）"])
    name, content = got
    if len(content) > MAX_FILE_BYTES:
        return _render(413, problems=["文件过大，上限 5 MB（the file is larger than 5 MB）"])
    c = container()
    try:
        plan, change_id = org_import.run(c.session_factory, name, content, _tiers(), actor=p.username,
                                         at=c.clock.now(), dry_run=not apply)
    except org_import.ImportRefused as refused:
        log.warning("organisation import of %s by %s refused: %d problems", name, p.username, len(refused.issues))
        return _render(422, problems=[str(i) for i in refused.issues], filename=name)
    if apply:
        c.extras["org_chart"].refresh()
        log.info("organisation imported from %s by %s: %s", name, p.username, plan.counts())
        return _render(200, applied=plan, change_id=change_id, filename=name)
    return _render(200, preview=plan, filename=name, content_b64=base64.b64encode(content).decode("ascii"))


@bp.post("/admin/organisation/preview")
def preview():
    return _checked(apply=False)


@bp.post("/admin/organisation/apply")
def apply():
    return _checked(apply=True)
