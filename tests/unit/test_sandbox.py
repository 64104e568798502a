"""The script sandbox: what scripts and expressions may do, what is refused and how the refusal reads,
directly and through SpiffWorkflow (script tasks, gateway conditions, DMN cells)."""
from __future__ import annotations

import signal
import sys
import threading
import time
from functools import partial

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine import sandbox
from engine.sandbox import (
    BUILTIN_NAMES,
    SandboxEnvironment,
    ScriptError,
    check_expression,
    check_script,
    make_script_engine,
)

SECRET = "module-global-secret"  # a helper's module globals: must never reach a script


def workdays(n, start=None):
    return f"{n} 个工作日后"


def helpers():
    return {"workdays": workdays, "days": lambda n: n * 24}


@pytest.fixture
def env():
    return SandboxEnvironment(helpers(), cpu_seconds=0.5)


@pytest.fixture
def watchdog():
    """Turns a sandbox that fails to stop a loop into a failing test instead of a hung run."""
    def expired(signum, frame):
        raise AssertionError("the sandbox did not stop the script within 20 s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, 20)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def refused(run, *args) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        run(*args)
    return info.value


# -------------------------------------------------------------------------------------- normal use

@pytest.mark.parametrize("data, expected", [
    ({"amount": 5, "kind": "群体"}, True),
    ({"amount": 5, "kind": "个人"}, False),
    ({"amount": 3, "kind": "群体"}, False),
])
def test_condition_reads_task_data(env, data, expected):
    assert env.evaluate("amount > 3 and kind == '群体'", data) is expected


def test_script_writes_task_data_and_leaves_no_helpers_behind(env):
    data = {"amount": 2, "items": [3, 1, 2], "gone": 1}
    env.execute(
        "total = amount * 10 + sum(sorted(items))\n"
        "due = workdays(3)\n"
        "items.append(4)\n"
        "summary = {'n': len(items)}\n"
        "summary['max'] = max(items)\n"
        "a, b = divmod(total, 7)\n"
        "squares = [i ** 2 for i in range(3)]\n"
        "double = lambda x: x * 2\n"
        "doubled = double(amount)\n"
        "alias = workdays\n"
        "del gone\n",
        data,
    )
    assert data == {
        "amount": 2, "items": [3, 1, 2, 4], "total": 26, "due": "3 个工作日后", "summary": {"n": 4, "max": 4},
        "a": 3, "b": 5, "squares": [0, 1, 4], "doubled": 4,
    }


def test_helpers_are_callable_in_expressions_and_not_added_to_data(env):
    data = {"limit": 15}
    assert env.evaluate("workdays(limit)", data) == "15 个工作日后"
    assert env.evaluate("days(2) + dmninputexpr", data, {"dmninputexpr": 1}) == 49
    assert data == {"limit": 15}


def test_task_data_shadows_builtins_like_plain_python(env):
    assert env.evaluate("type == '信访' and id > 3", {"type": "信访", "id": 4}) is True


def test_print_in_a_script_is_harmless(env):
    data = {}
    env.execute("print('办理中')\nx = 1", data)
    assert data == {"x": 1}


@pytest.mark.parametrize("run", ["execute", "evaluate"])
def test_task_data_that_hides_a_helper_is_refused(env, run):
    error = refused(getattr(env, run), "workdays(3)", {"workdays": 3})
    assert error.kind == "conflict"
    assert "workdays" in str(error) and "rename" in str(error)


def test_compiled_code_is_cached_by_text():
    first = sandbox._compile("amount > 1000", "eval")
    assert sandbox._compile("amount > 1000", "eval") is first
    assert sandbox._compile("amount > 1000", "exec") is not first


def test_builtin_names_list_what_scripts_can_call():
    assert {"len", "sorted", "range", "getattr", "isinstance"} <= BUILTIN_NAMES
    assert not {"open", "eval", "exec", "type", "__import__", "globals", "SystemExit"} & BUILTIN_NAMES


# ---------------------------------------------------------------------------------------- refusals

ESCAPES = [
    # (text, what the message must name)
    ("open('/etc/passwd').read()", "open"),
    ("import os\nsecret = os.environ", "import"),
    ("from os import environ", "import"),
    ("__import__('os')", '"__import__"'),
    ("().__class__.__base__.__subclasses__()", '以下划线开头'),
    ("workdays.__globals__", '"__globals__"'),
    ("getattr(workdays, '__globals__')", '"__globals__"'),
    ("getattr(workdays, '__closure__')", '"__closure__"'),
    ("getattr(workdays, '__call__')", '"__call__"'),
    ("'{0.__globals__}'.format(workdays)", "str.format"),
    ("getattr(str, 'format')('{0.__class__}', 1)", "str.format"),
    ("type(workdays)", "type"),
    ("eval('1')", "eval"),
    ("globals()", "globals"),
]


@pytest.mark.parametrize("text, named", ESCAPES)
def test_escapes_are_refused_in_scripts(env, text, named):
    data = {}
    error = refused(env.execute, text, data)
    assert error.kind == "forbidden"
    assert named in str(error)
    assert "脚本" in str(error) and "not" in str(error)  # both languages, and says it is refused
    assert SECRET not in repr(data) and "environ" not in data


@pytest.mark.parametrize("text, named", [(t, n) for t, n in ESCAPES if "\n" not in t and "import " not in t])
def test_escapes_are_refused_in_expressions(env, text, named):
    error = refused(env.evaluate, text, {})
    assert error.kind == "forbidden"
    assert named in str(error)


def test_import_message_tells_what_to_do(env):
    error = refused(env.execute, "import os", {})
    assert str(error) == ("脚本不允许 import 语句 (import is not allowed in BPMN scripts; "
                          "ask a developer to add a helper in services/)")


def test_generator_frames_are_out_of_reach(env):
    error = refused(env.execute, "def g():\n    yield 1\nframe = getattr(g(), 'gi_frame')", {})
    assert error.kind == "forbidden" and "gi_frame" in str(error)
    assert error.line == 3


class Calendar:
    """A helper that is a callable object: its public attributes must stay hidden."""

    database_password = "hunter2"

    def __call__(self, n):
        return n


@pytest.mark.parametrize("helper", [Calendar(), partial(workdays, 3)])
@pytest.mark.parametrize("text", ["workdays.database_password", "workdays.func", "getattr(workdays, 'func')"])
def test_a_helper_shows_nothing_but_its_call(helper, text):
    env = SandboxEnvironment({"workdays": helper})
    error = refused(env.evaluate, text, {})
    assert error.kind == "runtime"
    assert isinstance(error.__cause__, AttributeError)
    assert "hunter2" not in str(error)
    assert env.evaluate("str(workdays)", {}) == "<helper workdays>"


def test_scripts_may_only_change_dicts_lists_and_sets(env):
    data = {"d": {}, "l": [0], "s": set()}
    env.execute("d['k'] = 1\nl[0] = 2\ns.add(3)", data)
    assert data == {"d": {"k": 1}, "l": [2], "s": {3}}
    error = refused(env.execute, "workdays.x = 1", {})
    assert error.kind == "forbidden" and "_Helper" in str(error)


def test_system_exit_cannot_be_raised(env):
    error = refused(env.execute, "raise SystemExit(1)", {})
    assert error.kind == "forbidden" and "SystemExit" in str(error)


# ---------------------------------------------------------------------------------------- CPU time

def in_worker(env, run, text, timeout=20):
    """Runs the sandbox in a daemon thread: a script that catches every error could outlive any in-thread
    watchdog, so a broken budget must show up as a failed join, not as a hung test run."""
    outcome = {}

    def request():
        started = time.thread_time()
        try:
            getattr(env, run)(text, {})
        except ScriptError as error:
            outcome["error"] = error
        outcome["cpu"] = time.thread_time() - started

    worker = threading.Thread(target=request, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"the sandbox did not stop {text!r}"
    return outcome


def test_endless_loop_stops_in_the_main_thread(env, watchdog):
    before = sys.gettrace()
    started = time.thread_time()
    error = refused(env.execute, "while True: pass", {})
    spent = time.thread_time() - started
    assert error.kind == "timeout"
    assert "0.5" in str(error) and "CPU" in str(error)
    assert 0.5 <= spent < 3
    assert sys.gettrace() is before  # coverage and debuggers keep their tracer


ENDLESS = [
    "while True: pass",
    "n = 0\nwhile True:\n    n += 1",
    "for i in range(10**6):\n    while i >= 0:\n        i += 1",
    # a tracer that raises is removed by CPython; the budget must keep failing after the script catches it
    "try:\n    while True: pass\nexcept:\n    pass\nwhile True:\n    pass",
    "while True:\n    try:\n        while True: pass\n    except Exception:\n        pass",
    "def f():\n    try:\n        f()\n    finally:\n        f()\nf()",
    "x = [0 for a in range(10**6) for b in range(10**6)]",
    "x = [0 for a in range(10**6) for c in range(10**6) for b in []]",
    "n = sum(map(lambda a: sum(map(lambda b: 1, range(10**6))), range(10**6)))",
]


@pytest.mark.parametrize("text", ENDLESS)
def test_endless_scripts_stop_after_the_cpu_budget_in_any_thread(env, text):
    outcome = in_worker(env, "execute", text)
    assert outcome["error"].kind == "timeout"
    assert 0.5 <= outcome["cpu"] < 3


def test_endless_expression_stops(env):
    outcome = in_worker(env, "evaluate", "any(x < 0 for a in range(10**6) for x in range(10**6))")
    assert outcome["error"].kind == "timeout"


def test_each_call_gets_a_fresh_budget(env):
    env.execute("n = 0\nwhile n < 1000:\n    n += 1", {})
    env.execute("n = 0\nwhile n < 1000:\n    n += 1", {})


# -------------------------------------------------------------------------------------------- size

@pytest.mark.parametrize("text", [
    "'x' * 10**9",
    "10**9 * [0]",
    "10**10**9",
    "pow(10, 10**9)",
    "1 << 10**10",
    "list(range(10**12))",
    "sum(range(10**15))",
])
def test_single_step_explosions_are_refused(env, text):
    error = refused(env.evaluate, text, {})
    assert error.kind == "too_large"
    assert "过大" in str(error) and "refused" in str(error)


def test_in_place_explosions_are_refused(env):
    error = refused(env.execute, "s = 'ab'\ns *= 10**9", {})
    assert error.kind == "too_large" and error.line == 2


def test_ordinary_arithmetic_still_works(env):
    text = "('-' * 3, 2 ** 10, amount * 3, 1 << 4, pow(3, 200, 7), [0] * 2)"
    assert env.evaluate(text, {"amount": 1.5}) == ("---", 1024, 4.5, 16, pow(3, 200, 7), [0, 0])
    data = {"s": "ab", "n": 2}
    env.execute("s *= 2\nn **= 3\nn <<= 1", data)
    assert data == {"s": "abab", "n": 16}


# ------------------------------------------------------------------------------------------ errors

def test_syntax_errors(env):
    error = refused(env.execute, "x = 1\nif x\n    y = 2", {})
    assert error.kind == "syntax" and error.line == 2
    assert "语法错误" in str(error) and "line 2" in str(error)


def test_runtime_errors_keep_the_original_and_the_line(env):
    error = refused(env.execute, "x = 1\ny = x / 0", {})
    assert error.kind == "runtime" and error.line == 2
    assert isinstance(error.__cause__, ZeroDivisionError)
    assert "ZeroDivisionError" in str(error)


def test_unknown_names_suggest_the_field(env):
    error = refused(env.evaluate, "amout > 3", {"amount": 5})
    assert error.kind == "runtime"
    assert '"amout"' in str(error) and 'did you mean "amount"' in str(error)


def test_helper_errors_come_through(env):
    def strict(n):
        raise ValueError("期限天数必须是非负整数")

    error = refused(SandboxEnvironment({"strict": strict}).evaluate, "strict(-1)", {})
    assert "期限天数必须是非负整数" in str(error) and isinstance(error.__cause__, ValueError)


# ----------------------------------------------------------------------------------- deploy checks

@pytest.mark.parametrize("check, text, named", [
    (check_expression, "amount >", "语法错误"),
    (check_expression, "__import__('os')", "__import__"),
    (check_expression, "x.__class__", "__class__"),
    (check_script, "import os", "import"),
    (check_script, "x = 1\nfrom os import path", "line 2"),
    (check_script, "x = (", "语法错误"),
    (check_script, "class A: pass", "class"),
    (check_script, "_hidden = 1", "_hidden"),
])
def test_checks_report_problems(check, text, named):
    message = check(text)
    assert message is not None and named in message


def test_checks_pass_good_text_without_running_it():
    assert check_expression("amount > 3 and kind == '群体'") is None
    assert check_expression("workdays(limit_days)") is None
    assert check_script("x = 1 / 0\nwhile True: pass") is None  # compiled only: running would fail or hang


# -------------------------------------------------------------------------------- in SpiffWorkflow

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="Defs_{pid}" targetNamespace="urn:lianxin:test">
  <bpmn:process id="{pid}" isExecutable="true">
{body}
  </bpmn:process>
</bpmn:definitions>
"""

DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Defs_level" name="分级"
    namespace="urn:lianxin:test">
  <decision id="level" name="分级">
    <decisionTable id="level_table" hitPolicy="FIRST">
      <input id="in_amount" label="人数">
        <inputExpression id="in_amount_expr" typeRef="integer"><text>people</text></inputExpression>
      </input>
      <input id="in_region" label="地区">
        <inputExpression id="in_region_expr" typeRef="string"><text>region</text></inputExpression>
      </input>
      <output id="out_level" name="level" typeRef="string"/>
      <output id="out_due" name="due" typeRef="string"/>
      {rules}
    </decisionTable>
  </decision>
</definitions>
"""

RULES = """
      <rule id="r1">
        <inputEntry id="r1_a"><text>? &lt; 5</text></inputEntry>
        <inputEntry id="r1_b"><text>"县"</text></inputEntry>
        <outputEntry id="r1_l"><text>"一般"</text></outputEntry>
        <outputEntry id="r1_d"><text>workdays(15)</text></outputEntry>
      </rule>
      <rule id="r2">
        <inputEntry id="r2_a"><text>&gt;= 5</text></inputEntry>
        <inputEntry id="r2_b"><text>-</text></inputEntry>
        <outputEntry id="r2_l"><text>"群体"</text></outputEntry>
        <outputEntry id="r2_d"><text>workdays(5)</text></outputEntry>
      </rule>
      <rule id="r3">
        <inputEntry id="r3_a"><text>-</text></inputEntry>
        <inputEntry id="r3_b"><text>-</text></inputEntry>
        <outputEntry id="r3_l"><text>"其他"</text></outputEntry>
        <outputEntry id="r3_d"><text>workdays(30)</text></outputEntry>
      </rule>
"""


def flow(fid, src, dst, condition=None):
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}"/>'
    return (f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}">'
            f'<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>')


