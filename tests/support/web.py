"""The web app over Flask's test client: the demo organisation, processes deployed, users signed in."""
from __future__ import annotations

import re
from pathlib import Path

from . import deployed

ROOT = Path(__file__).resolve().parents[2]
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def office_app(container, deploy: bool = True, actor: str = "test", comment: str = ""):
    """The app on `container` with the demo organisation and users (password `demo`), processes/ deployed."""
    from engine.definitions import collect_files
    from services.organisation import load_organisation
    from web.app import create_app

    def load_and_deploy():
        with container.session_factory() as s, s.begin():
            load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
        if deploy:
            container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor=actor, comment=comment)

    # The same organisation and deployment onto the same database: recorded the first time, then put back
    # (tests/support/deployed.py); the key holds what else the result depends on.
    deployed.once(container.engine, ("office_app", deploy, actor, comment, container.clock.now().isoformat(),
                                     deployed.container_key(container)), load_and_deploy)
    return create_app(container)


def api_sign_in(app, username: str):
    """A JSON API client signed in as `username`, with the headers its unsafe requests need."""
    client = app.test_client()
    r = client.post("/api/session", json={"username": username, "password": "demo"})
    assert r.status_code == 201, r.get_json()
    return client, {"X-CSRF-Token": r.get_json()["csrf_token"]}


def csrf_of(html: str) -> str:
    """The CSRF token of a rendered page's form."""
    return CSRF_FIELD.search(html).group(1)


def page_sign_in(app, username: str):
    """A browser-like client signed in through the sign-in page."""
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
    assert r.status_code in (302, 303), r.status_code
    return client
