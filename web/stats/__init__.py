"""统计分析: KPIs, rankings, drill-down, annual data, frozen snapshots (pages.py, with its JSON); the read model the
pages and the CLI share (report.py). Imports no other area."""
