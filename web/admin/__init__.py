"""Administration: in-app notifications, the outbox and notification templates, the SMS delivery reports
(notifications.py), the clock (api.py). Imports no other area."""
