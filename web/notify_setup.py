"""Wiring of notifications from the settings: templates, channels, the deliverer. Called by the worker, the CLI
and the web app; nothing is built at import time and no connection is opened until a message is sent.

- `LIANXIN_SMTP_URL` unset → no e-mail channel; `LIANXIN_SMS_GATEWAY_URL` unset → no SMS channel;
  `LIANXIN_EXCHANGE_UPSTREAM_URL` or `LIANXIN_EXCHANGE_KEY` unset → no reports to the upstream system. Rows for an
  absent channel wait in the outbox with a `last_error` naming the variable to set, and go out once it is set.
- Templates are `processes/templates/*.yaml` (`Settings.processes_dir`), loaded once per container.
"""
from __future__ import annotations

from infra.channels import Channel, InAppChannel, SmsGatewayChannel, SmtpChannel
from infra.delivery import Deliverer
from infra.upstream import HttpUpstream
from services import masking, parties
from services.notify_templates import TemplateCatalogue

from .settings import Settings

MISSING_HINTS = {
    "email": "未配置邮件渠道：请设置 LIANXIN_SMTP_URL，通知将在配置后发送"
             "（e-mail channel not configured: set LIANXIN_SMTP_URL; the notification waits until then）",
    "sms": "未配置短信渠道：请设置 LIANXIN_SMS_GATEWAY_URL，通知将在配置后发送"
           "（SMS channel not configured: set LIANXIN_SMS_GATEWAY_URL; the notification waits until then）",
    "upstream": "未配置上级信访信息系统：请设置 LIANXIN_EXCHANGE_UPSTREAM_URL 和 LIANXIN_EXCHANGE_KEY，办理情况将在配置后上报"
                "（upstream system not configured: set LIANXIN_EXCHANGE_UPSTREAM_URL and LIANXIN_EXCHANGE_KEY）",
}


def templates_of(container) -> TemplateCatalogue:
    catalogue = container.extras.get("notification_templates")
    if catalogue is None:
        catalogue = TemplateCatalogue.load(container.settings.processes_dir / "templates")
        container.extras["notification_templates"] = catalogue
    return catalogue


def build_channels(settings: Settings) -> dict[str, Channel]:
    channels: dict[str, Channel] = {"inapp": InAppChannel()}
    if settings.smtp_url:
        channels["email"] = SmtpChannel(settings.smtp_url)
    if settings.sms_gateway_url:
        channels["sms"] = SmsGatewayChannel.from_url(settings.sms_gateway_url)
    if settings.exchange_upstream_url and settings.exchange_key:  # reports to the upstream system (docs/exchange.md)
        channels["upstream"] = HttpUpstream(settings.exchange_upstream_url, settings.exchange_key)
    return channels


def sms_channel(settings: Settings) -> SmsGatewayChannel | None:
    return SmsGatewayChannel.from_url(settings.sms_gateway_url) if settings.sms_gateway_url else None


def _party_address(container):
    """Opens `party:<ref>` recipients (services/parties.py) at the moment of sending; others pass as they are."""
    vault = container.extras.get("vault")

    def address(recipient: str) -> str | None:
        if vault is None or not recipient.startswith(parties.RECIPIENT_PREFIX):
            return recipient
        with container.session_factory() as s:
            return parties.contact_phone(s, vault, recipient)

    return address


def build_deliverer(container, **options) -> Deliverer:
    """The deliverer for this container's database, clock and settings (`options` go to `Deliverer`)."""
    options.setdefault("missing_channel_hints", MISSING_HINTS)
    options.setdefault("redact", masking.mask_contact_text)
    options.setdefault("address", _party_address(container))
    return Deliverer(container.session_factory, container.clock, build_channels(container.settings),
                     templates_of(container), **options)
