"""Quality and load tooling (SPEC §5): pure logic shared by the CLI and the analytics jobs.

The prompt regression suite: golden.py (the golden set), scoring.py (SPEC §3's composite score of one answer),
suite.py (runs the set through any `answer` function, pass^K), baseline.py (the pinned scores),
regression.py (relative drops and severities), report.py and chart.py (what people, CI and the optimizer read).
"""
