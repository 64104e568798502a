"""The sandbox for every piece of Python text a process designer writes.

Script tasks, pre/post scripts, gateway conditions, timer expressions, service-task parameters and DMN cells
all reach SpiffWorkflow's `PythonScriptEngine`, whose default environment runs them with `exec` and full
builtins. Process files are uploaded through the web, so their text is untrusted: without this module a
condition could read `/etc/passwd`, the environment (database password, secret key) or walk
`().__class__.__base__` to `os`.

How the text is made safe:

* It is compiled by RestrictedPython (`compile_restricted_exec` / `compile_restricted_eval`) through
  `_Policy`, which also refuses `import`, `class` and `.mro`, and rewrites the code so that loops,
  comprehensions and functions call a CPU budget; `*`, `**`, `<<`, `+`, `%`, `//` and f-string fields go
  through size checks, and `raise` through a check that lets only `Exception`s out. Compiled code is cached by
  text.
* It runs with RestrictedPython's guards: no name or attribute that starts with `_`, a small set of builtins,
  writes only into dicts, lists and sets. Helpers (`workdays`, `days`, `now`, ...) are handed over in wrappers
  with no attribute to read, so neither a script nor a getattr walk reaches the helper's module or closure.
* Nothing a script does can stop the process running it: `BaseException`, `SystemExit`, `KeyboardInterrupt`
  and `GeneratorExit` have no name in scripts, `.mro()` (which reaches them from `Warning`) is refused, `raise`
  refuses anything that is not an `Exception`, and any other `BaseException` that still comes out of a run
  becomes a `ScriptError`. KeyboardInterrupt and SystemExit out of a run are the process's own (Ctrl-C, a signal
  handler) and pass.
* CPU time: the budget compares `time.thread_time()` of the executing thread with its deadline, so it works in
  Flask and gunicorn request threads, where `signal.alarm` cannot. Why not a `sys.settrace` tracer: on Python
  3.11 `while True: pass` emits no line events at all, a tracer that raises is removed by CPython (so a script
  that catches the error then runs unbounded), and it would displace coverage and debuggers. The budget call
  keeps failing once the deadline has passed, so catching the error buys at most one more pass of each loop.
* Sizes are checked before C code builds anything: a single step is estimated from its operands and refused
  over a bound, with the operation and the bound in the message. Strings, bytes and lists: MAX_ITEMS characters
  or items (`'x' * 10**9`, `'a'.ljust(3 * 10**9)`, `s.join(...)`, `replace`, `expandtabs`, `translate`,
  `to_bytes`, `%`-formatting and f-string widths and precisions, `+` and `extend`, `sum` of lists). Integers:
  MAX_INT_BITS bits from `*`, `**`, `<<`, `round`; MAX_INT_WORK machine-word operations for `pow` with a
  modulus, `//`, `%` and `divmod` (`pow(3, 2**16000, 2**16000+1)` took 7 s of CPU in one call); int <-> str
  conversions at most INT_MAX_STR_DIGITS digits (Python's own guard, held while scripts run). Shared references
  count as they are written out: `[row] * 1000`, `str()`, `repr()`, `print()` and formatting of a structure
  that holds the same list many times, and the task data a script leaves behind (stored as JSON) over
  MAX_DATA_ITEMS items or MAX_DATA_CHARS characters. A large step that is allowed is charged to the budget
  first, so straight-line code without loops cannot run past it either.
* Memory as a whole is read every 1,024 loop passes and before every large step: growth of the process over
  MEMORY_BUDGET while one script runs stops it. What the checks above cannot see (comparing or hashing two huge
  structures that share references, for one) needs rlimits or a separate process.

Errors are `ScriptError`, with a `kind` and a message in Chinese and English saying what was refused and what
to do. It derives from SpiffWorkflow's own exception class so SpiffWorkflow passes it on with its notes
instead of replacing it by "Error evaluating expression" (that wrapper would drop the message).
"""
from __future__ import annotations

import ast
import builtins
import contextvars
import difflib
import functools
import itertools
import operator
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import CodeType, TracebackType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

__all__ = [
    "BUILTIN_NAMES",
    "ScriptError",
    "SandboxEnvironment",
    "check_expression",
    "check_script",
    "make_script_engine",
]

# SpiffWorkflow finds the failing line by looking for this file name in the traceback.
_FILENAME = "<string>"
_CACHE_SIZE = 2048
# thread_time() is a system call (~0.7 µs); a loop pass costs far less, so look at the clock every few passes.
_CHECK_EVERY = 16
MAX_ITEMS = 1_000_000  # characters of one string, bytes of one bytes value, items of one list or tuple
MAX_INT_BITS = 1 << 16  # bits of one integer built by *, ** or <<
# Machine-word operations of one big-number step (pow with a modulus, //, %, divmod): 10 million is a few tens of
# milliseconds, a 2048-bit modular power; `pow(3, 2**16000, 2**16000+1)` is about 450 times more.
MAX_INT_WORK = 10_000_000
# Decimal digits of an integer converted to or from text: Python's own guard (sys.set_int_max_str_digits), which
# the sandbox holds at its default when the process has raised or removed it.
INT_MAX_STR_DIGITS = 4300
# The task data a script leaves behind, counted as JSON writes it out (shared references in full).
MAX_DATA_ITEMS = 1_000_000
MAX_DATA_CHARS = 32_000_000
# A step at least this large (items, or word operations) is charged to the budget before it runs.
_CHARGE_FROM = 1 << 16

_ADVICE = "ask a developer to add a helper in services/"
_SIZE_ADVICE_ZH = "脚本只宜处理案件所需的少量数据，批量处理请开发人员在 services/ 中提供处理程序"
_SIZE_ADVICE = "keep scripts to the little data a case needs; for bulk work " + _ADVICE


