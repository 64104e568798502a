"""Python handlers for BPMN service tasks, and the domain rules they need.

Import rule: `services` may import `engine` ports (`engine.handlers`, `engine.accounts`, `engine.clock`),
never `web`. `register_all` is called once by the composition root (`web.bootstrap`).
"""
from engine.handlers import HandlerRegistry


def register_all(registry: HandlerRegistry) -> HandlerRegistry:
    from . import routing

    registry.register("choose_unit", routing.choose_unit)
    registry.register("remind", routing.remind)
    return registry
