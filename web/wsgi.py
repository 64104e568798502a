"""WSGI entry point for production servers: `gunicorn -c docs/deploy/gunicorn.conf.py "web.wsgi:app"`
(proxy and HTTPS settings: `web.deployment`)."""
from .app import create_app
from .deployment import for_deployment

app = for_deployment(create_app())
