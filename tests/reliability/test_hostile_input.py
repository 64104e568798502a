"""Hostile input through the HTTP API: dangerous XML, scripts that try to escape or exhaust the sandbox, invalid
forms, oversized bodies and text no person types. Each gets a clear error, nothing is stored and no file is read."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from engine.db import Base
from services import parties, schema  # noqa: F401  (schema: every table, for the row counts)
from tests.support import bpmn
from tests.support.web import api_sign_in as sign_in, office_app

ROOT = Path(__file__).resolve().parents[2]
REGISTRATION = {"channel": "来访", "title": "拖欠工资", "request": "请求支付拖欠的工资", "category": "劳动社保",
                "location": "county_a", "petitioners": [{"name": "张三"}]}


@pytest.fixture
def app(container):
    return office_app(container, deploy=False)  # deployments go through the HTTP API here


@pytest.fixture
def sqlite_app(sqlite_container):
    return office_app(sqlite_container, deploy=False)


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body built in memory (the test client would spool a big one to a file it never closes)."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode()
             + v.encode("utf-8", "surrogatepass") + b"\r\n" for k, v in fields.items()]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{n}"\r\n'
              f"Content-Type: application/octet-stream\r\n\r\n".encode() + c + b"\r\n" for n, c in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(client, headers, files, comment: str = ""):
    data, content_type = multipart({"comment": comment}, files)
    return client.post("/api/process-definitions", headers=headers, content_type=content_type, data=data)


def row_counts(container) -> dict[str, int]:
    with container.session_factory() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables
                if t.name != "access_log"}  # reading a case is logged by design


def stored_text(container) -> str:
    """Every text the database holds, to look for a canary."""
    out = []
    with container.session_factory() as s:
        for t in Base.metadata.sorted_tables:
            if t.name in ("calendar_day", "calendar_year"):
                continue
            for row in s.execute(select(t)):
                out.append(repr(tuple(row)))
    return "\n".join(out)


@pytest.fixture
def canary(tmp_path) -> tuple[Path, str]:
    secret = f"CANARY-{uuid.uuid4().hex}"
    path = tmp_path / "canary.txt"
    path.write_text(secret)
    return path, secret


@pytest.fixture
def deployed(app):
    designer, dh = sign_in(app, "designer")
    files = [(p.name, p.read_bytes()) for p in sorted((ROOT / "processes").rglob("*"))
             if p.suffix in (".bpmn", ".dmn", ".json") and p.parent.name in ("processes", "forms")]
    assert upload(designer, dh, files).status_code == 201
    return designer, dh


# ---------------------------------------------------------------- XML

SIMPLE = (ROOT / "processes" / "simple_case.bpmn").read_text(encoding="utf-8")


def _with_prolog(prolog: str, name_ref: str = "") -> bytes:
    text = SIMPLE.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="UTF-8"?>\n' + prolog, 1)
    if name_ref:
        text = text.replace('name="签收办理"', f'name="签收办理{name_ref}"', 1)
    return text.encode("utf-8")


def hostile_files(canary_path: Path) -> dict[str, bytes]:
    uri = canary_path.as_uri()
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return {
        "doctype": _with_prolog('<!DOCTYPE definitions [<!ELEMENT definitions ANY>]>'),
        "external_entity": _with_prolog(f'<!DOCTYPE d [<!ENTITY leak SYSTEM "{uri}">]>', "&leak;"),
        "parameter_entity": _with_prolog(f'<!DOCTYPE d [<!ENTITY % p SYSTEM "{uri}"> %p;]>'),
        "billion_laughs": _with_prolog(f'<!DOCTYPE d [<!ENTITY l0 "哈">{laughs}]>', "&l9;"),
        "doctype_in_utf16": _with_prolog(f'<!DOCTYPE d [<!ENTITY leak SYSTEM "{uri}">]>', "&leak;")
        .decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
        "xinclude": SIMPLE.replace("</bpmn:process>", f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                                   f'href="{uri}" parse="text"/></bpmn:process>', 1).encode("utf-8"),
        "deep_nesting": b'<?xml version="1.0"?><a>' + b"<b>" * 100_000 + b"</b>" * 100_000 + b"</a>",
        "huge": SIMPLE.replace("</bpmn:definitions>", "<!--" + "填" * (2 * 1024 * 1024) + "--></bpmn:definitions>")
        .encode("utf-8"),
    }


def test_dangerous_xml_is_refused_unread_and_nothing_is_deployed(app, container, canary):
    path, secret = canary
    designer, dh = sign_in(app, "designer")
    before = row_counts(container)
    for kind, content in hostile_files(path).items():
        r = upload(designer, dh, [("simple_case.bpmn", content)])
        assert r.status_code == 422, (kind, r.get_data(as_text=True)[:500])
        body = r.get_json()
        assert body["errors"] and all(e["file"] == "simple_case.bpmn" and e["message"] for e in body["errors"]), kind
        assert "未部署" in body["error"]["message"], kind
        assert secret not in r.get_data(as_text=True), kind
    assert row_counts(container) == before
    assert secret not in stored_text(container)


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read(app, container):
    designer, dh = sign_in(app, "designer")
    registrar, rh = sign_in(app, "registrar")
    before = row_counts(container)  # after signing in: each sign-in is a row of the security log
    r = upload(designer, dh, [("big.bpmn", b"<x/>" * (3 * 1024 * 1024))])  # 12 MB
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"
    assert "MB" in r.get_json()["error"]["message"]
    r = registrar.post("/api/cases", headers=rh, json=dict(REGISTRATION, facts="诉" * (4 * 1024 * 1024)))
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"
    r = app.test_client().post("/api/session", json={"username": "x" * (11 * 1024 * 1024), "password": "demo"})
    assert r.status_code == 413
    assert row_counts(container) == before


# ---------------------------------------------------------------- scripts

def script_process(pid: str, script: str) -> bytes:
    return bpmn.process(pid, f"""
