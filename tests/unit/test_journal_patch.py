"""What a completed step's journal event records of the data it changed (issue #21 point 3): whole values before
and after, except for a large list or dict changed in part, which is recorded as JSON Patch operations (RFC 6902)
so that an event of a long case stays as small as its change; the history reads both."""
from __future__ import annotations

from engine import tree
from engine.tree import PATCH_MIN_ITEMS, data_changes
from services.audit_export import changes_of, patch_rows

N = PATCH_MIN_ITEMS


def test_small_values_keep_before_and_after():
    changes, patch = data_changes({"a": 1, "rows": [1, 2]}, {"a": 2, "rows": [1, 2, 3], "new": "x"})
    assert changes == {"a": [1, 2], "rows": [[1, 2], [1, 2, 3]], "new": [None, "x"]}
    assert patch == []


def test_a_long_list_that_grew_records_only_the_new_items():
    before = {"opinions": [{"round": i} for i in range(N)]}
    after = {"opinions": before["opinions"] + [{"round": N}, {"round": N + 1}]}
    changes, patch = data_changes(before, after)
    assert changes == {}
    assert patch == [{"op": "add", "path": "/opinions/-", "value": {"round": N}},
                     {"op": "add", "path": "/opinions/-", "value": {"round": N + 1}}]


def test_a_long_list_changed_elsewhere_than_its_end_keeps_whole_values():
    rows = list(range(N))
    changes, patch = data_changes({"rows": rows}, {"rows": [99] + rows[1:]})
    assert changes == {"rows": [rows, [99] + rows[1:]]} and patch == []
    changes, patch = data_changes({"rows": rows}, {"rows": rows[:-1]})  # shorter
    assert "rows" in changes and patch == []


def test_a_large_table_records_added_replaced_and_removed_keys_with_the_old_values():
    before = {"comments": {f"r{i}": f"意见{i}" for i in range(N)}}
    after = {"comments": dict(before["comments"], r1="改过的意见", r99="新意见")}
    del after["comments"]["r2"]
    changes, patch = data_changes(before, after)
    assert changes == {}
    assert patch == [{"op": "test", "path": "/comments/r2", "value": "意见2"},
                     {"op": "remove", "path": "/comments/r2"},
                     {"op": "test", "path": "/comments/r1", "value": "意见1"},
                     {"op": "replace", "path": "/comments/r1", "value": "改过的意见"},
                     {"op": "add", "path": "/comments/r99", "value": "新意见"}]


def test_a_table_changed_in_most_keys_keeps_whole_values():
    before = {"t": {f"k{i}": i for i in range(N)}}
    after = {"t": {f"k{i}": i + 1 for i in range(N)}}
    changes, patch = data_changes(before, after)
    assert changes == {"t": [before["t"], after["t"]]} and patch == []


def test_keys_with_slashes_and_tildes_are_escaped():
    before = {"a/b": {f"x~{i}": i for i in range(N)}}
    after = {"a/b": dict(before["a/b"], **{"y/1": 0})}
    _, patch = data_changes(before, after)
    assert patch == [{"op": "add", "path": "/a~1b/y~11", "value": 0}]
    assert patch_rows(patch) == [{"field": "a/b.y/1", "before": None, "after": 0}]


def test_the_history_shows_patch_rows_beside_whole_changes():
    data = {"changes": {"rounds": [16, 17]},
            "patch": [{"op": "add", "path": "/opinions/-", "value": {"round": 17}},
                      {"op": "test", "path": "/comments/r3", "value": "旧"},
                      {"op": "replace", "path": "/comments/r3", "value": "新"},
                      {"op": "test", "path": "/comments/r4", "value": "删"},
                      {"op": "remove", "path": "/comments/r4"}]}
    source, rows = changes_of({"type": "task.completed", "data": data})
    assert source == "diff"
    assert rows == [{"field": "comments.r3", "before": "旧", "after": "新"},
                    {"field": "comments.r4", "before": "删", "after": None},
                    {"field": "opinions[+]", "before": None, "after": {"round": 17}},
                    {"field": "rounds", "before": 16, "after": 17}]


def test_the_same_object_is_no_change_and_a_nan_stays_a_change_as_before():
    # issue #21: a value the step did not touch is the same object in both task data and is not compared
    class Loud(list):
        def __eq__(self, other):
            raise AssertionError("compared")

        __ne__ = __eq__
    opinions = Loud(range(N))
    nan = float("nan")
    table = {f"r{i}": i for i in range(N)}
    changes, patch = data_changes({"opinions": opinions, "x": nan, "t": dict(table, n=nan)},
                                  {"opinions": opinions, "x": nan, "t": dict(table, n=nan, r0="new")})
    assert list(changes) == ["x"] and changes["x"][0] is nan  # NaN != NaN, as always
    assert [(op["op"], op["path"]) for op in patch] == [("test", "/t/r0"), ("replace", "/t/r0"),
                                                        ("test", "/t/n"), ("replace", "/t/n")]


def _ops_one_by_one(key, a, b):
    """The operations of `_patch_ops` for a dict, from its per-key loop alone (no shortcut for a grown table)."""
    saved = tree._grown_at_end
    tree._grown_at_end = lambda a, b: None
    try:
        return tree._patch_ops(key, a, b)
    finally:
        tree._grown_at_end = saved


def test_a_table_grown_at_its_end_gives_the_operations_of_the_per_key_comparison():
    nan = float("nan")
    base = {f"r{i}": f"意见{i}" for i in range(N)}
    shared = {"x": 1}
    cases = {
        "grown": (base, dict(base, r99="新意见", r100="又一条")),
        "unchanged copy": (base, dict(base)),
        "a float kept": (dict(base, f=1.5), dict(base, f=1.5, r99="x")),
        "a NaN kept (a change, as before)": (dict(base, f=nan), dict(base, f=nan, r99="x")),
        "an equal but new value": (dict(base, d={"x": 1}), dict(base, d={"x": 1}, r99="x")),
        "the same container": (dict(base, d=shared), dict(base, d=shared, r99="x")),
        "a value replaced": (base, dict(base, r1="改过", r99="x")),
        "keys in another order": (base, dict(reversed(list(base.items())))),
        "a key removed and one added": (base, {**{k: v for k, v in base.items() if k != "r0"}, "r99": "x"}),
    }
    for name, (a, b) in cases.items():
        assert tree._patch_ops("comments", a, b) == _ops_one_by_one("comments", a, b), name
    grown = tree._patch_ops("comments", base, dict(base, r99="新意见"))
    assert grown == [{"op": "add", "path": "/comments/r99", "value": "新意见"}]
