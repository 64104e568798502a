"""The inbox (收件箱): each user's in-app notices on the page /inbox and in the JSON API /api/inbox (the read
model is services/inbox.py). Imports no other area."""
