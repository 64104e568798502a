"""Issue #15, point 1: `GET /stats?live=</script><script>...</script>` closed the dashboard's data block and ran
the attacker's script in the bureau's session. Now `live` must be 0 or 1, and whatever text reaches the page's
data (a unit's name, from an organisation import) is written with `tojson`: it stays inside the JSON block."""
from __future__ import annotations

import json

import lxml.html
import pytest

from tests.support.web import page_sign_in

PAYLOAD = "</script><script>document.title='XSS';window.lxPwned=1</script>"
NAMED = "</script><script>document.title='XSS';window.lxPwned=2</script>"


def executable_scripts(html: str) -> list:
    """The <script> elements a browser would run (as lxml parses the page, the way a browser's parser does)."""
    doc = lxml.html.fromstring(html)
    return [s for s in doc.iter("script") if (s.get("type") or "text/javascript").lower()
            in ("text/javascript", "module", "application/javascript")]


@pytest.fixture
def office(container):
    from web.app import create_app
    from web.setup import initialise

    initialise(container, demo=True)
    return create_app(container)


def test_a_script_in_live_is_refused_and_not_echoed(office):
    bureau = page_sign_in(office, "bureau")
    r = bureau.get("/stats", query_string={"live": PAYLOAD})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "参数 live 只能是以下之一：0, 1" in html
    assert "lxPwned" not in html
    assert all(s.get("src") and not (s.text or "").strip() for s in executable_scripts(html))
    r = bureau.get("/api/stats", query_string={"live": PAYLOAD})
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "invalid" and "live" in r.get_json()["error"]["message"]
    assert bureau.get("/stats?live=1").status_code == 200 and bureau.get("/stats?live=0").status_code == 200


def test_text_in_the_page_data_stays_in_its_json_block(office, monkeypatch):
    """A unit named like a script (the organisation is imported from a file) is data on the page, not code."""
    from web.stats import pages as stats_web

    ranked = stats_web.rankings

    def rankings_named_like_a_script(*args, **kwargs):
        rows = ranked(*args, **kwargs)
        return [dict(row, unit_name=NAMED) for row in rows]

    monkeypatch.setattr(stats_web, "rankings", rankings_named_like_a_script)
    r = page_sign_in(office, "bureau").get("/stats?live=1")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    scripts = executable_scripts(html)
    assert scripts and all(s.get("src") and not (s.text or "").strip() for s in scripts), \
        [lxml.html.tostring(s)[:120] for s in scripts]
    block = lxml.html.fromstring(html).get_element_by_id("stats-data")
    data = json.loads(block.text)
    assert data["ranking"] and {row["name"] for row in data["ranking"]} == {NAMED}
    assert "</script>" not in block.text and "<" not in block.text
