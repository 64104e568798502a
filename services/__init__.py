"""Python handlers for BPMN service tasks, and the domain rules they need.

Import rule: `services` may import `engine` (its ports: `engine.handlers`, `engine.clock`, `engine.ports`; its
tables) and `infra` (`infra.accounts`, ...), never `web`. The petition domain's own tables are in `services.store`.
`register_all` is called once by the composition root (`web.bootstrap`).

Handlers read the organisation through `ctx.ports["organisation"]` when given (else `processes/organisation.yaml`)
and send notices through `ctx.ports["notifier"]` when given (else the journal is the outbox).
"""
from engine.handlers import HandlerRegistry


def register_all(registry: HandlerRegistry) -> HandlerRegistry:
    from . import (
        accountability,
        casework,
        escalation,
        four_lists,
        hearing,
        leadership,
        notify,
        routing,
        second_assignment,
        suggestions,
        supervision,
        urgent,
    )

    registry.register("choose_unit", routing.choose_unit)
    registry.register("remind", routing.remind)
    # 信访事项办理 (petition_case)
    registry.register("issue_case_number", casework.issue_case_number)
    registry.register("resolve_responsible_unit", casework.resolve_responsible_unit)
    registry.register("dispatch_case", casework.dispatch_case)
    registry.register("second_assign", second_assignment.second_assign)
    registry.register("route_out", casework.route_out)
    registry.register("merge_repeat", casework.merge_repeat)
    registry.register("not_accepted", casework.not_accepted)
    registry.register("send_back_skip_level", casework.send_back_skip_level)
    registry.register("review_body", casework.review_body)
    registry.register("hearing_days", hearing.hearing_days)
    registry.register("notify", notify.notify)
    registry.register("supervise", supervision.supervise)
    # 督办书面反馈、挂牌督办、摘牌 (supervision_feedback)
    registry.register("file_supervision_feedback", supervision.file_feedback)
    registry.register("list_supervision", supervision.list_supervision)
    registry.register("delist_supervision", supervision.delist_supervision)
    registry.register("record_list_entry", four_lists.record_list_entry)
    # 问责书面反馈、催报、逾期报上一级督办 (accountability_feedback)
    registry.register("file_accountability_feedback", accountability.file_feedback)
    registry.register("remind_accountability", accountability.remind)
    registry.register("escalate_accountability", accountability.escalate)
    # 13710 领导包案 (leader_13710)
    registry.register("case_owner_scope", leadership.case_owner_scope)
    registry.register("name_case_owner", leadership.name_case_owner)
    # 逐级上交 (escalation_tier)
    registry.register("escalate", escalation.escalate)
    registry.register("pass_down", escalation.pass_down)
    registry.register("escalation_open", escalation.escalation_open)
    # 人民建议征集 (suggestion)
    registry.register("conclude_suggestion", suggestions.conclude_suggestion)
    # 重大紧急事项报告 (urgent_report)
    registry.register("open_urgent", urgent.open_urgent)
    registry.register("record_urgent_report", urgent.record_report)
    registry.register("remind_urgent", urgent.remind)
    return registry
