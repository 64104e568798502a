"""The adapters the composition root hands in have the shapes the ports name (engine/ports.py, infra/ports.py).

`runtime_checkable` checks that the members are there, not their signatures; the integration tests and features
run the adapters through the runtime and the deliverer.
"""
from __future__ import annotations

from datetime import timedelta

from engine import ports
from engine.calendar import CalendarService
from engine.clock import SettableClock, SystemClock
from engine.effects import notify
from engine.handlers import HandlerRegistry
from engine.journal import Sealer
from infra import ports as infra_ports
from infra.accounts import MembershipDirectory
from infra.delivery import Deliverer, templated_notify
from infra.upstream import HttpUpstream, refusal, signed_headers
from services import register_all
from services.notify_templates import TemplateCatalogue, TemplateProblem

CATALOGUE = {"t.yaml": "t:\n  name: 测试\n  versions:\n    1: {subject: '标题 {{ n }}', body: '正文 {{ n }}'}\n"}


def test_the_engines_adapters_fit_its_ports():
    assert isinstance(register_all(HandlerRegistry()), ports.Handlers)
    assert all(clock.now().tzinfo is not None for clock in (SystemClock(), SettableClock()))  # ports.Clock
    assert isinstance(Sealer("a secret key"), ports.Sealer)
    assert isinstance(CalendarService(lambda: None), ports.WorkingCalendars)
    assert isinstance(MembershipDirectory, ports.DirectoryFactory)
    assert isinstance(MembershipDirectory(None), ports.Directory)  # type: ignore[arg-type]
    catalogue = TemplateCatalogue.from_sources(CATALOGUE)
    assert isinstance(notify, ports.EffectSink) and isinstance(templated_notify(catalogue), ports.EffectSink)


def test_the_template_catalogue_fits_the_deliverers_port():
    catalogue = TemplateCatalogue.from_sources(CATALOGUE)
    assert isinstance(catalogue, infra_ports.MessageTemplates)
    rendered = catalogue.render("t", catalogue.latest("t"), {"n": 1})
    assert isinstance(rendered, infra_ports.RenderedMessage)
    assert (rendered.subject, rendered.body) == ("标题 1", "正文 1")
    # The deliverer tells a template's own problem (recorded as it is) from any other failure by this class.
    assert TemplateProblem is infra_ports.TemplateProblem
    Deliverer(lambda: None, SettableClock(), {}, catalogue)  # type: ignore[arg-type]  (builds without a database)


def test_the_upstream_adapter_fits_the_exchange_port_and_signs_the_body_with_its_timestamp():
    assert isinstance(HttpUpstream("https://upstream.example.cn/reports", "k"), infra_ports.UpstreamSystem)
    now = SettableClock().now()
    headers = signed_headers("k", b"{}", now)
    stamp, signature = headers["X-Lianxin-Timestamp"], headers["X-Lianxin-Signature"]
    assert refusal("k", b"{}", stamp, signature, now, 300) is None
    assert refusal("k", b"{ }", stamp, signature, now, 300) == "bad_signature"  # another body
    assert refusal("k", b"{}", str(int(stamp) + 1), signature, now, 300) == "bad_signature"  # another timestamp
    assert refusal("other", b"{}", stamp, signature, now, 300) == "bad_signature"
    assert refusal("", b"{}", stamp, signature, now, 300) == "bad_signature"  # no key configured: nothing passes
    assert refusal("k", b"{}", stamp, signature, now + timedelta(seconds=301), 300) == "stale"
