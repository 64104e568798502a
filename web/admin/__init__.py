"""Administration: in-app notifications, the outbox and notification templates, the SMS delivery reports
(notifications.py), the outbox page /admin/outbox (outbox_page.py), the clock (api.py). Imports no other area."""
