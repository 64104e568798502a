"""What the infrastructure needs from outside, named here so that `infra` imports neither `services` nor `web`.

- `MessageTemplates`: the versioned notification templates the deliverer renders each outbox row with
  (`services.notify_templates.TemplateCatalogue` is the one the composition root hands in).
- `TemplateProblem`: what such a catalogue raises for a template that cannot be found or rendered; the
  deliverer records its message as the row's error as it is (other failures get their class name in front).
- A redactor (`infra.delivery.Redactor`): what delivery's log lines pass error texts through.
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