<bpmn:startEvent id="start"/>
<bpmn:scriptTask id="work" name="脚本"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
{bpmn.user_task("after", "后续办理")}
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "work")}
{bpmn.flow("f2", "work", "after")}
{bpmn.flow("f3", "after", "end")}
""").encode("utf-8")


ESCAPES = [
    ("import os\nleak = os.environ", "import"),
    ("leak = __import__('os').listdir('/')", "__import__"),
    ("leak = ().__class__.__base__.__subclasses__()", "下划线"),
    ("leak = eval('1')", "eval"),
]


def test_scripts_that_try_to_escape_are_refused_at_deployment(app, container):
    designer, dh = sign_in(app, "designer")
    before = row_counts(container)
    for script, named in ESCAPES:
        r = upload(designer, dh, [("escape.bpmn", script_process("escape", script))])
        assert r.status_code == 422, script
        [error] = r.get_json()["errors"]
        assert error["element_id"] == "work" and named in error["message"], (script, error)
    assert row_counts(container) == before


@pytest.mark.parametrize("script, words", [
    ("leak = open('{canary}').read()", ["open"]),
    ("secret = '__glo' + 'bals__'\nleak = getattr(now, secret)", ["__globals__"]),
    ("n = 0\nwhile True:\n    n += 1", ["CPU"]),
    ("s = 'ab'\ns *= 10**9", ["过大"]),
    ("xs = [0] * 10**9", ["过大"]),
    ("xs = []\nwhile True:\n    xs.append('填' * 1000)", ["过大", "MB"]),
])
def test_scripts_that_escape_or_exhaust_at_run_time_stop_in_an_incident(sqlite_app, sqlite_container, canary,
                                                                         script, words):
    """The sandbox does not depend on the database: SQLite only, to keep the CPU-budget cases cheap."""
    app, container = sqlite_app, sqlite_container
    path, secret = canary
    designer, dh = sign_in(app, "designer")
    r = upload(designer, dh, [("runaway.bpmn", script_process("runaway", script.format(canary=path)))])
    assert r.status_code == 201
    r = designer.post("/api/process-definitions/runaway/instances", headers=dh, json={"data": {}})
    assert r.status_code == 201
    case = designer.get(f"/api/cases/{r.get_json()['id']}").get_json()
    assert case["status"] == "incident" and case["tasks"] == []
    [incident] = case["incidents"]
    assert incident["element_id"] == "work"
    assert all(w in incident["message"] for w in words), incident["message"]
    assert "leak" not in case["data"] and "xs" not in case["data"] and "n" not in case["data"]
    assert secret not in stored_text(container)
    assert container.runtime.verify(case["id"]).ok  # a failed script leaves nothing that a replay would not


# ---------------------------------------------------------------- forms

def test_invalid_task_forms_are_refused_field_by_field_and_change_nothing(app, container, deployed):
    designer, dh = deployed
    case_id = designer.post("/api/process-definitions/simple_case/instances", headers=dh,
                            json={"data": {"category": "劳动社保", "location": "county_a"}}).get_json()["id"]
    handler, hh = sign_in(app, "handler")
    [task] = handler.get("/api/tasks").get_json()["tasks"]
    before = row_counts(container)
    version = handler.get(f"/api/cases/{case_id}").get_json()["version"]
    for data in ({"signed": "是"}, {}, {"signed": True, "sign_note": "注" * 2001}):
        r = handler.post(f"/api/tasks/{task['id']}/complete", headers=hh, json={"data": data})
        assert r.status_code == 422, (data, r.get_json())
        assert r.get_json()["error"]["message"]
    for raw in ("[]", "{", '{"data": [1]}', '{"data": {}, "version": "2"}'):
        r = handler.post(f"/api/tasks/{task['id']}/complete", headers=hh, data=raw, content_type="application/json")
        assert r.status_code in (400, 422), raw
    assert row_counts(container) == before
    assert handler.get(f"/api/cases/{case_id}").get_json()["version"] == version


def test_invalid_registrations_name_each_field_and_store_nothing(app, container, deployed):
    registrar, rh = sign_in(app, "registrar")
    before = row_counts(container)
    r = registrar.post("/api/cases", headers=rh, json={"channel": "飞鸽传书", "title": "", "petitioners": [{}]})
    assert r.status_code == 422
    fields = {e["field"] for e in r.get_json()["error"]["details"]}
    assert {"channel", "title", "request", "category", "location"} <= fields
    assert row_counts(container) == before


# ---------------------------------------------------------------- odd Unicode in every kind of text input

ODD = {
    "nul": "张\u0000三",
    "rtl_override": "张三\u202e四李",
    "unpaired_surrogate": "张\ud800三",
    "unpaired_low_surrogate": "\udc00张三",
    "c1_control": "张\u0085三",
    "bell": "张\u0007三",
}


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=True)  # lone surrogates travel as \\udXXX escapes


def test_odd_unicode_is_refused_in_every_text_input_and_nothing_is_stored(app, container, deployed):
    for odd, text in ODD.items():
        odd_text_everywhere(app, container, deployed, odd, text)


def odd_text_everywhere(app, container, deployed, odd: str, text: str) -> None:
    designer, dh = deployed
    case = designer.post("/api/process-definitions/simple_case/instances", headers=dh,
                         json={"data": {"category": "劳动社保", "location": "county_a"}}).get_json()
    handler, hh = sign_in(app, "handler")
    registrar, rh = sign_in(app, "registrar")
    [task] = [t for t in handler.get("/api/tasks").get_json()["tasks"] if t["case_id"] == case["id"]]
    before = row_counts(container)
    attempts = [
        (app.test_client(), "POST", "/api/session", {}, {"username": text, "password": "demo"}),
        (registrar, "POST", "/api/cases", rh, dict(REGISTRATION, petitioners=[{"name": text}])),
        (registrar, "POST", "/api/cases", rh, dict(REGISTRATION, title=text)),
        (registrar, "POST", "/api/cases", rh, dict(REGISTRATION, facts=f"事实：{text}")),
        (designer, "POST", "/api/process-definitions/simple_case/instances", dh,
         {"data": {"category": "劳动社保", "location": "county_a", "petitioner": {"name": text}}}),
        (handler, "POST", f"/api/tasks/{task['id']}/complete", hh, {"data": {"signed": True, "sign_note": text}}),
        (handler, "POST", f"/api/tasks/{task['id']}/complete", hh, {"data": {text: True}}),
        (designer, "POST", f"/api/cases/{case['id']}/pause", dh, {"reason": text}),
        (designer, "PUT", "/api/calendar/2027", dh, {"year": 2027, "notice": {"title": text}}),
    ]
    for client, method, path, headers, payload in attempts:
        r = client.open(path, method=method, headers=headers, data=_json(payload), content_type="application/json")
        assert r.status_code == 422, (path, payload, r.status_code, r.get_data(as_text=True)[:300])
        error = r.get_json()["error"]
        assert error["code"] == "invalid_text" and "U+" in error["message"] and error["details"]["field"]
    encoded = quote(text.encode("utf-8", "surrogatepass"))  # what a browser would send
    for path in (f"/api/tasks?scope={encoded}", f"/api/registers/leader_case?unit={encoded}"):
        r = handler.get(path)
        if "surrogate" in odd:  # the bytes of a surrogate are not UTF-8: they arrive as U+FFFD, a wrong scope
            assert r.status_code in (200, 400, 422) and r.status_code < 500, path  # 422: no such unit
        else:
            assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_text", path
    if "surrogate" not in odd:  # (form fields are bytes: a surrogate cannot be sent in one)
        r = upload(designer, dh, [("simple_case.bpmn", SIMPLE.encode())], comment=f"注：{text}")
        assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "comment"
    assert row_counts(container) == before


def test_combining_marks_and_rare_characters_in_names_are_kept_exactly(app, container, deployed):
    registrar, rh = sign_in(app, "registrar")
    names = ["阿依古丽·吐尔逊", "Nguye\u0302\u0303n", "𠀋𡈽", "王\u0301\u0301\u0301"]
    r = registrar.post("/api/cases", headers=rh,
                       json=dict(REGISTRATION, petitioners=[{"name": n} for n in names], title="罕见字𠀋的姓名"))
    assert r.status_code == 201, r.get_json()
    data = container.runtime.get_case(r.get_json()["id"]).data
    assert "罕见字𠀋的姓名" in json.dumps(data, ensure_ascii=False)
    with container.session_factory() as s:  # the names live sealed in the party table (issue #23)
        full = parties.resolve_case(s, container.extras["vault"], r.get_json()["id"], data)
    stored = json.dumps(full, ensure_ascii=False)
    assert all(n in stored for n in names)
    assert container.runtime.verify(r.get_json()["id"]).ok
