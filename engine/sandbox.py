"""The sandbox for every piece of Python text a process designer writes.

Script tasks, pre/post scripts, gateway conditions, timer expressions, service-task parameters and DMN cells
all reach SpiffWorkflow's `PythonScriptEngine`, whose default environment runs them with `exec` and full
builtins. Process files are uploaded through the web, so their text is untrusted: without this module a
condition could read `/etc/passwd`, the environment (database password, secret key) or walk
`().__class__.__base__` to `os`.

How the text is made safe:

* It is compiled by RestrictedPython (`compile_restricted_exec` / `compile_restricted_eval`) through
  `_Policy`, which also refuses `import` and `class`, and rewrites the code so that loops, comprehensions and
  functions call a CPU budget, and `*`, `**`, `<<` go through size checks. Compiled code is cached by text.
* It runs with RestrictedPython's guards: no name or attribute that starts with `_`, a small set of builtins,
  writes only into dicts, lists and sets. Helpers (`workdays`, `days`, `now`, ...) are handed over in wrappers
  with no attribute to read, so neither a script nor a getattr walk reaches the helper's module or closure.
* CPU time: the budget compares `time.thread_time()` of the executing thread with its deadline, so it works in
  Flask and gunicorn request threads, where `signal.alarm` cannot. Why not a `sys.settrace` tracer: on Python
  3.11 `while True: pass` emits no line events at all, a tracer that raises is removed by CPython (so a script
  that catches the error then runs unbounded), and it would displace coverage and debuggers. The budget call
  keeps failing once the deadline has passed, so catching the error buys at most one more pass of each loop.
* Memory is not limited. Single operations that explode from a few characters of text (`'x' * 10**9`,
  `10**10**9`, `1 << 10**10`, `range(10**12)` handed to C code) are refused; anything else needs rlimits or a
  separate process.

Errors are `ScriptError`, with a `kind` and a message in Chinese and English saying what was refused and what
to do. It derives from SpiffWorkflow's own exception class so SpiffWorkflow passes it on with its notes
instead of replacing it by "Error evaluating expression" (that wrapper would drop the message).
"""
from __future__ import annotations

import ast
import builtins
import copy
import difflib
import functools
import operator
import os
import re
import time
from collections.abc import Callable, Mapping
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
MAX_ITEMS = 1_000_000
MAX_INT_BITS = 1 << 16

_ADVICE = "ask a developer to add a helper in services/"


