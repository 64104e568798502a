"""WSGI entry point for production servers: `gunicorn -w 4 -b 127.0.0.1:8000 "web.wsgi:app"`."""
from .app import create_app

app = create_app()
