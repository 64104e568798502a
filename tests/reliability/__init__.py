"""Reliability, security and scale: real gunicorn and worker processes, crashes, hostile input, access matrix."""
