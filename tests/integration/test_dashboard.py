"""The dashboard in a real headless browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.helpers import eventually, producer
from tests.integration.ehc_world import World, ehc_world, request_body

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
async def browser_page() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield await browser.new_page()
        finally:
            await browser.close()


async def _sign_in(page: Any, token: str) -> None:
    await page.fill("#token", token)
    await page.click("#login button")


async def _seed(world: World) -> dict[str, Any]:
    body = request_body("D-1", 31)
    await world.wait_applied((await world.post("/api/v1/assessment-requests", body))["id"])
    async with producer(world.kafka) as p:
        await p.send_and_wait(world.runtime.names.physical("ehc.plans.v1"), b"{broken", key=b"D-1")

    async def dead() -> bool:
        return bool(await world.runtime.store.dead_letters())

    await eventually(dead)
    return body["person"]


async def test_dashboard_masks_personal_data_by_role_and_lets_operators_redrive(
    kafka: str, sqlite_url: str, tmp_path: Any
) -> None:
    tokens = {"adm-secret": "admin", "op-secret": "operator"}
    async with ehc_world(kafka, sqlite_url, dashboard_tokens=tokens) as world, browser_page() as page:
        person = await _seed(world)
        await page.goto(str(world.client.base_url) + "/")
        await page.wait_for_selector("#cases td:has-text('D-1')")
        await page.wait_for_selector("#dead td:has-text('validate')")
        text = await page.inner_text("main")
        assert "role: viewer" in await page.inner_text("header")
        for secret in (person["nhs_number"], person["family_name"], person["date_of_birth"]):
            assert secret not in text, f"a viewer must not see {secret!r}"
        assert "•••" in text
        assert await page.locator("#dead button").count() == 0, "viewers cannot redrive"
        await page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)

        await _sign_in(page, "op-secret")
        await page.wait_for_selector("header:has-text('role: operator')")
        assert person["nhs_number"] not in await page.inner_text("main"), "operators work on flows, not people"
        await page.click("#dead button")
        await page.wait_for_selector("#status:has-text('redriven')")

        async def audited() -> bool:
            return (await world.runtime.store.counts())["ops_audit"] == 1

        await eventually(audited)

        await _sign_in(page, "adm-secret")
        await page.wait_for_selector("header:has-text('role: admin')")
        await page.wait_for_selector(f"#cases td:has-text('{person['nhs_number']}')")
        assert person["family_name"] in await page.inner_text("#cases")
        await page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
        if os.environ.get("HUB_TEST_SCREENSHOTS"):
            shutil.copy(tmp_path / "admin.png", os.environ["HUB_TEST_SCREENSHOTS"])


async def test_redrive_over_http_needs_an_operator(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url, dashboard_tokens={"op": "operator"}) as world:
        body = {"ids": ["0-0"], "actor": "someone"}
        refused = await world.client.post("/ops/dead-letters/redrive", json=body)
        assert refused.status_code == 403
        allowed = await world.client.post(
            "/ops/dead-letters/redrive", json=body, headers={"Authorization": "Bearer op"}
        )
        assert allowed.status_code == 200 and allowed.json()["redriven"] == 0
