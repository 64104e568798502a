"""Notification channels: in-app, e-mail over SMTP, SMS through an HTTP gateway.

Each channel has `send(message) -> provider_id` and raises `ChannelError` (or any exception) when the message
was not accepted; the deliverer retries with backoff. Every send carries the outbox row's idempotency key, so a
retry after a crash is recognisable: the SMS gateway de-duplicates on it, e-mail carries it as a stable
`Message-ID`. Nothing here reads the clock: the message carries the deliverer's instant.

The SMS gateway contract (ours; a gateway adapter implements it):
- request: `POST <url>` with JSON `{"to", "text", "sender", "idempotency_key"}`, headers `Idempotency-Key` and
  `X-Lianxin-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>`;
- a repeated idempotency key sends nothing new and answers like the first time;
- any 2xx is accepted, with JSON `{"id": "<provider message id>"}`; anything else is a failure;
- status callback: `POST /api/sms/status` with JSON `{"idempotency_key", "id", "status": "delivered"|"failed",
  "at", "error"}`, signed the same way.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

from engine.clock import SHANGHAI

SIGNATURE_HEADER = "X-Lianxin-Signature"
MAX_RESPONSE_BYTES = 64 * 1024


class ChannelError(Exception):
    """The channel did not accept the message. The message is kept as the outbox row's last error."""


class ChannelConfigError(ValueError):
    """A channel URL that cannot work: refused when the worker starts, not at the first message."""


@dataclass(frozen=True)
class Message:
    outbox_id: int
    idempotency_key: str
    channel: str
    recipient: str
    subject: str
    body: str
    sms_text: str
    template: str
    template_version: int
    now: datetime
    data: dict | None = None  # the row's payload as data, for channels that send data rather than text (upstream)


class Channel(Protocol):
    def send(self, message: Message) -> str:
        """Deliver or hand over the message; return the provider's id for it."""


class InAppChannel:
    """In-app notifications are the outbox rows themselves: delivering one only marks it sent."""

    def send(self, message: Message) -> str:
        return f"inapp:{message.outbox_id}"


# ---------------------------------------------------------------- e-mail

class SmtpChannel:
    """`smtp://user:pass@host:port?starttls=1&from=addr&timeout=10`, or `smtps://` for TLS from the start.
    User and password are URL-encoded; `from` may carry a display name (`连心信访 <noreply@x.cn>`, encoded)."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ChannelConfigError("邮件地址必须以 smtp:// 或 smtps:// 开头（SMTP URL scheme must be smtp or smtps）")
        if not parts.hostname:
            raise ChannelConfigError("邮件地址缺少主机名（SMTP URL needs a host）")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", "0") in ("1", "true", "yes")
        self.timeout = float(query.get("timeout", "10"))
        self.sender = query.get("from", "")
        address = parseaddr(self.sender)[1]
        if "@" not in address:
            raise ChannelConfigError("邮件地址需要 from=发件地址（SMTP URL needs ?from=sender@domain）")
        self.sender_domain = address.rsplit("@", 1)[1]

    def message_id(self, idempotency_key: str) -> str:
        return f"<{idempotency_key}@{self.sender_domain}>"

    def compose(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(message.now.astimezone(SHANGHAI))
        mail["Message-ID"] = self.message_id(message.idempotency_key)
        mail["X-Lianxin-Idempotency-Key"] = message.idempotency_key
        mail.set_content(message.body)
        return mail

    def send(self, message: Message) -> str:
        mail = self.compose(message)
        try:
            if self.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"邮件服务器未接收（SMTP server did not accept the message）："
                               f"{exc.__class__.__name__}: {exc}") from exc
        return mail["Message-ID"]


# ---------------------------------------------------------------- SMS

def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(sign(secret, body), header.strip())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would be replayed as a GET without its body and look like success.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class SmsGatewayChannel:
    def __init__(self, url: str, sender: str, signature: str, secret: str, timeout: float = 10.0):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ChannelConfigError("短信网关地址必须是 http:// 或 https:// 地址（SMS gateway URL must be http(s)）")
        if not signature or not secret:
            raise ChannelConfigError("短信网关需要 signature（短信签名）和 secret（共享密钥）"
                                     "（the SMS gateway needs a signature and a shared secret）")
        self.url, self.sender, self.signature, self.secret, self.timeout = url, sender, signature, secret, timeout
        # No proxies from the environment and no redirects: the gateway is addressed exactly as configured.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    @classmethod
    def from_url(cls, url: str) -> SmsGatewayChannel:
        """`https://gw.example.cn/v1/sms?sender=106900&signature=连心信访&secret=S&timeout=10`: the settings
        are taken out of the query; whatever else the query holds is sent on to the gateway."""
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True)
        settings = {k: query.pop(k)[-1] for k in ("sender", "signature", "secret", "timeout") if k in query}
        endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, doseq=True), ""))
        return cls(endpoint, settings.get("sender", ""), settings.get("signature", ""), settings.get("secret", ""),
                   float(settings.get("timeout", "10")))

    def text_of(self, message: Message) -> str:
        return f"【{self.signature}】{message.sms_text}"

    def request_body(self, message: Message) -> bytes:
        return json.dumps({"to": message.recipient, "text": self.text_of(message), "sender": self.sender,
                           "idempotency_key": message.idempotency_key}, ensure_ascii=False).encode("utf-8")

    def send(self, message: Message) -> str:
        body = self.request_body(message)
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.idempotency_key,
            SIGNATURE_HEADER: sign(self.secret, body),
        })
        return post_for_id(self._opener, request, self.timeout, ("短信网关", "SMS gateway"))


def post_for_id(opener, request: urllib.request.Request, timeout: float, who: tuple[str, str]) -> str:
    """Send an HTTP POST and return the `id` of the JSON answer ("" when there is none). Refusals and network
    errors become `ChannelError` naming `who` (Chinese, English): the worker retries them, then dead-letters."""
    zh, en = who
    try:
        with opener.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        try:
            excerpt = exc.read(500).decode("utf-8", "replace") if exc.fp else ""
        finally:
            exc.close()
        raise ChannelError(f"{zh}拒绝（{en} refused）：HTTP {exc.code} {excerpt}".strip()) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ChannelError(f"{zh}不可达（{en} unreachable）：{getattr(exc, 'reason', exc)}") from exc
    if not 200 <= status < 300:
        raise ChannelError(f"{zh}拒绝（{en} refused）：HTTP {status}")
    try:
        answer = json.loads(raw.decode("utf-8")) if raw else {}
    except ValueError:
        answer = {}
    found = answer.get("id") if isinstance(answer, dict) else None
    return str(found) if found else ""
