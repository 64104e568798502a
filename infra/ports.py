"""What the infrastructure needs from outside, named here so that `infra` imports neither `services` nor `web`.

- `MessageTemplates`: the versioned notification templates the deliverer renders each outbox row with
  (`services.notify_templates.TemplateCatalogue` is the one the composition root hands in).
- `TemplateProblem`: what such a catalogue raises for a template that cannot be found or rendered; the
  deliverer records its message as the row's error as it is (other failures get their class name in front).
- A redactor (`infra.delivery.Redactor`): what delivery's log lines pass error texts through.
- `UpstreamSystem`: the upstream petition information system the office's status reports go to
  (`infra.upstream.HttpUpstream`; docs/exchange.md).
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class TemplateProblem(Exception):
    """A template that cannot be loaded or rendered. The message says which one and why, in Chinese first."""


@runtime_checkable
class RenderedMessage(Protocol):
    subject: str
    body: str
    sms: str


@runtime_checkable
class MessageTemplates(Protocol):
    def latest(self, template: str) -> int:
        """The newest version of a template (raises `TemplateProblem` for an unknown one)."""
        ...

    def get(self, template: str, version: int) -> Any:
        """One version of a template (raises `TemplateProblem` when there is no such version)."""
        ...

    def render(self, template: str, version: int, data: dict[str, Any]) -> RenderedMessage:
        ...


@runtime_checkable
class UpstreamSystem(Protocol):
    """The upstream petition information system (信访信息系统) as the office reports to it: one status report of
    a matter it transferred or assigned (docs/exchange.md, “Reports”), with the outbox row's idempotency key, so
    that a repeat after a crash is recognised. Returns the upstream's receipt id; raises when not accepted (the
    deliverer retries with backoff). `infra.upstream.HttpUpstream` is the documented implementation; matters
    coming in are the other half of the exchange (services/exchange.py)."""

    def report(self, report: dict[str, Any], idempotency_key: str, now: Any) -> str:
        ...
