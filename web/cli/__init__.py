"""The command line `lianxin` (web/cli/main.py): one module per command group. Commands import what they need
when they run, so `lianxin --help` builds no app and opens no database."""
