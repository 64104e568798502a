"""The delivery layer: composition root (`bootstrap`), command line (`cli`), Flask app and its JSON API.

Import rule: `web` may import `engine` and `services`; nothing imports `web` (except tests and features).
Views parse the request, call the runtime or a service, and render; business rules live below.
"""