def script_process(script):
    return BPMN.format(pid="scripted", body=f"""
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="calc" name="计算"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="review" name="审核"/>
    <bpmn:endEvent id="end"/>
    {flow("f1", "start", "calc")}{flow("f2", "calc", "review")}{flow("f3", "review", "end")}""")


def gateway_process(condition):
    return BPMN.format(pid="routed", body=f"""
    <bpmn:startEvent id="start"/>
    <bpmn:exclusiveGateway id="gw" name="是否群体" default="f3"/>
    <bpmn:userTask id="joint_meeting" name="联席会议"/>
    <bpmn:userTask id="ordinary" name="一般办理"/>
    <bpmn:endEvent id="end"/>
    {flow("f1", "start", "gw")}{flow("f2", "gw", "joint_meeting", condition)}{flow("f3", "gw", "ordinary")}
    {flow("f4", "joint_meeting", "end")}{flow("f5", "ordinary", "end")}""")


def decision_process():
    return BPMN.format(pid="graded", body=f"""
    <bpmn:startEvent id="start"/>
    <bpmn:businessRuleTask id="grade" name="分级">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>level</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:userTask id="handle" name="办理"/>
    <bpmn:endEvent id="end"/>
    {flow("f1", "start", "grade")}{flow("f2", "grade", "handle")}{flow("f3", "handle", "end")}""")


