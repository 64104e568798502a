"""What the public reaches without signing in: the progress query (page and JSON) and the SMS gateway's inbound
messages (pages.py). Imports no other area."""