class ScriptError(SpiffWorkflowException):
    """A script or expression was refused or failed.

    kind: "syntax" (does not parse), "forbidden" (uses something the sandbox refuses), "timeout" (CPU budget
    spent), "too_large" (would build a huge value), "conflict" (task data hides a helper), "runtime" (any
    other error; the original exception is `__cause__`). `line` is the line in the script, when known.
    `limit` names the limit that stopped the script: "cpu", "memory", or the refused operation (e.g.
    "str.ljust"); `spent` is the CPU time in seconds the script had used when the CPU budget stopped it.
    """

    def __init__(self, message: str, kind: str = "runtime", line: int | None = None, *,
                 limit: str | None = None, spent: float | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.line = line
        self.limit = limit
        self.spent = spent

    def __str__(self) -> str:
        return self.message + "".join(f". {note}" for note in self.notes)

    def __reduce__(self):
        return (functools.partial(type(self), limit=self.limit, spent=self.spent),
                (self.message, self.kind, self.line))


# ------------------------------------------------------------------------------------------------ messages

def _msg_import() -> str:
    return f"脚本不允许 import 语句 (import is not allowed in BPMN scripts; {_ADVICE})"


def _msg_underscore(name: str) -> str:
    return (f"脚本不允许使用以下划线开头的名称 \"{name}\" (names starting with \"_\" such as \"{name}\" reach "
            f"Python internals and are not allowed in BPMN scripts)")


def _msg_internal(name: str) -> str:
    return (f"脚本不允许访问 \"{name}\" (\"{name}\" reaches Python internals and is not allowed in BPMN "
            f"scripts)")


def _msg_builtin(name: str) -> str:
    return (f"脚本不能使用 Python 的 {name} ({name} is not available in BPMN scripts: they have no file, "
            f"system or network access and no introspection; {_ADVICE})")


def _msg_timeout(cpu_seconds: float) -> str:
    return (f"脚本运行超过 {cpu_seconds:g} 秒 CPU 时间，已被终止 (the script or expression used more than "
            f"{cpu_seconds:g} s of CPU time and was stopped; look for an endless loop)")


def _msg_base_exception(name: str) -> str:
    return (f"脚本不能引发 {name}：这类异常会终止服务进程 (BPMN scripts may not raise {name}: it is not an error "
            f"but a signal to stop the process; raise an error such as ValueError instead)")


def _msg_too_large(what: str) -> str:
    return (f"脚本要生成的数据过大，已被拒绝：{what}。{_SIZE_ADVICE_ZH} (refused to build {what}; {_SIZE_ADVICE})")


def _translate_policy_error(info: str) -> str:
    """RestrictedPython reports in English only; say the common refusals in both languages."""
    found = re.match(r'"([^"]+)" is an invalid (?:variable|attribute) name because it starts with "_"', info)
    if found:
        return _msg_underscore(found.group(1))
    found = re.match(r'"([^"]+)" is a restricted name', info)
    if found:
        return _msg_internal(found.group(1))
    found = re.match(r"(Exec|Eval) calls are not allowed", info)
    if found:
        return _msg_builtin(found.group(1).lower())
    if info.startswith("脚本"):  # one of ours, already in both languages
        return info
    return f"脚本包含不允许的写法：{info} (not allowed in BPMN scripts)"


# ------------------------------------------------------------------------------------------------ compiling

_GUARDED_BINOPS: dict[type, str] = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Add: "_add_",
                                    ast.Mod: "_mod_", ast.FloorDiv: "_floordiv_"}
# Attributes without a leading "_" that still walk the class hierarchy: `Warning.mro()[2]` is BaseException.
_HIERARCHY_ATTRIBUTES = frozenset({"mro"})


def _call(name: str, args: list[ast.expr], at: ast.AST) -> ast.Call:
    func = ast.copy_location(ast.Name(name, ast.Load()), at)
    return ast.copy_location(ast.Call(func=func, args=args, keywords=[]), at)


