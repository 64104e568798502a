"""The registry that service tasks call into.

`services/` registers plain functions by operator name (the `spiffworkflow:serviceTaskOperator` id in BPMN).
A handler takes one typed input (a dataclass built from the task's parameters) and a `HandlerContext`, and
returns something JSON can hold. The runtime journals every call with its input and result, so that replay
can reuse recorded results instead of calling the outside world again.
"""
from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class HandlerContext:
    case_id: int
    element_id: str
    now: datetime
    actor: str
    data: Mapping[str, Any]  # the task data, each value a copy made when read (engine.scripting.CopiedOnRead)
    ports: dict[str, Any] = field(default_factory=dict)
    effects: list[tuple[str, dict]] = field(default_factory=list)

    def emit(self, kind: str, **payload: Any) -> None:
        """Ask for a side effect (a notification in the outbox, a row in a case register, ...). It is written
        in the same transaction as the step, and only if the step commits; handlers never write directly."""
        self.effects.append((kind, payload))


@dataclass
class Handler:
    name: str
    fn: Callable
    input_type: type | None
    description: str = ""

    def parameters(self) -> list[dict]:
        if self.input_type is None or not dataclasses.is_dataclass(self.input_type):
            return []
        hints = typing.get_type_hints(self.input_type)
        out = []
        for f in dataclasses.fields(self.input_type):
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            out.append({"name": f.name, "type": getattr(hints.get(f.name), "__name__", str(hints.get(f.name))),
                        "required": required})
        return out


class HandlerInputError(Exception):
    pass


class HandlerFailed(Exception):
    """A handler raised. Carries the handler's own message, which SpiffWorkflow 3.2.0 would hide."""

    def __init__(self, name: str, original: BaseException):
        self.handler = name
        self.original = original
        detail = str(original) or original.__class__.__name__
        super().__init__(f"处理程序 {name} 失败：{detail}（handler {name} failed: {detail}）")


class UnknownHandler(Exception):
    pass


class HandlerRegistry:
    def __init__(self):
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str, fn: Callable | None = None, *, description: str = ""):
        """Register `fn` under `name`; usable as a decorator. The input type is the first parameter's annotation."""

        def deco(func: Callable) -> Callable:
            if name in self._handlers:
                raise ValueError(f"handler {name!r} registered twice")
            params = list(inspect.signature(func).parameters.values())
            hints = typing.get_type_hints(func)
            input_type = hints.get(params[0].name) if params else None
            self._handlers[name] = Handler(name, func, input_type, description or (func.__doc__ or "").strip())
            return func

        return deco(fn) if fn is not None else deco

    def names(self) -> set[str]:
        return set(self._handlers)

    def get(self, name: str) -> Handler:
        try:
            return self._handlers[name]
        except KeyError:
            raise UnknownHandler(
                f"未注册的处理程序 {name}（unknown service handler {name}; registered: {', '.join(sorted(self._handlers))}）"
            ) from None

    def describe(self) -> list[dict]:
        return [{"name": h.name, "description": h.description, "parameters": h.parameters()}
                for h in sorted(self._handlers.values(), key=lambda h: h.name)]

    def call(self, name: str, params: dict[str, Any], ctx: HandlerContext) -> Any:
        handler = self.get(name)
        arg = self._build_input(handler, params)
        try:
            return handler.fn(arg, ctx)
        except (KeyboardInterrupt, SystemExit):
            raise  # the process is being stopped
        except BaseException as exc:  # the handler's own failure becomes an incident with its message
            # BaseException too: a GeneratorExit or a library's BaseException subclass would otherwise pass by
            # every `except Exception` and end the worker's or the request's process.
            raise HandlerFailed(name, exc) from exc

    @staticmethod
    def _build_input(handler: Handler, params: dict[str, Any]):
        if handler.input_type is None:
            return params
        if dataclasses.is_dataclass(handler.input_type):
            names = {f.name for f in dataclasses.fields(handler.input_type)}
            unknown = set(params) - names
            if unknown:
                raise HandlerInputError(
                    f"处理程序 {handler.name} 不接受参数 {', '.join(sorted(unknown))}"
                    f"（unknown parameters for {handler.name}; expected {', '.join(sorted(names))}）")
            try:
                return handler.input_type(**params)
            except TypeError as exc:
                raise HandlerInputError(f"处理程序 {handler.name} 的参数有误：{exc}（bad parameters）") from exc
        if handler.input_type is dict or handler.input_type is typing.Any:
            return params
        raise HandlerInputError(f"handler {handler.name}: unsupported input type {handler.input_type!r}")