def start(bpmn_text, pid, data, dmn_text=None, cpu_seconds=2.0):
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_str(bpmn_text.encode("utf-8"))
    if dmn_text:
        parser.add_dmn_str(dmn_text.encode("utf-8"))
    wf = BpmnWorkflow(parser.get_spec(pid), parser.get_subprocess_specs(pid),
                      script_engine=make_script_engine({"workdays": workdays}, cpu_seconds=cpu_seconds))
    wf.get_next_task(state=TaskState.READY).data.update(data)
    return wf


def ready(wf):
    return [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY)]


def script_error_in(exc: BaseException) -> ScriptError:
    seen = []
    while exc is not None and not isinstance(exc, ScriptError) and exc not in seen:
        seen.append(exc)
        exc = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
    assert isinstance(exc, ScriptError), f"no ScriptError behind {seen!r}"
    return exc


def test_script_task_runs_in_the_sandbox():
    wf = start(script_process("due = workdays(limit)\nlimit = limit + 1"), "scripted", {"limit": 15})
    wf.do_engine_steps()
    task = wf.get_next_task(spec_name="review")
    assert task.state == TaskState.READY
    assert task.data == {"limit": 16, "due": "15 个工作日后"}


def test_script_task_with_import_ends_in_error():
    wf = start(script_process("import os\nsecret = os.environ"), "scripted", {})
    with pytest.raises(Exception) as info:
        wf.do_engine_steps()
    assert wf.get_next_task(spec_name="calc").state == TaskState.ERROR
    assert "脚本不允许 import 语句 (import is not allowed in BPMN scripts" in str(info.value)
    error = script_error_in(info.value)
    assert error.kind == "forbidden"
    assert "secret" not in wf.get_next_task(spec_name="calc").data


