"""统计分析: KPIs, rankings, drill-down, annual data, frozen snapshots (pages.py, with its JSON; the read model is
services/stats_requests.py, which the CLI shares). Imports no other area."""