def _tick_statement(at: ast.AST) -> ast.Expr:
    return ast.copy_location(ast.Expr(_call("_tick_", [], at)), at)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: no import, no class, a CPU budget check in every loop, comprehension,
    function and lambda, and size checks on the operators that can build a huge value in one step."""

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> ast.AST:
        self.error(node, _msg_import())
        return node

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "脚本不允许定义类 (class definitions are not allowed in BPMN scripts; use dicts and lists)")
        return node

    def visit_While(self, node: ast.While) -> ast.AST:
        node = super().visit_While(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        node = super().visit_For(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        node = super().visit_comprehension(node)
        # One check per element of *each* iterable: `for a in big for b in []` must tick too.
        node.ifs.insert(0, _call("_tick_", [], node.iter))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick_statement(node))  # recursion without loops, e.g. f() calling f() twice
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node = super().visit_Lambda(node)
        tick = _call("_tick_", [], node.body)
        node.body = ast.copy_location(ast.BoolOp(op=ast.And(), values=[tick, node.body]), node.body)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = super().visit_BinOp(node)
        guard = _GUARDED_BINOPS.get(type(node.op))
        if guard is None:
            return node
        return _call(guard, [node.left, node.right], node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if node.attr in _HIERARCHY_ATTRIBUTES:
            self.error(node, _msg_internal(node.attr))
        return super().visit_Attribute(node)

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        # Whatever a script raises must be an ordinary error: BaseException, SystemExit, KeyboardInterrupt and
        # GeneratorExit pass by `except Exception` in the worker and the request handlers and end the process.
        node = super().visit_Raise(node)
        if node.exc is not None:
            node.exc = _call("_raise_", [node.exc], node.exc)
        if node.cause is not None:
            node.cause = _call("_raise_", [node.cause], node.cause)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        # `f"{x:>{10**9}}"` pads in C: the value, its conversion and its format spec go through a size check,
        # and the f-string receives the finished text.
        node = super().visit_FormattedValue(node)
        conversion = chr(node.conversion) if node.conversion and node.conversion > 0 else ""
        spec = node.format_spec if node.format_spec is not None else ast.copy_location(ast.Constant(""), node)
        args = [node.value, ast.copy_location(ast.Constant(conversion), node), spec]
        checked = ast.copy_location(ast.FormattedValue(value=_call("_format_", args, node), conversion=-1,
                                                       format_spec=None), node)
        return ast.fix_missing_locations(checked)


@dataclass(frozen=True)
class _Compiled:
    code: CodeType | None
    error: tuple[str, str, int | None] | None  # kind, message, line
    budgeted: bool  # contains a loop, comprehension or function: needs a CPU budget
    # An expression that is only a constant (`30`, `"登记回执"`, `-1`, `True`) or only a name (`channel`): most
    # of what the engine evaluates (service-task parameters, DMN output cells, timer durations), answered without
    # setting up a run (namespace, CPU budget, context variables) since running it could do nothing else.
    shortcut: tuple[str, Any] | None = None

    def raise_error(self) -> None:
        if self.error is None:
            return
        kind, message, line = self.error
        error = ScriptError(message, kind, line)
        if line:
            # SpiffWorkflow names the failing line from a traceback frame of file "<string>" (else it reports
            # "line 0"); raising from a stub at that line gives it one.
            exec(compile("\n" * (line - 1) + "raise error", _FILENAME, "exec"), {"error": error})
        raise error


def _uses_name(code: CodeType, name: str) -> bool:
    return name in code.co_names or any(
        isinstance(const, CodeType) and _uses_name(const, name) for const in code.co_consts
    )


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compile(source: str, mode: str) -> _Compiled:
    def failed(kind: str, message: str, line: int | None = None) -> _Compiled:
        return _Compiled(None, (kind, message, line), False)

    try:
        tree = ast.parse(source, _FILENAME, mode)
        shortcut = _shortcut(tree) if mode == "eval" else None  # before the compiler rewrites the tree
        compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
        result = compiler(tree, _FILENAME, policy=_Policy)
    except SyntaxError as err:
        return failed("syntax", f"脚本语法错误：第 {err.lineno} 行 {err.msg} (syntax error on line {err.lineno}: "
                                f"{err.msg})", err.lineno)
    except (ValueError, RecursionError, MemoryError) as err:  # null bytes, absurd nesting
        return failed("syntax", f"脚本无法编译 (the script cannot be compiled: {err.__class__.__name__}: {err})")
    if result.errors:
        problems, first_line = [], None
        for error in result.errors:
            found = re.match(r"Line (\d+|None): (.*)$", error, re.S)
            line, info = (found.group(1), found.group(2)) if found else ("None", error)
            message = _translate_policy_error(info)
            if line != "None":
                first_line = first_line or int(line)
                if "\n" in source.strip():
                    message = f"第 {line} 行 (line {line}): {message}"
            if message not in problems:
                problems.append(message)
        more = f"（另有 {len(problems) - 1} 处 / {len(problems) - 1} more）" if len(problems) > 1 else ""
        return failed("forbidden", problems[0] + more, first_line)
    return _Compiled(result.code, None, _uses_name(result.code, "_tick_"), shortcut)


_SCALARS = (int, float, str, bool, type(None))


def _shortcut(tree: ast.Expression) -> tuple[str, Any] | None:
    """("constant", value) for a scalar literal (a sign allowed on a number), ("name", name) for a bare name, else
    None. Anything else (a call, an operator, a container literal) runs in the sandbox."""
    body = tree.body
    if isinstance(body, ast.Constant) and type(body.value) in _SCALARS:
        return "constant", body.value
    if (isinstance(body, ast.UnaryOp) and isinstance(body.op, (ast.USub, ast.UAdd))
            and isinstance(body.operand, ast.Constant) and type(body.operand.value) in (int, float)):
        return "constant", -body.operand.value if isinstance(body.op, ast.USub) else body.operand.value
    if isinstance(body, ast.Name) and not body.id.startswith("_"):
        return "name", body.id
    return None


NOT_CONSTANT = object()


def constant_value(text: str) -> Any:
    """The value of an expression that is only a constant (`_shortcut`), as evaluating it gives; NOT_CONSTANT for
    anything else, or for what does not compile."""
    compiled = _compile(text, "eval")
    if compiled.error is None and compiled.shortcut is not None and compiled.shortcut[0] == "constant":
        return compiled.shortcut[1]
    return NOT_CONSTANT


def check_expression(text: str) -> str | None:
    """Compile `text` as a sandboxed expression without running it; the refusal message, or None."""
    compiled = _compile(text, "eval")
    return compiled.error[1] if compiled.error else None


def check_script(text: str) -> str | None:
    """Compile `text` as a sandboxed script without running it; the refusal message, or None."""
    compiled = _compile(text, "exec")
    return compiled.error[1] if compiled.error else None


# ------------------------------------------------------------------------------------------------ budget

MEMORY_BUDGET = 256 * 1024 * 1024  # growth of the process while one script runs


def _resident_bytes() -> int | None:
    """The process's resident memory, or None where /proc is not available. Read through a bare descriptor: this
    runs while a script may be exhausting memory, and a MemoryError inside `open()` left a half-built file object
    behind (a ResourceWarning in whatever ran next)."""
    try:
        fd = os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:
        return None
    try:
        return int(os.read(fd, 256).split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError, MemoryError):
        return None
    finally:
        os.close(fd)


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Budget:
    """The CPU and memory budget of one run of a script or expression.

    `tick` is called in every loop pass, comprehension element and function call (the compiled code calls it as
    `_tick_`); it looks at the clock every few calls. `charge` is called by the size checks before a large
    operation (a big string, list or number built in C): straight-line code has no loop to tick, so without it a
    script of many large steps would run past its budget. Both keep failing once a limit was hit, so a script that
    catches the error gains at most one more pass of each loop.
    """

    def __init__(self, cpu_seconds: float, watch_memory: bool):
        self.cpu_seconds = cpu_seconds
        self.started = time.thread_time()
        self.deadline = self.started + cpu_seconds
        self.memory_start = _resident_bytes() if watch_memory else None
        self.countdown = _CHECK_EVERY
        self.checks = 0

    def tick(self) -> bool:
        self.countdown -= 1
        if self.countdown <= 0:
            self.countdown = _CHECK_EVERY
            self._check_time()
            self.checks += 1
            # Reading /proc costs microseconds: every 64th check, a few megabytes apart at worst.
            if self.checks % 64 == 0:
                self._check_memory()
        return True

    def charge(self) -> None:
        self._check_time()
        self._check_memory()

    def _check_time(self) -> None:
        now = time.thread_time()
        if now > self.deadline:
            self.countdown = 0  # from now on every call fails, even after the script caught the first one
            raise ScriptError(_msg_timeout(self.cpu_seconds), "timeout", limit="cpu",
                              spent=round(now - self.started, 3))

    def _check_memory(self) -> None:
        if self.memory_start is None:
            self.memory_start = _resident_bytes()  # straight-line code: measured from its first large step
            return
        now = _resident_bytes()
        if now is not None and now - self.memory_start > MEMORY_BUDGET:
            self.countdown = 0
            raise ScriptError(_msg_too_large(f"超过 {MEMORY_BUDGET // (1024 * 1024)} MB 内存的数据"
                                             f"（more than {MEMORY_BUDGET // (1024 * 1024)} MB of memory）"),
                              "too_large", limit="memory")


_current_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("lianxin_script_budget",
                                                                                 default=None)


# ------------------------------------------------------------------------------------------------ guards

def _refuse_size(operation: str, size: int, limit: int, unit_zh: str, unit_en: str) -> ScriptError:
    return ScriptError(
        f"脚本要生成的数据过大，已被拒绝：{operation} 将得到 {size:,} {unit_zh}，上限为 {limit:,} {unit_zh}。"
        f"{_SIZE_ADVICE_ZH} (refused to build a value that large: {operation} would make {size:,} {unit_en}, "
        f"the limit is {limit:,} {unit_en}; {_SIZE_ADVICE})",
        "too_large", limit=operation)


def _check_items(operation: str, size: int, unit_zh: str = "项", unit_en: str = "items") -> None:
    """Refuses a string, bytes or sequence of more than MAX_ITEMS before it is built; a large one that is allowed
    is charged to the budget (time and memory) first."""
    if size > MAX_ITEMS:
        raise _refuse_size(operation, size, MAX_ITEMS, unit_zh, unit_en)
    if size >= _CHARGE_FROM:
        _charge()


def _check_int_work(operation: str, work: int) -> None:
    """Refuses big-number arithmetic whose cost (in machine-word operations, estimated from the operands' sizes)
    is more than MAX_INT_WORK: `pow(3, 2**16000, 2**16000+1)` is a 16,000-bit number and seconds of CPU."""
    if work > MAX_INT_WORK:
        raise ScriptError(
            f"脚本的大数运算过大，已被拒绝：{operation} 约需 {work:,} 次字运算，上限为 {MAX_INT_WORK:,} 次。"
            f"{_SIZE_ADVICE_ZH} (refused: {operation} on numbers this large would take about {work:,} machine-word "
            f"operations, the limit is {MAX_INT_WORK:,}; {_SIZE_ADVICE})", "too_large", limit=operation)
    if work >= _CHARGE_FROM:
        _charge()


def _charge() -> None:
    budget = _current_budget.get()
    if budget is not None:
        budget.charge()


def _words(n: int) -> int:
    return n.bit_length() // 30 + 1  # CPython stores ints in 30-bit digits


def _is_int(x: Any) -> bool:
    return isinstance(x, int)


def _length(x: Any) -> int:
    return len(x) if isinstance(x, _SIZED) else 1


_SEQUENCES = (str, bytes, bytearray, list, tuple)
_PLAIN_NUMBERS = frozenset({int, float, bool})  # exact types: a subclass could override __add__
_TEXTS = (str, bytes, bytearray)
_SIZED = (str, bytes, bytearray, list, tuple, dict, set, frozenset, range)


_CONTAINERS = (list, tuple, set, frozenset)
_END = object()


def _expanded(value: Any, limit: int, char_limit: int | None = None) -> tuple[int, int]:
    """(items, characters) of `value` written out, as repr() and JSON write it: a list that holds the same
    list a thousand times is written a thousand times. Stops counting once either passes its limit, checked
    whenever it goes into a container (texts and numbers cannot multiply; the returned counts are then past the
    limit, not exact). Iterative, so neither depth nor cycles (which never end) make it fail.

    It runs over the whole task data after every script, so a long case's thousands of opinions pass through it
    each step: the builtin types themselves are recognised first (`type(item) is str`, the commonest), their
    subclasses after, and a plain dict or list of texts and numbers, or a list of such dicts (records: one
    column at a time), is counted in a few passes of C code (`_flat_counts`), about half the time of the whole
    walk on a long case. The counts are the same; past a limit, where it stops may differ, so when both limits
    are passed the refusal may name the other one."""
    items = chars = 0
    char_limit = limit if char_limit is None else char_limit
    stack = [iter((value,))]
    while stack:
        for item in stack[-1]:
            items += 1
            kind = type(item)
            if kind is str:
                chars += len(item)
                continue
            if kind is dict or kind is list:
                # A dict of texts and numbers (comments by round), a list of them, or a list of such dicts (the
                # opinions of a long case), counted in a few passes of C code instead of item by item: the
                # same counts. A container that holds anything else goes in item by item below.
                flat = _flat_counts(item, limit - items)
                if flat is not None:
                    items += flat[0]
                    chars += flat[1]
                    if items > limit or chars > char_limit:
                        return items, chars
                    continue
                inner = _flat_items(item.items()) if kind is dict else iter(item)
            elif kind in _LEAVES:
                continue
            else:
                inner = _inner(item)
                if inner is None:
                    chars += len(item) if isinstance(item, _TEXTS) else 0
                    continue
            if items > limit or chars > char_limit:
                return items, chars
            stack.append(inner)
            break  # into the container; this level goes on where it stopped
        else:
            stack.pop()
    return items, chars


def _inner(item: Any) -> Iterator[Any] | None:
    """What `_expanded` goes on into besides a plain dict or list: a dict's keys and values, a tuple's or set's
    items; None for a text or anything else."""
    if isinstance(item, dict):
        return _flat_items(item.items())
    if isinstance(item, _CONTAINERS):
        return iter(item)
    return None


_flat_items = itertools.chain.from_iterable
_LEAVES = frozenset({int, float, bool, type(None)})
_FLAT = _LEAVES | {str}  # exact types only: a subclass may count itself otherwise (`len`, `items`)
_FLAT_FROM = 16  # a smaller container is counted faster item by item
_STR_KEYS = frozenset({str})
_DICTS = frozenset({dict})


def _flat_texts(values: list) -> int:
    """Characters of the exact `str`s among `values` (texts and numbers only)."""
    return sum(map(len, itertools.compress(values, map(operator.is_, map(type, values), itertools.repeat(str)))))


def _flat_counts(container: dict | list, room: int) -> tuple[int, int] | None:
    """(items, characters) inside a plain dict or list, as `_expanded` counts them one by one, when it holds only
    texts and numbers (a dict: also keys that are texts), or is a list of plain dicts that do; None otherwise, or
    when the count would pass `room` (then `_expanded` goes item by item and stops at its limit), or the
    container is small (counted faster item by item)."""
    if len(container) < _FLAT_FROM:
        return None
    if type(container) is dict:
        if 2 * len(container) > room or not set(map(type, container)) <= _STR_KEYS:
            return None
        values = list(container.values())
        if not set(map(type, values)) <= _FLAT:
            return None
        return 2 * len(values), sum(map(len, container)) + _flat_texts(values)
    if len(container) > room:
        return None
    kinds = set(map(type, container))
    if kinds <= _FLAT:
        return len(container), _flat_texts(container)
    if kinds != _DICTS:
        return None
    pairs = sum(map(len, container))
    if len(container) + 2 * pairs > room or not set(map(type, _flat_items(container))) <= _STR_KEYS:
        return None  # every key of every dict is looked at, not one of each set of equal keys
    chars = _record_texts(container, pairs)
    return None if chars is None else (len(container) + 2 * pairs, chars)


def _record_texts(dicts: list[dict], pairs: int) -> int | None:
    """Characters of the keys (all exact `str`s) and text values of plain dicts holding `pairs` entries in all;
    None when a value is not a text or a number."""
    names = set().union(*dicts)
    if len(names) * len(dicts) != pairs:  # not every dict has every key: all values at once
        values = list(_flat_items(map(dict.values, dicts)))
        if not set(map(type, values)) <= _FLAT:
            return None
        return sum(map(len, _flat_items(dicts))) + _flat_texts(values)
    chars = len(dicts) * sum(map(len, names))  # records: column by column
    for name in names:
        column = list(map(operator.itemgetter(name), dicts))
        kinds = set(map(type, column))
        if kinds == _STR_KEYS:
            chars += sum(map(len, column))
        elif kinds <= _FLAT:
            chars += _flat_texts(column)
        else:
            return None
    return chars


def _check_task_data(context: Mapping[str, Any], injected: Mapping[str, Any]) -> None:
    """What a script leaves in the task data is stored as JSON, which writes shared references out in full:
    `rows = [row for i in range(1000)]` costs a thousand loop passes and could be gigabytes on saving."""
    values = [v for k, v in context.items() if k not in injected and k not in _RESERVED and not callable(v)]
    items, chars = _expanded(values, MAX_DATA_ITEMS, MAX_DATA_CHARS)
    if items > MAX_DATA_ITEMS:
        raise _refuse_size("task data", items, MAX_DATA_ITEMS, "项", "items")
    if chars > MAX_DATA_CHARS:
        raise _refuse_size("task data", chars, MAX_DATA_CHARS, "个字符", "characters")


def _written_size(value: Any) -> int:
    """At least how many characters `str(value)` makes: its texts, and a separator for every item."""
    if isinstance(value, _TEXTS):
        return len(value)
    if not isinstance(value, (dict, *_CONTAINERS)):
        return 0
    items, chars = _expanded(value, MAX_ITEMS)
    return chars + 2 * items


def _check_written(operation: str, value: Any) -> None:
    _check_items(operation, _written_size(value), "个字符", "characters")


def _refuse_repeat(seq: Any, count: Any) -> None:
    if isinstance(seq, _SEQUENCES) and isinstance(count, int):
        operation = f"{type(seq).__name__} * {count}"
        if isinstance(seq, _TEXTS):
            _check_items(operation, len(seq) * max(count, 0), "个字符", "characters")
            return
        _check_items(operation, len(seq) * max(count, 0))
        if count > 1 and seq:
            # `[row] * 1000` is a thousand references; written out (str, JSON of the task data) it is a
            # thousand copies of `row`: count what the copies hold.
            items, chars = _expanded(seq, MAX_ITEMS // count + 1)
            _check_items(operation, (items - 1) * count)
            _check_items(operation, chars * count, "个字符", "characters")


def _mul(a: Any, b: Any, op: Callable = operator.mul) -> Any:
    if _is_int(a) and _is_int(b):
        bits = a.bit_length() + b.bit_length()
        if bits > MAX_INT_BITS:
            raise _refuse_size("int * int", bits, MAX_INT_BITS, "位", "bits")
        _check_int_work("int * int", _words(a) * _words(b))
    else:
        _refuse_repeat(a, b)
        _refuse_repeat(b, a)
    return op(a, b)


def _add(a: Any, b: Any, op: Callable = operator.add) -> Any:
    # `s = s + s` twenty times in straight-line code has no loop to tick and doubles each time. Numbers, the
    # common case in loops (`n += 1`), go straight through: a sum has at most one bit more than its operands.
    if type(a) in _PLAIN_NUMBERS:
        return op(a, b)
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        units = ("个字符", "characters") if isinstance(a, _TEXTS) else ("项", "items")
        _check_items(f"{type(a).__name__} + {type(b).__name__}", len(a) + len(b), *units)
    return op(a, b)


def _iadd(a: Any, b: Any) -> Any:
    return _add(a, b, operator.iadd)


def _pow(a: Any, b: Any, op: Callable = operator.pow) -> Any:
    if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1:
        bits = a.bit_length() * b
        if bits > MAX_INT_BITS:
            raise _refuse_size("int ** int", bits, MAX_INT_BITS, "位", "bits")
        _check_int_work("int ** int", (bits // 30 + 1) ** 2)
    return op(a, b)


def _builtin_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        return _pow(base, exp)
    if _is_int(base) and _is_int(exp) and _is_int(mod):
        # Square-and-multiply: one multiplication and one reduction modulo `mod` per bit of the exponent.
        _check_int_work("pow(base, exp, mod)", exp.bit_length() * _words(mod) ** 2 + _words(base) * _words(mod))
    return pow(base, exp, mod)


def _division_work(a: Any, b: Any) -> int:
    if not (_is_int(a) and _is_int(b)):
        return 0
    return _words(b) * max(1, _words(a) - _words(b) + 1)


def _floordiv(a: Any, b: Any, op: Callable = operator.floordiv) -> Any:
    _check_int_work("int // int", _division_work(a, b))
    return op(a, b)


def _divmod(a: Any, b: Any) -> Any:
    _check_int_work("divmod(int, int)", _division_work(a, b))
    return divmod(a, b)


def _mod(a: Any, b: Any, op: Callable = operator.mod) -> Any:
    if isinstance(a, _TEXTS):
        _check_printf(a, b)
    else:
        _check_int_work("int % int", _division_work(a, b))
    return op(a, b)


def _lshift(a: Any, b: Any, op: Callable = operator.lshift) -> Any:
    if _is_int(a) and _is_int(b) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise _refuse_size("int << int", a.bit_length() + b, MAX_INT_BITS, "位", "bits")
    return op(a, b)


def _round(number: Any, ndigits: Any = None) -> Any:
    if _is_int(number) and _is_int(ndigits) and ndigits < 0:
        # round(n, -k) computes 10**k first.
        bits = (-ndigits) * 10 // 3
        if bits > MAX_INT_BITS:
            raise _refuse_size("round(int, ndigits)", bits, MAX_INT_BITS, "位", "bits")
    return round(number) if ndigits is None else round(number, ndigits)


def _sum(iterable: Any, start: Any = 0) -> Any:
    if not isinstance(start, (list, tuple)):
        return sum(iterable, start)
    # Adding lists copies the growing list at every step: the work is the sum of all the partial lengths.
    parts = list(iterable)
    total, work = len(start), 0
    for part in parts:
        total += _length(part)
        work += total
    _check_items("sum(lists)", total)
    # Copying is cheap per item: up to ten times MAX_ITEMS items copied (tens of milliseconds) is allowed.
    _check_items("sum(lists) (copies)", work // 10)
    return sum(parts, start)


def _range(*args: int) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_ITEMS + 1
    # A large range is about to become a list (or a long loop): charged like any other large step.
    _check_items("range", size, "个数", "numbers")
    return numbers


# printf-style: %[(key)][flags][width][.precision][length]type
_PRINTF = re.compile(r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?"
                     r"(?P<type>.)", re.DOTALL)


def _check_printf(fmt: Any, args: Any) -> None:
    """`'%*d' % (10**9, 1)` and `'%.1000000000f' % x` pad in C: add up each field's width, precision and text."""
    positional = list(args) if isinstance(args, tuple) else [args]
    size = len(fmt)
    spec_text = fmt.decode("latin-1") if isinstance(fmt, (bytes, bytearray)) else fmt
    for found in _PRINTF.finditer(spec_text):
        if found.group("type") == "%":
            continue
        field = 0
        for part in ("width", "precision"):
            text = found.group(part)
            if text == "*":
                value = positional.pop(0) if positional else 0
                field = max(field, abs(value) if _is_int(value) else 0)
            elif text:
                field = max(field, int(text))
        if found.group("key") is not None and isinstance(args, dict):
            value = args.get(found.group("key"))
        else:
            value = positional.pop(0) if positional else None
        if _is_int(value):
            field = max(field, value.bit_length() // 3 + 2)
        else:
            field = max(field, _written_size(value))
        size += field
    _check_items("%-formatting", size, "个字符", "characters")


_FORMAT_NUMBERS = re.compile(r"\d+")


def _format(value: Any, conversion: str, spec: str) -> str:
    """One `{...}` of an f-string: its width and precision are checked before the text is padded."""
    operation = "f-string {...:" + spec[:20] + "}" if spec else "f-string {...}"
    _check_written(operation, value)
    if conversion == "r":
        value = repr(value)
    elif conversion == "s":
        value = str(value)
    elif conversion == "a":
        value = ascii(value)
    if spec:
        size = max(int(number) for number in _FORMAT_NUMBERS.findall(spec)) if _FORMAT_NUMBERS.search(spec) else 0
        if isinstance(value, str):
            size = max(size, len(value))
        _check_items(operation, size, "个字符", "characters")
    return format(value, spec)


def _text_of(args: tuple, unbound: bool) -> tuple[Any, tuple]:
    """A method reached as `s.ljust` gets its text bound; one reached as `str.ljust` gets it as first argument."""
    if unbound:
        return (args[0] if args else ""), args[1:]
    return None, args


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _estimate_text_method(name: str, text: Any, args: tuple, kwargs: dict) -> int:
    length = len(text) if isinstance(text, _TEXTS) else 0
    if name in ("ljust", "rjust", "center", "zfill"):
        width = _arg(args, kwargs, 0, "width", 0)
        return max(length, width if _is_int(width) else 0)
    if name == "expandtabs":
        tabsize = _arg(args, kwargs, 0, "tabsize", 8)
        tabs = text.count("\t" if isinstance(text, str) else b"\t") if isinstance(text, _TEXTS) else 0
        return length + tabs * (max(tabsize, 0) if _is_int(tabsize) else 0)
    if name == "replace":
        old, new = _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", "")
        count = _arg(args, kwargs, 2, "count", -1)
        if not (isinstance(old, _TEXTS) and isinstance(new, _TEXTS) and isinstance(text, _TEXTS)):
            return length
        if len(new) <= len(old):
            return length
        try:
            hits = text.count(old) if old else length + 1
        except TypeError:
            return length
        if _is_int(count) and count >= 0:
            hits = min(hits, count)
        return length + hits * (len(new) - len(old))
    if name == "translate":
        table = _arg(args, kwargs, 0, "table")
        values = table.values() if isinstance(table, dict) else table if isinstance(table, (list, tuple)) else ()
        longest = max((len(v) for v in values if isinstance(v, _TEXTS)), default=1)
        return length * max(longest, 1)
    return length


class _CheckedMethod:
    """A text method whose result size is checked before it runs (`'a'.ljust(3 * 10**9)`); callable and nothing
    else, like a helper."""

    __slots__ = ("_method", "_name", "_owner", "_unbound")

    def __init__(self, method: Callable, name: str, owner: str, unbound: bool):
        object.__setattr__(self, "_method", method)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_unbound", unbound)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        operation = f"{self._owner}.{self._name}"
        text, rest = _text_of(args, self._unbound)
        if not self._unbound:
            text = getattr(self._method, "__self__", None)
        if self._name == "join":
            items = list(rest[0]) if rest else list(kwargs.get("iterable", ()))
            sep = len(text) if isinstance(text, _TEXTS) else 0
            size = sum(len(item) for item in items if isinstance(item, _TEXTS)) + sep * max(len(items) - 1, 0)
            _check_items(operation, size, "个字符", "characters")
            return self._method(*(args[:1] if self._unbound else ()), items)
        if self._name == "extend":
            # `rows.extend(rows)` doubles the list in one step.
            added = rest[0] if rest else ()
            size = (len(text) if isinstance(text, list) else 0) + (len(added) if isinstance(added, _SIZED) else 0)
            _check_items(operation, size)
            return self._method(*args, **kwargs)
        if self._name == "to_bytes":
            length = _arg(rest, kwargs, 0, "length", 1)
            _check_items(operation, length if _is_int(length) else 0, "字节", "bytes")
            return self._method(*args, **kwargs)
        _check_items(operation, _estimate_text_method(self._name, text, rest, kwargs), "个字符", "characters")
        return self._method(*args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("read-only")

    def __repr__(self) -> str:
        return f"<method {self._owner}.{self._name}>"


# ---- what a failing script leaves behind: nothing
# A script runs on the task data itself. Every way a script can change a container goes through a guard:
# `x[k] = v`, `del x[k]` and `for x[k] in ...` through `_write_`, `x += y` (and the other in-place operators)
# through `_inplacevar_`, and a method that changes its object (`append`, `update`, `sort`, ...) is fetched
# through `_getattr_` (also `list.append(x, v)` and `getattr(x, "append")`). While a script task runs, each guard
# keeps a shallow copy of a container the first time the script may change it; a script that fails gets every
# such container put back as it was (and the names of the task data as they were), so its partial writes are
# gone without a deep copy of the whole case data before every script.
_MUTATORS: dict[type, frozenset[str]] = {
    list: frozenset({"append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse"}),
    dict: frozenset({"update", "pop", "popitem", "clear", "setdefault"}),
    set: frozenset({"add", "discard", "remove", "pop", "clear", "update", "intersection_update",
                    "difference_update", "symmetric_difference_update"}),
}
_undo_log: contextvars.ContextVar[dict[int, tuple[Any, Any]] | None] = contextvars.ContextVar(
    "lianxin_script_undo", default=None)


def _container_kind(obj: Any) -> type | None:
    for kind in _MUTATORS:
        if isinstance(obj, kind):
            return kind
    return None


def _remember(obj: Any) -> None:
    """Keep `obj` as it is now, the first time the running script may change it (scripts only, not
    expressions). The log holds the object itself, so its id is not reused while the script runs."""
    log = _undo_log.get()
    if log is not None and id(obj) not in log and _container_kind(obj) is not None:
        log[id(obj)] = (obj, obj.copy())


def _undo(log: dict[int, tuple[Any, Any]]) -> None:
    for obj, saved in log.values():
        if isinstance(obj, list):
            obj[:] = saved
        else:
            obj.clear()
            obj.update(saved)


def _remembering(method: Callable) -> Callable:
    """`list.append` and its kind, fetched from the type: remember the object they are called on."""
    def call(*args: Any, **kwargs: Any) -> Any:
        if args:
            _remember(args[0])
        return method(*args, **kwargs)
    return call


_TEXT_BUILDERS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "translate"})


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    if not isinstance(name, str):
        raise TypeError("attribute name must be a string")
    if name.startswith("_"):
        raise ScriptError(_msg_underscore(name), "forbidden")
    if name in INSPECT_ATTRIBUTES or name in _HIERARCHY_ATTRIBUTES:
        raise ScriptError(_msg_internal(name), "forbidden")
    if isinstance(obj, _BuiltinType):
        obj = obj.real
    if name in ("format", "format_map") and (
        isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    ):
        # The format mini-language reads attributes ("{0.__class__}") without passing through this guard.
        raise ScriptError("脚本不允许使用 str.format (str.format is not allowed in BPMN scripts: it reads "
                          "attributes past the sandbox; use an f-string instead)", "forbidden")
    value = _before_change(obj, name, getattr(obj, name, *default))
    if name in _TEXT_BUILDERS and isinstance(obj, _TEXTS):
        return _CheckedMethod(value, name, type(obj).__name__, unbound=False)
    if name in _TEXT_BUILDERS and any(obj is kind for kind in _TEXTS):
        return _CheckedMethod(value, name, obj.__name__, unbound=True)
    if name == "extend" and (isinstance(obj, list) or obj is list):
        return _CheckedMethod(value, name, "list", unbound=obj is list)
    if name == "to_bytes" and (_is_int(obj) or obj is int or obj is bool):
        return _CheckedMethod(value, name, "int", unbound=isinstance(obj, type))
    return value


def _before_change(obj: Any, name: str, value: Any) -> Any:
    """A method that changes its container, fetched while a script runs: the container is remembered first."""
    if _undo_log.get() is None:
        return value
    if isinstance(obj, type) and obj in _MUTATORS and name in _MUTATORS[obj]:  # unbound, from the type: `list.append(rows, x)`
        return _remembering(value)
    kind = _container_kind(obj)
    if kind is not None and name in _MUTATORS[kind]:
        _remember(obj)
    return value


def _guarded_raise(exc: Any) -> Any:
    """What a script raises (or names as the cause) must be an Exception, not any other BaseException."""
    is_class = isinstance(exc, type) and issubclass(exc, BaseException)
    if (is_class and not issubclass(exc, Exception)) or (isinstance(exc, BaseException)
                                                          and not isinstance(exc, Exception)):
        raise ScriptError(_msg_base_exception(exc.__name__ if is_class else type(exc).__name__), "forbidden")
    return exc


def _guarded_write(obj: Any) -> Any:
    if type(obj) in (dict, list, set):
        _remember(obj)
        return obj
    kind = type(obj).__name__
    raise ScriptError(f"脚本只能修改 dict、list、set 的内容，不能修改 {kind} 对象 (BPMN scripts may only change "
                      f"dicts, lists and sets, not {kind} objects)", "forbidden")


def _getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _getiter(obj: Any) -> Any:
    return obj


def _apply(func: Callable, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": _iadd,
    "-=": operator.isub,
    "*=": lambda a, b: _mul(a, b, operator.imul),
    "/=": operator.itruediv,
    "//=": lambda a, b: _floordiv(a, b, operator.ifloordiv),
    "%=": lambda a, b: _mod(a, b, operator.imod),
    "**=": lambda a, b: _pow(a, b, operator.ipow),
    "<<=": lambda a, b: _lshift(a, b, operator.ilshift),
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    if op == "+=" and type(target) in _PLAIN_NUMBERS:  # the loop counter: no size to check, no extra call
        return target + value
    _remember(target)  # `rows += more`, `seen |= new`: the list or set itself changes
    return _INPLACE[op](target, value)


class _BuiltinType(type):
    """A builtin type as scripts see it: calling it checks the size of what it would write first; isinstance,
    issubclass, repr and attribute access answer as for the real type."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.real)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.real)

    def __repr__(cls) -> str:
        return repr(cls.real)


def _checked_str_new(cls: type, *args: Any, **kwargs: Any) -> str:
    if args:
        _check_written("str()", args[0])
    return str(*args, **kwargs)


_Str = _BuiltinType("str", (), {"real": str, "__new__": _checked_str_new, "__slots__": ()})


def _repr(value: Any) -> str:
    _check_written("repr()", value)
    return repr(value)


class _PrintCollector(PrintCollector):
    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        for value in objects:
            _check_written("print()", value)
        super()._call_print(*objects, **kwargs)


def _sandbox_builtins() -> dict[str, Any]:
    # Dropped from RestrictedPython's set: exceptions that are not errors (a script could end a worker thread
    # with SystemExit), classes (refused anyway) and attribute setters with nothing to set.
    dropped = {"__build_class__", "BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit",
               "setattr", "delattr"}
    names = {k: v for k, v in safe_builtins.items() if k not in dropped}
    names.update(
        len=len, min=min, max=max, sum=_sum, sorted=sorted, any=any, all=all, str=_Str, int=int, float=float,
        bool=bool, dict=dict, list=list, set=set, tuple=tuple, round=_round, abs=abs, enumerate=enumerate,
        zip=zip, isinstance=isinstance, reversed=reversed, divmod=_divmod, map=map, filter=filter,
        range=_range, pow=_builtin_pow, getattr=_guarded_getattr, repr=_repr,
    )
    return names


_BUILTINS: Mapping[str, Any] = _sandbox_builtins()
BUILTIN_NAMES: frozenset[str] = frozenset(_BUILTINS)
"""Every name a script can use without defining it, besides the helpers (for deploy-time name checks)."""

_GUARDS: Mapping[str, Any] = {
    "_getattr_": _guarded_getattr,
    "_getitem_": _getitem,
    "_getiter_": _getiter,
    "_write_": _guarded_write,
    "_apply_": _apply,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar,
    "_print_": _PrintCollector,
    "_mul_": _mul,
    "_pow_": _pow,
    "_lshift_": _lshift,
    "_add_": _add,
    "_mod_": _mod,
    "_floordiv_": _floordiv,
    "_raise_": _guarded_raise,
    "_format_": _format,
}
# `_print` is the collector RestrictedPython creates in a script that prints; `_tick_` is the CPU budget.
_RESERVED = frozenset(_GUARDS) | {"__builtins__", "_print", "_tick_"}


class _Helper:
    """A helper as scripts see it: callable, and nothing else. Its only slots start with "_", which the guards
    refuse, so the wrapped function (and its module globals, closure, bound object) cannot be reached."""

    __slots__ = ("_fn", "_name")

    def __init__(self, name: str, fn: Callable):
        object.__setattr__(self, "_fn", fn)
        object.__setattr__(self, "_name", name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("helpers are read-only")

    def __repr__(self) -> str:
        return f"<helper {self._name}>"

    def __reduce__(self):
        raise TypeError("helpers cannot be copied or stored")


# ------------------------------------------------------------------------------------------------ running

def _hold_int_str_limit() -> None:
    """int <-> str conversion is quadratic in the number of digits; Python refuses more than a set number of
    digits before converting. Hold that guard in place while scripts run, whatever the process set."""
    current = sys.get_int_max_str_digits()
    if current == 0 or current > INT_MAX_STR_DIGITS:
        sys.set_int_max_str_digits(INT_MAX_STR_DIGITS)


def _script_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _runtime_error(exc: Exception, known: list[str]) -> ScriptError:
    if isinstance(exc, NameError) and getattr(exc, "name", None):
        name = exc.name
        if name == "_print":
            return ScriptError("表达式中不能使用 print (print() works only in scripts, not in conditions or "
                               "other expressions)", "forbidden")
        if name in builtins.__dict__ and name not in _BUILTINS:
            return ScriptError(_msg_builtin(name), "forbidden")
        close = difflib.get_close_matches(name, known, n=1)
        hint_zh = f"，是不是 \"{close[0]}\"？" if close else ""
        hint_en = f"; did you mean \"{close[0]}\"?" if close else ""
        return ScriptError(f"脚本中的名称 \"{name}\" 未定义{hint_zh} (name \"{name}\" is not defined: no task data "
                           f"field, helper or builtin has that name{hint_en})")
    if isinstance(exc, RecursionError):
        return ScriptError(f"脚本递归太深 (the script recursed too deeply: {exc})")
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        return ScriptError(
            f"脚本要生成的数据过大，已被拒绝：整数与文本互相转换（int/str conversion）最多 {INT_MAX_STR_DIGITS:,} 位数字。"
            f"{_SIZE_ADVICE_ZH} (refused: int/str conversion of an integer of more than {INT_MAX_STR_DIGITS:,} "
            f"decimal digits; {_SIZE_ADVICE})", "too_large", limit="int/str conversion")
    return ScriptError(f"脚本运行出错：{exc.__class__.__name__}: {exc} (the script or expression failed: "
                       f"{exc.__class__.__name__}: {exc})")


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment with `TaskDataEnvironment` semantics, run inside the sandbox.

    Scripts read and write task data as variables; helpers, guards and anything callable are removed from the
    task data afterwards; task data that would hide a helper is refused. Stateless between calls, so one
    instance serves every thread.
    """

    def __init__(self, helpers: Mapping[str, Callable] | None = None, cpu_seconds: float = 2.0):
        super().__init__({})
        self.cpu_seconds = cpu_seconds
        self.helpers: dict[str, _Helper] = {name: _Helper(name, fn) for name, fn in (helpers or {}).items()}
        for name in self.helpers:
            if name.startswith("_") or not name.isidentifier():
                raise ValueError(f"helper name {name!r} cannot be called from a script")
        self._fixed = {**_GUARDS, "__builtins__": _BUILTINS}

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        compiled = _compile(expression, "eval")
        compiled.raise_error()
        self._refuse_overwrites(context, {})
        shortcut = compiled.shortcut
        if shortcut is not None and shortcut[0] == "constant":
            return shortcut[1]
        if shortcut is not None and shortcut[1] in context:  # task data comes before helpers and builtins
            result = context[shortcut[1]]
        else:
            namespace: dict[str, Any] = dict(self.helpers)
            namespace.update(external_context or {})
            namespace.update(context)
            namespace.update(self._fixed)  # last: task data keys cannot replace a guard
            result = self._run(compiled, namespace, eval)
        if isinstance(result, (dict, *_CONTAINERS)):  # DMN outputs and multi-instance inputs become task data
            _check_task_data({"result": result}, {})
        return result

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        compiled = _compile(script, "exec")
        compiled.raise_error()
        external_context = external_context or {}
        self._refuse_overwrites(context, external_context)
        injected = {**self.helpers, **external_context, **self._fixed}
        # A script that fails changes nothing: its partial writes (how far an endless loop got before the CPU
        # budget stopped it depends on the machine) would make the stored state differ from any replay. The
        # names as they were, and each container the script may have changed as it was (see `_remember`).
        before = dict(context)
        log: dict[int, tuple[Any, Any]] = {}
        token = _undo_log.set(log)
        context.update(injected)
        try:
            self._run(compiled, context, exec)
            _check_task_data(context, injected)
        except BaseException:
            _undo(log)
            context.clear()
            context.update(before)
            raise
        finally:
            _undo_log.reset(token)
            for key in list(context):
                if key in injected or key in _RESERVED or callable(context[key]):
                    del context[key]
        return True

    def _run(self, compiled: _Compiled, namespace: dict[str, Any], run: Callable) -> Any:
        _hold_int_str_limit()
        budget = _Budget(self.cpu_seconds, watch_memory=compiled.budgeted)
        if compiled.budgeted:
            namespace["_tick_"] = budget.tick
        token = _current_budget.set(budget)
        try:
            return run(compiled.code, namespace)
        except ScriptError as err:
            if err.line is None:
                err.line = _script_line(err.__traceback__)
            raise
        except Exception as exc:
            known = [k for k in namespace if not k.startswith("_")] + sorted(BUILTIN_NAMES)
            error = _runtime_error(exc, known)
            error.line = _script_line(exc.__traceback__)
            # Keep the script's frames in the traceback: SpiffWorkflow reads the failing line from them.
            raise error.with_traceback(exc.__traceback__) from exc
        except (KeyboardInterrupt, SystemExit):
            raise  # the process's own (Ctrl-C, a signal handler): a script cannot reach these classes
        except BaseException as exc:
            # Any other BaseException (GeneratorExit, BaseException itself, ...) would pass by every `except
            # Exception` above us and end the request's or the worker's process: it becomes an ordinary error.
            error = ScriptError(_msg_base_exception(type(exc).__name__), "forbidden")
            error.line = _script_line(exc.__traceback__)
            raise error.with_traceback(exc.__traceback__) from exc
        finally:
            _current_budget.reset(token)

    def _refuse_overwrites(self, context: Mapping[str, Any], external_context: Mapping[str, Any]) -> None:
        clashes = sorted((set(self.helpers) | set(external_context) | _RESERVED).intersection(context))
        if clashes:
            names = ", ".join(clashes)
            raise ScriptError(f"任务数据中的字段 {names} 与脚本函数同名，请改名 (task data field(s) {names} would "
                              f"hide a predefined function; rename the field(s))", "conflict")


def make_script_engine(helpers: Mapping[str, Callable], cpu_seconds: float = 2.0) -> PythonScriptEngine:
    """A SpiffWorkflow script engine whose every script, condition, timer and DMN cell runs in the sandbox."""
    return PythonScriptEngine(environment=SandboxEnvironment(helpers, cpu_seconds=cpu_seconds))
