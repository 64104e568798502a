"""Process design and deployment: the designer pages and their JSON (pages.py), importing foreign files and the
lane table (imports.py, routes on the same blueprint), deploying files and starting a process through /api
(api.py). Imports no other area."""
from . import imports as imports, pages as pages  # imports.py adds its routes to pages.bp
