"""`python -m web.cli ...`: the same as `lianxin ...`."""
from .main import main

main()
