"""The benchmark command still runs end to end (at its quick sizes); its figures are not judged here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(1500)]


def test_quick_benchmarks_run_every_scenario_and_write_the_table(kafka: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    postgres = os.environ.get("HUB_TEST_POSTGRES_URL")  # the PostgreSQL lane also runs the latency scenarios on it
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--out",
            str(out),
            *(["--postgres", postgres] if postgres else []),
        ],
        env=dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka),
        capture_output=True,
        text=True,
        timeout=1400,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(out.read_text())
    figures = report["figures"]
    assert {f["scenario"] for f in figures} == {
        "router throughput",
        "end-to-end latency",
        "delivery",
        "delivery-split",
        "FHIR ingest",
        "replay",
        "CSV import",
        "memory",
        "national",
    }
    assert all(f["peak_rss_mib"] > 0 for f in figures)
    # A backlog may be empty, and with intake apart the copy may be out before the 202 is back.
    assert all(f["hub"] > 0 for f in figures if f["unit"] not in ("records", "ms"))
    latencies = [f for f in figures if f["scenario"] == "end-to-end latency"]
    assert len(latencies) == (12 if postgres else 6) and all(f["hub"] >= 0 for f in latencies)
    assert sum("two processes" in f["measure"] for f in latencies) == (2 if postgres else 1)
    assert sum("PostgreSQL" in f["measure"] for f in latencies) == (6 if postgres else 0)
    assert all(f["ratio"] > 0 for f in figures if f["baseline"] is not None)
    scaling = [f for f in figures if f["detail"].get("processes")]
    assert sorted(f["detail"]["processes"] for f in scaling) == [2, 4]
    assert report["machine"]["cores"] >= 1
    assert "| router throughput |" in run.stdout
