"""Process design and deployment: the designer pages and their JSON (pages.py), deploying files and starting a
process through /api (api.py). Imports no other area."""