def test_script_task_runtime_error_names_the_line():
    wf = start(script_process("x = 1\ny = x / zero"), "scripted", {"zero": 0})
    with pytest.raises(Exception) as info:
        wf.do_engine_steps()
    assert wf.get_next_task(spec_name="calc").state == TaskState.ERROR
    assert "ZeroDivisionError" in str(info.value) and "line 2" in str(info.value)
    assert isinstance(script_error_in(info.value).__cause__, ZeroDivisionError)


def test_script_task_endless_loop_ends_in_error(watchdog):
    wf = start(script_process("while True: pass"), "scripted", {}, cpu_seconds=0.3)
    with pytest.raises(Exception) as info:
        wf.do_engine_steps()
    assert wf.get_next_task(spec_name="calc").state == TaskState.ERROR
    assert script_error_in(info.value).kind == "timeout"


@pytest.mark.parametrize("data, expected", [
    ({"amount": 5, "kind": "群体"}, ["joint_meeting"]),
    ({"amount": 5, "kind": "个人"}, ["ordinary"]),
])
def test_gateway_conditions_run_in_the_sandbox(data, expected):
    wf = start(gateway_process("amount &gt; 3 and kind == '群体'"), "routed", data)
    wf.do_engine_steps()
    assert ready(wf) == expected


