"""The dashboard in a real headless browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.devtools.keycloak_local import DEPLOY
from tests.helpers import eventually, producer
from tests.integration.ehc_world import World, ehc_world, request_body
from tests.servers import serving

pytestmark = pytest.mark.kafka
CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@asynccontextmanager
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


PASSWORDS = json.loads((DEPLOY / "dev-credentials.json").read_text())["people"]


async def signed_in(chromium: Any, base: str, username: str) -> Any:
    """A fresh browser profile, signed in through Keycloak's own login page."""
    page = await (await chromium.new_context()).new_page()
    await page.goto(base + "/")
    await page.wait_for_selector("#username")  # redirected to the identity provider
    await page.fill("#username", username)
    await page.fill("#password", PASSWORDS[username])
    await page.click("#kc-login")
    await page.wait_for_url(base + "/")
    return page


async def _seed(world: World) -> dict[str, Any]:
    body = request_body("D-1", 31)
    await world.wait_applied((await world.post("/api/v1/assessment-requests", body))["id"])
    async with producer(world.kafka) as p:
        await p.send_and_wait(world.runtime.names.physical("ehc.plans.v1"), b"{broken", key=b"D-1")

    async def dead() -> bool:
        return bool(await world.runtime.store.dead_letters())

    await eventually(dead)
    return body["person"]


async def _audits(world: World, action: str) -> list[dict[str, Any]]:
    return [r for r in (await world.runtime.store.snapshot())["ops_audit"] if r["action"] == action]


async def test_people_sign_in_and_see_what_their_role_allows(kafka: str, sqlite_url: str, tmp_path: Any) -> None:
    async with ehc_world(kafka, sqlite_url) as world, browser() as chromium:
        person = await _seed(world)
        world.set_today(date(2026, 2, 20))  # the request of 5 January is past its six weeks for a decision
        base = str(world.client.base_url)

        viewer = await signed_in(chromium, base, "vera.viewer")
        await viewer.wait_for_selector("#cases td:has-text('D-1')")
        await viewer.wait_for_selector("#dead td:has-text('validate')")
        await viewer.wait_for_selector("#recipients tr:has-text('school:100001'):has-text('webhook')")
        await viewer.wait_for_selector("#clocks tr:has-text('D-1'):has-text('decision'):has-text('overdue')")
        assert "role: viewer" in await viewer.inner_text("header")
        assert "Vera Viewer" in await viewer.inner_text("header")
        text = await viewer.inner_text("main")
        for secret in (person["nhs_number"], person["family_name"], person["date_of_birth"]):
            assert secret not in text, f"a viewer must not see {secret!r}"
        assert "•••" in text
        assert await viewer.locator("#dead button").count() == 0, "viewers cannot redrive"
        assert not await viewer.is_visible("#sar"), "subject access is for the data protection officer"
        await viewer.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
        assert not await _audits(world, "read-personal-data"), "masked reads are not audited as disclosures"

        operator = await signed_in(chromium, base, "oscar.operator")
        await operator.wait_for_selector("header:has-text('role: operator')")
        assert person["nhs_number"] not in await operator.inner_text("main"), "operators work on flows, not people"
        await operator.click("#dead button")
        await operator.wait_for_selector("#status:has-text('redriven')")
        [redrive] = await _audits(world, "redrive")
        assert redrive["actor"].startswith("Oscar Operator <"), redrive["actor"]

        admin = await signed_in(chromium, base, "ada.admin")
        await admin.wait_for_selector("header:has-text('role: admin')")
        await admin.wait_for_selector(f"#cases td:has-text('{person['nhs_number']}')")
        assert person["family_name"] in await admin.inner_text("#cases")
        await admin.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
        reads = await _audits(world, "read-personal-data")
        assert reads and all(r["actor"].startswith("Ada Admin <") for r in reads)
        assert "D-1" in reads[0]["detail"]["case_ids"]
        assert not await admin.is_visible("#sar")

        dpo = await signed_in(chromium, base, "dana.dpo")
        await dpo.wait_for_selector("#sar #sar-form")
        assert await dpo.is_visible("#sar-third-label"), "the officer may review third parties"
        await dpo.fill("#sar-id", person["nhs_number"])
        async with dpo.expect_download() as download:
            await dpo.click("#sar-html")
        saved = await (await download.value).path()
        exported = await asyncio.to_thread(Path(saved).read_text)
        assert "Subject access export" in exported and "D-1" in exported and person["family_name"] in exported
        await dpo.wait_for_selector("#sar-status:has-text('audit')")
        [export] = await _audits(world, "subject-access-export")
        assert export["actor"].startswith("Dana Protection <"), export["actor"]
        assert export["detail"]["case_ids"] == ["D-1"]
        if os.environ.get("HUB_TEST_SCREENSHOTS"):
            shutil.copy(tmp_path / "admin.png", os.environ["HUB_TEST_SCREENSHOTS"])