class ScriptError(SpiffWorkflowException):
    """A script or expression was refused or failed.

    kind: "syntax" (does not parse), "forbidden" (uses something the sandbox refuses), "timeout" (CPU budget
    spent), "too_large" (would build a huge value), "conflict" (task data hides a helper), "runtime" (any
    other error; the original exception is `__cause__`). `line` is the line in the script, when known.
    """

    def __init__(self, message: str, kind: str = "runtime", line: int | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.line = line

    def __str__(self) -> str:
        return self.message + "".join(f". {note}" for note in self.notes)

    def __reduce__(self):
        return (type(self), (self.message, self.kind, self.line))


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


def _msg_too_large(what: str) -> str:
    return (f"脚本要生成的数据过大，已被拒绝：{what} (refused to build {what}; BPMN scripts are meant for small "
            f"amounts of case data)")


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

_GUARDED_BINOPS: dict[type, str] = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_"}


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


@dataclass(frozen=True)
class _Compiled:
    code: CodeType | None
    error: tuple[str, str, int | None] | None  # kind, message, line
    budgeted: bool  # contains a loop, comprehension or function: needs a CPU budget

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
    return _Compiled(result.code, None, _uses_name(result.code, "_tick_"))


def check_expression(text: str) -> str | None:
    """Compile `text` as a sandboxed expression without running it; the refusal message, or None."""
    compiled = _compile(text, "eval")
    return compiled.error[1] if compiled.error else None


def check_script(text: str) -> str | None:
    """Compile `text` as a sandboxed script without running it; the refusal message, or None."""
    compiled = _compile(text, "exec")
    return compiled.error[1] if compiled.error else None


# ------------------------------------------------------------------------------------------------ guards

def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    if not isinstance(name, str):
        raise TypeError("attribute name must be a string")
    if name.startswith("_"):
        raise ScriptError(_msg_underscore(name), "forbidden")
    if name in INSPECT_ATTRIBUTES:
        raise ScriptError(_msg_internal(name), "forbidden")
    if name in ("format", "format_map") and (
        isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    ):
        # The format mini-language reads attributes ("{0.__class__}") without passing through this guard.
        raise ScriptError("脚本不允许使用 str.format (str.format is not allowed in BPMN scripts: it reads "
                          "attributes past the sandbox; use an f-string instead)", "forbidden")
    return getattr(obj, name, *default)


def _guarded_write(obj: Any) -> Any:
    if type(obj) in (dict, list, set):
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


_SEQUENCES = (str, bytes, bytearray, list, tuple)


def _refuse_repeat(seq: Any, count: Any) -> None:
    if isinstance(seq, _SEQUENCES) and isinstance(count, int) and len(seq) * count > MAX_ITEMS:
        raise ScriptError(_msg_too_large(f"{type(seq).__name__} * {count} (more than {MAX_ITEMS:,} items)"),
                          "too_large")


def _mul(a: Any, b: Any, op: Callable = operator.mul) -> Any:
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            raise ScriptError(_msg_too_large(f"a product of more than {MAX_INT_BITS} bits"), "too_large")
    else:
        _refuse_repeat(a, b)
        _refuse_repeat(b, a)
    return op(a, b)


def _pow(a: Any, b: Any, op: Callable = operator.pow) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1 \
            and a.bit_length() * b > MAX_INT_BITS:
        raise ScriptError(_msg_too_large(f"a power of more than {MAX_INT_BITS} bits"), "too_large")
    return op(a, b)


def _builtin_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        return _pow(base, exp)
    return pow(base, exp, mod)  # a modular power stays the size of `mod`


def _lshift(a: Any, b: Any, op: Callable = operator.lshift) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise ScriptError(_msg_too_large(f"a shift to more than {MAX_INT_BITS} bits"), "too_large")
    return op(a, b)


def _range(*args: int) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_ITEMS + 1
    if size > MAX_ITEMS:
        raise ScriptError(_msg_too_large(f"range of {size:,} numbers (at most {MAX_ITEMS:,})"), "too_large")
    return numbers


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": lambda a, b: _mul(a, b, operator.imul),
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": lambda a, b: _pow(a, b, operator.ipow),
    "<<=": lambda a, b: _lshift(a, b, operator.ilshift),
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    return _INPLACE[op](target, value)


def _sandbox_builtins() -> dict[str, Any]:
    # Dropped from RestrictedPython's set: exceptions that are not errors (a script could end a worker thread
    # with SystemExit), classes (refused anyway) and attribute setters with nothing to set.
    dropped = {"__build_class__", "BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit",
               "setattr", "delattr"}
    names = {k: v for k, v in safe_builtins.items() if k not in dropped}
    names.update(
        len=len, min=min, max=max, sum=sum, sorted=sorted, any=any, all=all, str=str, int=int, float=float,
        bool=bool, dict=dict, list=list, set=set, tuple=tuple, round=round, abs=abs, enumerate=enumerate,
        zip=zip, isinstance=isinstance, reversed=reversed, divmod=divmod, map=map, filter=filter,
        range=_range, pow=_builtin_pow, getattr=_guarded_getattr,
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
    "_print_": PrintCollector,
    "_mul_": _mul,
    "_pow_": _pow,
    "_lshift_": _lshift,
}
# `_print` is the collector RestrictedPython creates in a script that prints; `_tick_` is the CPU budget.
_RESERVED = frozenset(_GUARDS) | {"__builtins__", "_print", "_tick_"}


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


def _cpu_budget(cpu_seconds: float) -> Callable[[], bool]:
    """The check called in every loop and comprehension: CPU time of this thread, and memory. A loop that
    appends without end would otherwise fill gigabytes within its CPU budget (the size checks see one step)."""
    deadline = time.thread_time() + cpu_seconds
    start = _resident_bytes()
    countdown = _CHECK_EVERY
    checks = 0

    def tick() -> bool:
        nonlocal countdown, checks
        countdown -= 1
        if countdown <= 0:
            countdown = _CHECK_EVERY
            if time.thread_time() > deadline:
                countdown = 0  # from now on every call fails, even after the script caught the first one
                raise ScriptError(_msg_timeout(cpu_seconds), "timeout")
            checks += 1
            # Reading /proc costs microseconds: every 64th check, a few megabytes apart at worst.
            now = _resident_bytes() if start is not None and checks % 64 == 0 else None
            if now is not None and now - start > MEMORY_BUDGET:
                countdown = 0
                raise ScriptError(_msg_too_large(f"超过 {MEMORY_BUDGET // (1024 * 1024)} MB 内存的数据"
                                                 f"（more than {MEMORY_BUDGET // (1024 * 1024)} MB of memory）"),
                                  "too_large")
        return True

    return tick


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
        namespace: dict[str, Any] = dict(self.helpers)
        namespace.update(external_context or {})
        namespace.update(context)
        namespace.update(self._fixed)  # last: task data keys cannot replace a guard
        return self._run(compiled, namespace, eval)

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        compiled = _compile(script, "exec")
        compiled.raise_error()
        external_context = external_context or {}
        self._refuse_overwrites(context, external_context)
        injected = {**self.helpers, **external_context, **self._fixed}
        # A script that fails changes nothing: its partial writes (how far an endless loop got before the CPU
        # budget stopped it depends on the machine) would make the stored state differ from any replay.
        before = copy.deepcopy(context)
        context.update(injected)
        try:
            self._run(compiled, context, exec)
        except BaseException:
            context.clear()
            context.update(before)
            raise
        finally:
            for key in list(context):
                if key in injected or key in _RESERVED or callable(context[key]):
                    del context[key]
        return True

    def _run(self, compiled: _Compiled, namespace: dict[str, Any], run: Callable) -> Any:
        if compiled.budgeted:
            namespace["_tick_"] = _cpu_budget(self.cpu_seconds)
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

    def _refuse_overwrites(self, context: Mapping[str, Any], external_context: Mapping[str, Any]) -> None:
        clashes = sorted((set(self.helpers) | set(external_context) | _RESERVED).intersection(context))
        if clashes:
            names = ", ".join(clashes)
            raise ScriptError(f"任务数据中的字段 {names} 与脚本函数同名，请改名 (task data field(s) {names} would "
                              f"hide a predefined function; rename the field(s))", "conflict")


def make_script_engine(helpers: Mapping[str, Callable], cpu_seconds: float = 2.0) -> PythonScriptEngine:
    """A SpiffWorkflow script engine whose every script, condition, timer and DMN cell runs in the sandbox."""
    return PythonScriptEngine(environment=SandboxEnvironment(helpers, cpu_seconds=cpu_seconds))
