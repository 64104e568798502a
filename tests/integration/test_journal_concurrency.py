"""A command and a comment on the same case at the same moment take turns on the case row: the journal's
sequence numbers never collide and the hash chain verifies (before the row lock, PostgreSQL gave a unique-key
error to the command)."""
from __future__ import annotations

import threading
from pathlib import Path

from engine.definitions import collect_files
from services import attachments
from services.organisation import load_organisation

ROOT = Path(__file__).resolve().parents[2]


def test_a_command_waits_for_a_comment_in_flight_and_both_are_journaled(container):
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    view = container.runtime.start("petition_case", {
        "title": "反映小区供暖不达标", "channel": "网上", "category": "城乡建设", "location": "county_a",
        "request": "要求依法处理", "registering_unit": "city_bureau"}, actor="registrar")
    task = view.tasks[0]
    # The command reads the case before the comment commits (same starting sequence number).
    results: dict[str, object] = {}

    def complete():
        try:
            results["view"] = container.runtime.complete(task.id, {"route": "交办转送"}, actor="registrar")
        except Exception as err:  # noqa: BLE001 - the test reports whatever happened
            results["error"] = err

    with container.session_factory() as s, s.begin():
        attachments.add_comment(s, view.id, None, "请先核实", "bureau", container.clock.now())
        worker = threading.Thread(target=complete)
        worker.start()
        worker.join(timeout=1.0)  # the command is now waiting on the case row (or on SQLite's writer lock)
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert "error" not in results, results.get("error")
    types = [e["type"] for e in container.runtime.history(view.id)]
    assert types.count("comment.added") == 1 and "task.submitted" in types
    check = container.runtime.verify(view.id)
    assert check.ok, check.reason