def test_gateway_condition_escape_is_refused():
    wf = start(gateway_process("().__class__.__base__.__subclasses__()"), "routed", {})
    with pytest.raises(Exception) as info:
        wf.do_engine_steps()
    assert "以下划线开头的名称" in str(info.value)
    assert script_error_in(info.value).kind == "forbidden"
    assert wf.get_next_task(spec_name="gw").state == TaskState.ERROR


@pytest.mark.parametrize("data, level, due", [
    ({"people": 2, "region": "县"}, "一般", "15 个工作日后"),   # `? < 5` and `"县"`
    ({"people": 2, "region": "市"}, "其他", "30 个工作日后"),
    ({"people": 8, "region": "市"}, "群体", "5 个工作日后"),    # `>= 5` and `-`
])
def test_dmn_cells_run_in_the_sandbox(data, level, due):
    wf = start(decision_process(), "graded", data, DMN.format(rules=RULES))
    wf.do_engine_steps()
    task = wf.get_next_task(spec_name="handle")
    assert task.state == TaskState.READY
    assert (task.data["level"], task.data["due"]) == (level, due)


def test_dmn_cell_escape_is_refused():
    rules = RULES.replace("<text>workdays(15)</text>", "<text>getattr(workdays, '__globals__')</text>")
    wf = start(decision_process(), "graded", {"people": 2, "region": "县"}, DMN.format(rules=rules))
    with pytest.raises(Exception) as info:
        wf.do_engine_steps()
    assert '"__globals__"' in str(info.value)
    assert script_error_in(info.value).kind == "forbidden"
    assert wf.get_next_task(spec_name="grade").state == TaskState.ERROR
