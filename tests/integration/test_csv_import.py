"""CSV batch import over HTTP: good rows in, bad rows reported precisely, re-import changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.common import peak_rss_mib
from tests.helpers import eventually, nhs_number
from tests.integration.ehc_world import ehc_world

pytestmark = pytest.mark.kafka

HEADER = (
    "case_id,la_code,received_date,requested_by,nhs_number,upn,la_person_id,"
    "given_name,family_name,date_of_birth,year_group"
)
BAD_ROWS = {  # row index -> (column, rule, how the row is broken)
    5: ("nhs_number", "nhs-number-modulus-11", {"nhs_number": "9434765918"}),
    77: ("case_id", "required", {"case_id": ""}),
    140: ("received_date", "date", {"received_date": "31/02/2026"}),
    600: ("requested_by", "requester", {"requested_by": "neighbour"}),
    1234: ("la_code", "la-code-format", {"la_code": "99"}),
    2000: ("upn", "upn-check-letter", {"upn": "Z801200001001"}),
    4321: ("year_group", "integer", {"year_group": "nine"}),
}


def _row(i: int, **override: str) -> str:
    values = {
        "case_id": f"CSV-{i:05d}",
        "la_code": "202",
        "received_date": "05/01/2026",
        "requested_by": "parent",
        "nhs_number": nhs_number(i),
        "upn": "",
        "la_person_id": f"P{i}",
        "given_name": "Sam",
        "family_name": "Jones",
        "date_of_birth": "2015-09-01",
        "year_group": "5",
    }
    values.update(override)
    return ",".join(values[c] for c in HEADER.split(","))


def _file() -> tuple[str, dict[int, tuple[str, str]]]:
    """10,000 rows, 37 of them bad: the seven kinds above, repeated at spread-out positions."""
    bad_at: dict[int, tuple[str, str]] = {}
    kinds = list(BAD_ROWS.values())
    positions = sorted({(k * 263 + 5) % 10_000 for k in range(37)})
    assert len(positions) == 37
    lines = [HEADER]
    for i in range(10_000):
        if i in positions:
            column, rule, broken = kinds[positions.index(i) % len(kinds)]
            lines.append(_row(i, **broken))
            bad_at[i + 2] = (column, rule)  # line 1 is the header
        else:
            lines.append(_row(i))
    return "\n".join(lines) + "\n", bad_at


async def test_ten_thousand_rows_with_37_bad(kafka: str, sqlite_url: str) -> None:
    text, bad_at = _file()
    async with ehc_world(kafka, sqlite_url) as world:
        response = await world.client.post(
            "/api/v1/imports/assessment-requests", content=text.encode(), headers={"content-type": "text/csv"}
        )
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["rows"], report["imported"], report["rejected"]) == (10_000, 9_963, 37)
        assert {p["line"]: (p["field"], p["rule"]) for p in report["problems"]} == bad_at
        assert all(p["message"] for p in report["problems"])

        async def all_applied() -> bool:
            return (await world.runtime.store.counts())["cases"] == 9_963

        await eventually(all_applied, timeout=180)
        before = await world.runtime.store.snapshot()
        again = (
            await world.client.post(
                "/api/v1/imports/assessment-requests", content=text.encode(), headers={"content-type": "text/csv"}
            )
        ).json()
        assert (again["imported"], again["unchanged"], again["rejected"]) == (0, 9_963, 37)
        assert await world.runtime.store.snapshot() == before

        csv = {"content-type": "text/csv"}
        unknown = await world.client.post("/api/v1/imports/nonsense", content=b"a,b\n1,2\n", headers=csv)
        assert unknown.status_code == 404 and "assessment-requests" in unknown.json()["kinds"]
        untyped = await world.client.post("/api/v1/imports/assessment-requests", content=text.encode()[:500])
        assert untyped.status_code == 415, "a file must say it is CSV"

        # Rows for another council are refused one by one; the caller's own rows go ahead.
        other_la = text.replace(",202,", ",208,", 3)
        mixed = await world.client.post(
            "/api/v1/imports/assessment-requests",
            content=other_la.encode(),
            headers={**csv, "X-Test-As": "la-202"},
        )
        refused = [p for p in mixed.json()["problems"] if p["rule"] == "sender-authority"]
        assert len(refused) == 3 and all("208" in p["message"] for p in refused)


async def test_hostile_rows_are_reported_by_line_and_the_report_is_safe_in_a_spreadsheet(
    kafka: str, sqlite_url: str
) -> None:
    lines = [HEADER, _row(1), _row(2, given_name="=cmd|' /C calc'!A0"), _row(3), _row(4, family_name="x" * 40_000_000)]
    lines += [_row(5, given_name="@SUM(A1)"), _row(6, year_group="-1"), _row(7)]
    text = "\n".join(lines) + "\n"
    async with ehc_world(kafka, sqlite_url) as world:
        answer = await world.client.post(
            "/api/v1/imports/assessment-requests",
            content=text.encode(),
            headers={"content-type": "text/csv", "Prefer": "respond-async"},
        )
        assert answer.status_code == 202, answer.text
        job = answer.headers["location"]

        async def finished() -> bool:
            return (await world.client.get(job)).json()["state"] == "done"

        await eventually(finished, timeout=60)
        summary = (await world.client.get(job)).json()
        assert summary["bytes_read"] == summary["bytes"] == len(text.encode())
        problems = {p["line"]: (p["field"], p["rule"]) for p in summary["problems"]}
        assert problems == {
            3: ("given_name", "formula"),
            5: ("(row)", "line-size"),
            6: ("given_name", "formula"),
        }, summary["problems"]  # -1 on line 7 is a plain number, not a formula
        assert (summary["rows"], summary["imported"], summary["rejected"]) == (7, 4, 3)
        report = await world.client.get(summary["report"])
        assert report.headers["content-type"].startswith("text/csv")
        assert report.text.splitlines()[0] == "line,field,rule,message"
        assert len(report.text.splitlines()) == 4
        assert not any(
            cell.startswith(("=", "+", "@", "-")) for row in report.text.splitlines() for cell in row.split(",")
        )
        async with world.as_("la-208") as other:
            assert (await other.get(job)).status_code == 404, "another council cannot follow this council's job"
        assert (await world.client.get("/healthz")).status_code == 200


def _probe_health(base_url: str, stop: threading.Event) -> list[tuple[int, float]]:
    """Poll /healthz from a thread of its own, as an orchestrator's probe would from outside: what
    is timed is the hub's answer, not the test's own turn on the event loop."""
    answers = []
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while not stop.is_set():
            started = time.perf_counter()
            status = client.get("/healthz").status_code
            answers.append((status, time.perf_counter() - started))
            stop.wait(0.05)
    return answers


async def test_a_large_import_keeps_memory_flat_and_the_hub_responsive(kafka: str, sqlite_url: str) -> None:
    rows = 30_000
    text = ("\n".join([HEADER, *(_row(i) for i in range(rows))]) + "\n").encode()
    async with ehc_world(kafka, sqlite_url) as world:
        before = peak_rss_mib(os.getpid())
        stop = threading.Event()
        probe = asyncio.ensure_future(asyncio.to_thread(_probe_health, str(world.client.base_url), stop))
        answer = await world.client.post(
            "/api/v1/imports/assessment-requests",
            content=text,
            headers={"content-type": "text/csv", "Prefer": "respond-async"},
        )
        job = answer.headers["location"]

        async def finished() -> bool:
            return (await world.client.get(job)).json()["state"] not in ("receiving", "running")

        await eventually(finished, timeout=300, interval=0.1)
        stop.set()
        answers = await probe
        progress = (await world.client.get(job)).json()
        assert progress["state"] == "done" and progress["imported"] == rows, progress
        assert len(answers) > 20 and {status for status, _ in answers} == {200}, answers
        slowest = max(took for _, took in answers)
        assert slowest < 0.2, f"/healthz took {slowest:.3f} s during the import"
        assert peak_rss_mib(os.getpid()) - before < 200, "memory grew with the file"


async def test_hub_import_follows_the_job_and_saves_the_problems(kafka: str, sqlite_url: str, tmp_path: Path) -> None:
    lines = [HEADER, *(_row(i) for i in range(50)), _row(50, la_code="99")]
    path = tmp_path / "requests.csv"
    path.write_text("\n".join(lines) + "\n")
    async with ehc_world(kafka, sqlite_url) as world:
        command = [
            str(Path(sys.executable).with_name("hub")),
            "import",
            str(path),
            "--kind",
            "assessment-requests",
            "--client-id",
            "la-202",
            "--url",
            str(world.client.base_url),
        ]
        ran = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr[-2000:]
        result = json.loads(ran.stdout)
        assert (result["state"], result["rows"], result["imported"], result["rejected"]) == ("done", 51, 50, 1)
        problems = (tmp_path / "requests.problems.csv").read_text().splitlines()
        assert problems[0] == "line,field,rule,message" and problems[1].startswith("52,la_code,la-code-format")
        assert "importing requests.csv" in ran.stderr
