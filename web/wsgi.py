"""WSGI entry point for production servers: `gunicorn -c docs/deploy/gunicorn.conf.py "web.wsgi:app"`
(proxy and HTTPS settings: `web.deployment`)."""
import gc

from .app import create_app
from .deployment import for_deployment

app = for_deployment(create_app())

# The ~150,000 objects of the loaded application live as long as the worker: move them out of the cyclic
# collector's sight, so that its full collections (measured 80 ms with them, every few hundred requests, pausing
# every thread of the worker) only look at what requests leave behind.
gc.collect()
gc.freeze()
