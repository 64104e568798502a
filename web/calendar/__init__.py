"""The working-day calendar: its admin pages and its JSON (pages.py). Imports no other area."""
