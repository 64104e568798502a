"""Small BPMN builders for tests: a process body in, a deployable SourceFile out."""
from __future__ import annotations

from engine.definitions import SourceFile

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'xmlns:lianxin="urn:lianxin:bpmn" id="Defs_{pid}" targetNamespace="urn:lianxin:test">\n'
)


def process(pid: str, body: str, name: str = "测试流程") -> str:
    return (HEADER.format(pid=pid) + f'<bpmn:process id="{pid}" name="{name}" isExecutable="true">\n'
            + body + "\n</bpmn:process>\n</bpmn:definitions>\n")


def source(pid: str, body: str, name: str = "测试流程", filename: str | None = None) -> SourceFile:
    return SourceFile(filename or f"{pid}.bpmn", process(pid, body, name).encode("utf-8"))


def user_task(tid: str, name: str, role: str = "unit_handler") -> str:
    return (f'<bpmn:userTask id="{tid}" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="role" value="{role}"/></spiffworkflow:properties>'
            f'</bpmn:extensionElements></bpmn:userTask>')


def service_task(tid: str, name: str, operator: str, result: str, params: list[tuple[str, str, str]]) -> str:
    """A service task calling the handler `operator` with (id, type, value expression) parameters; its answer goes
    to `result`. Values are expressions: write string literals with &quot; (they are XML attributes)."""
    rows = "\n".join(f'        <spiffworkflow:parameter id="{pid}" type="{kind}" value="{value}"/>'
                      for pid, kind, value in params)
    return (f'<bpmn:serviceTask id="{tid}" name="{name}">\n  <bpmn:extensionElements>\n'
            f'    <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="{result}">\n'
            f'      <spiffworkflow:parameters>\n{rows}\n      </spiffworkflow:parameters>\n'
            f'    </spiffworkflow:serviceTaskOperator>\n  </bpmn:extensionElements>\n</bpmn:serviceTask>')


# the handler calls the benchmarks and the crash tests share: a 催办 recorded, a notice to the petitioner
REMIND_UNIT = service_task("remind_unit", "催办记录", "remind", "reminder",
                           [("unit", "str", "&#34;住建局&#34;"), ("task", "str", "&#34;办理&#34;")])


def tell_petitioner(name: str, result: str, unit_name: str) -> str:
    fields = ("{&quot;dispatch_type&quot;: &quot;转送&quot;, &quot;unit_name&quot;: &quot;" + unit_name
              + "&quot;}")
    return service_task("tell_petitioner", name, "notify", result,
                        [("template", "any", "&quot;去向告知&quot;"), ("to", "any", "&quot;petitioner&quot;"),
                         ("case_no", "any", "case_no"), ("fields", "any", fields)])


def flow(fid: str, src: str, dst: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}"/>'
    return (f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}">'
            f'<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>')


def branches(sub_body: str) -> str:
    """Two parallel branches, one of them an embedded subprocess (`sub_body`: its tasks and flows between `sub_start`
    and `sub_end`) with a non-interrupting message boundary (`poke`, 催办), joined before a last user task: the tree
    shapes a walk or a read of task data must get right (parallel branches, a subprocess, a waiting boundary)."""
    return process("branches", f"""
<bpmn:startEvent id="start"/>
<bpmn:parallelGateway id="split"/>
{user_task("first", "甲")}
<bpmn:subProcess id="sub" name="子流程">
  <bpmn:startEvent id="sub_start"/>
{sub_body}
  <bpmn:endEvent id="sub_end"/>
</bpmn:subProcess>
<bpmn:boundaryEvent id="remind" attachedToRef="sub" cancelActivity="false">
  <bpmn:messageEventDefinition messageRef="poke"/></bpmn:boundaryEvent>
<bpmn:endEvent id="reminded"/>
<bpmn:parallelGateway id="join"/>
{user_task("last", "丙")}
<bpmn:endEvent id="end"/>
{flow("f1", "start", "split")}
{flow("f2", "split", "first")}
{flow("f3", "split", "sub")}
{flow("f4", "first", "join")}
{flow("f5", "sub", "join")}
{flow("f6", "join", "last")}
{flow("f7", "last", "end")}
{flow("f8", "remind", "reminded")}
""").replace("</bpmn:definitions>", '<bpmn:message id="poke" name="催办"/></bpmn:definitions>')


LOOP = process("loop_case", f"""
<bpmn:startEvent id="start"/>
{user_task("handle", "办理")}
<bpmn:exclusiveGateway id="done_gw" name="办完？"/>
<bpmn:endEvent id="end"/>
{flow("f1", "start", "handle")}
{flow("f2", "handle", "done_gw")}
{flow("f3", "done_gw", "end", "done == True")}
{flow("f4", "done_gw", "handle", "done == False")}
""", "循环退回")

SERVICE = process("svc_case", f"""
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="call_flaky" name="调用外部系统">
  <bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="flaky" resultVariable="flaky_result">
      <spiffworkflow:parameters>
        <spiffworkflow:parameter id="value" type="int" value="amount"/>
      </spiffworkflow:parameters>
    </spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements>
</bpmn:serviceTask>
{user_task("after", "后续办理")}
<bpmn:endEvent id="end"/>
{flow("f1", "start", "call_flaky")}
{flow("f2", "call_flaky", "after")}
{flow("f3", "after", "end")}
""", "服务调用")

MESSAGE = process("msg_case", f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="wait_docs" name="等待补充材料">
  <bpmn:messageEventDefinition id="md1" messageRef="msg_docs"/>
</bpmn:intermediateCatchEvent>
{user_task("review_docs", "审查材料")}
<bpmn:endEvent id="end"/>
{flow("f1", "start", "wait_docs")}
{flow("f2", "wait_docs", "review_docs")}
{flow("f3", "review_docs", "end")}
""", "补充材料").replace("</bpmn:definitions>", '<bpmn:message id="msg_docs" name="补充材料"/></bpmn:definitions>')

SCRIPT_ESCAPE = process("escape_case", f"""
<bpmn:startEvent id="start"/>
<bpmn:scriptTask id="evil" name="越权脚本"><bpmn:script>secret = "__glo" + "bals__"
leaked = getattr(now, secret)</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"/>
{flow("f1", "start", "evil")}
{flow("f2", "evil", "end")}
""", "脚本越权")

CALLEE_ERROR = process("callee_fails", f"""
<bpmn:startEvent id="start"/>
<bpmn:endEvent id="fail_end" name="核查失败">
  <bpmn:errorEventDefinition id="ed1" errorRef="err_check"/>
</bpmn:endEvent>
{flow("f1", "start", "fail_end")}
""", "被调用流程").replace("</bpmn:definitions>",
                      '<bpmn:error id="err_check" name="核查失败" errorCode="CHECK_FAILED"/></bpmn:definitions>')

CALLER = process("caller_case", f"""
<bpmn:startEvent id="start"/>
<bpmn:callActivity id="call_check" name="调用核查" calledElement="callee_fails"/>
{user_task("success_path", "成功后办理")}
<bpmn:endEvent id="end"/>
{flow("f1", "start", "call_check")}
{flow("f2", "call_check", "success_path")}
{flow("f3", "success_path", "end")}
""", "调用方")
