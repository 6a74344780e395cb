"""Schemathesis against the authenticated API, once per kind of caller, with every check it has:
whatever it sends, the hub answers without a server error.

The CI lane runs a few examples per operation; ``HUB_TEST_FUZZ_EXAMPLES=200 scripts/test
tests/integration/test_fuzz.py`` runs it larger (see README)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.identity import Tokens
from tests.integration.ehc_world import ehc_world

pytestmark = pytest.mark.kafka
SERVER_STATUS = re.compile(r"\[5\d\d\]")  # how schemathesis shows the status of the response it judged
EXAMPLES = int(os.environ.get("HUB_TEST_FUZZ_EXAMPLES", "3"))
CALLERS = ("la-202", "school-100001", "nhs-rbs", "csc-202", "asc-202", "ops-monitor")


def _failures(junit: Path) -> list[str]:
    found = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        for failure in [*case.iter("failure"), *case.iter("error")]:
            found.append(f"{case.get('name')}: {failure.get('message') or ''} {failure.text or ''}")
    return found


async def test_no_caller_can_make_the_hub_fail_with_a_server_error(
    kafka: str, sqlite_url: str, tokens: Tokens, tmp_path: Path
) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        base = str(world.client.base_url)
        schema = tmp_path / "openapi.json"
        schema.write_text(json.dumps((await world.client.get("/openapi.json")).json()))
        server_errors: dict[str, list[str]] = {}
        ran = 0
        for client_id in CALLERS:
            junit = tmp_path / f"{client_id}.xml"
            command = [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                str(schema),
                "--url",
                base,
                "--header",
                f"Authorization: Bearer {await tokens.token(client_id)}",
                "--checks",
                "all",
                "--max-examples",
                str(EXAMPLES),
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                "20261126",
                "--request-timeout",
                "30",
                "--report",
                "junit",
                "--report-junit-path",
                str(junit),
                "--warnings",
                "off",
            ]
            result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=900)
            assert junit.exists(), result.stdout[-3000:] + result.stderr[-3000:]
            ran += sum(1 for _ in ElementTree.parse(junit).getroot().iter("testcase"))
            errors = [f for f in _failures(junit) if "Server error" in f or SERVER_STATUS.search(f)]
            if errors:
                server_errors[client_id] = errors
        assert ran > 30 * len(CALLERS) / 2, "schemathesis exercised the operations"
        assert not server_errors, json.dumps(server_errors, indent=2)[:6000]
