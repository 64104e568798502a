"""gunicorn settings for Lianxin (README, 部署与运维): `gunicorn -c docs/deploy/gunicorn.conf.py web.wsgi:app`.

Every value can be changed through the environment without editing this file.
"""
import multiprocessing
import os

bind = os.environ.get("LIANXIN_BIND", "127.0.0.1:8000")  # only the reverse proxy talks to gunicorn
workers = int(os.environ.get("LIANXIN_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("LIANXIN_WEB_THREADS", "4"))  # threads wait on PostgreSQL while others compute
timeout = 60  # a step runs scripts with a CPU budget of 2 s; anything near a minute is a hung worker
graceful_timeout = 30  # on restart, requests in flight may finish
keepalive = 5
max_requests = 5000  # recycle workers now and then; the jitter keeps them from restarting together
max_requests_jitter = 500
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
# Do not preload: each worker opens its own database pool after the fork.
preload_app = False
