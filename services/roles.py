"""The roles a user may hold (processes/organisation.yaml gives them to users in units) and their labels.

One home for the list: the pages show the labels, the designer offers them, and deployment maps a lane's name
or a task's potentialOwner to a role by its code or its label (`services.lane_roles.catalogue`).
"""
from __future__ import annotations

ROLE_LABELS = {
    "registrar": "登记员", "unit_handler": "承办人", "county_office": "县信访局", "leader": "包案领导",
    "bureau": "市信访局", "jointmeeting": "联席办", "review_body": "复查复核机关", "designer": "流程设计员",
    "auditor": "审计员", "admin": "系统管理员",
}

# Not a role anyone holds: a work item asking for it is the unit's own work, done by whoever holds a working role
# directly in the unit, or by its head (a leader over it): the written feedback a supervised unit owes
# (processes/supervision_feedback.bpmn). web/visibility.py applies it.
UNIT_OR_HEAD = "unit_or_head"
