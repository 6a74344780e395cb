"""A rebuild's progress report, with a clock the test moves."""

from __future__ import annotations

import structlog

from hub.ops.rebuild import Progress


def test_progress_reports_the_rate_and_the_time_left_at_its_interval_and_at_the_end() -> None:
    now = [100.0]
    progress = Progress(every=10, clock=lambda: now[0])
    with structlog.testing.capture_logs() as logs:
        now[0] = 105.0
        progress(5_000, 100_000)  # inside the interval: quiet
        now[0] = 110.0
        progress(10_000, 100_000)
        now[0] = 150.0
        progress(100_000, 100_000)
    reports = [e for e in logs if e["event"] == "rebuild progress"]
    assert [(r["read"], r["per_second"], r["seconds_left"]) for r in reports] == [
        (10_000, 1_000, 90),
        (100_000, 2_000, 0),
    ]
    assert all(r["total"] == 100_000 for r in reports)
