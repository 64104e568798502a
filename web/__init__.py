"""The delivery layer: composition root (`bootstrap`), command line (`cli`), Flask app and its JSON API.

Import rule: `web` may import `engine` and `services`; nothing imports `web` (except tests and features).
Views parse the request, call the runtime or a service, and render; business rules live below.
One package per area (desk, casepage, audit, stats, designer, calendar, public, admin, cli); areas do not import
each other; what they share is in `http` and the other modules at this level (see web/README.md).
"""