ATTACKER_PAGE = """<!doctype html><html><body><script>
async function attack(hub, id) {
  const body = JSON.stringify({ ids: [id], reason: "csrf" });
  const outcomes = [];
  for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
    try {
      await fetch(hub + "/ops/dead-letters/redrive", { method: "POST", mode: "no-cors", credentials: "include",
                                                         headers: { "Content-Type": type }, body });
      outcomes.push("sent");
    } catch (e) { outcomes.push("blocked"); }
  }
  try {
    const r = await fetch(hub + "/ops/dead-letters/redrive", { method: "POST", credentials: "include",
                                                               headers: { "Content-Type": "application/json" }, body });
    outcomes.push("json " + r.status);
  } catch (e) { outcomes.push("json blocked"); }
  return outcomes;
}
</script></body></html>"""


async def test_a_cross_site_post_is_refused_even_with_a_signed_in_operator(kafka: str, sqlite_url: str) -> None:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def page(_: Any) -> HTMLResponse:
        return HTMLResponse(ATTACKER_PAGE)

    attacker = Starlette(routes=[Route("/", page)])
    async with ehc_world(kafka, sqlite_url) as world, browser() as chromium, serving(attacker) as evil:
        await _seed(world)
        [dead] = await world.runtime.store.dead_letters()
        base = str(world.client.base_url)
        operator = await signed_in(chromium, base, "oscar.operator")
        await operator.wait_for_selector("#dead button")

        await operator.goto(evil.replace("127.0.0.1", "localhost") + "/")
        outcomes = await operator.evaluate(f"attack({json.dumps(base)}, {json.dumps(dead['dlq_id'])})")
        assert outcomes[-1] == "json blocked", "a JSON write from another origin fails its CORS preflight"
        assert not await _audits(world, "redrive"), "nothing was redriven"

        # The same cookie without the CSRF token the dashboard's own page holds is refused outright.
        cookies = {c["name"]: c["value"] for c in await operator.context.cookies(base)}
        async with httpx.AsyncClient(base_url=base, cookies=cookies) as replay:
            body = {"ids": [dead["dlq_id"]]}
            refused = await replay.post("/ops/dead-letters/redrive", json=body)
            assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["error"]
            me = (await replay.get("/auth/me")).json()
            assert me["name"] == "Oscar Operator" and me["csrf_token"]
            foreign = await replay.post(
                "/ops/dead-letters/redrive",
                json=body,
                headers={"X-CSRF-Token": me["csrf_token"], "Origin": "http://localhost:1"},
            )
            assert foreign.status_code == 403 and "origin" in foreign.json()["error"]
            allowed = await replay.post(
                "/ops/dead-letters/redrive", json=body, headers={"X-CSRF-Token": me["csrf_token"]}
            )
            assert allowed.status_code == 200 and allowed.json()["redriven"] == 1


async def test_a_viewer_may_not_redrive_over_http(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        body = {"ids": ["0-0"]}
        async with world.as_("school-100001") as school:
            assert (await school.post("/ops/dead-letters/redrive", json=body)).status_code == 403
        allowed = await world.client.post("/ops/dead-letters/redrive", json=body)
        assert allowed.status_code == 200 and allowed.json()["redriven"] == 0
