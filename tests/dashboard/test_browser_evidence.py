"""Headless Chromium: an investigator holds the cameras of a search and opens the case's
custody report; an admin sees the holds, releases one, and finds the signing key's
fingerprint and the audit chain's state on the audit page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from compoundeye.services import ServiceSet
from tests.dashboard.stack import Stack, live_stack
from tests.dashboard.test_browser import SCREENSHOTS, _signed_in, browser  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def stack(services: ServiceSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with live_stack(services, tmp_path_factory.mktemp("stack-evidence")) as running:
        yield running


def test_hold_custody_and_keys_in_the_pages(browser: Any, stack: Stack) -> None:  # noqa: F811
    page = _signed_in(browser, stack, "investigator", "/recordings")
    start = stack.recorded_from + timedelta(seconds=10)
    end = start + timedelta(seconds=40)
    page.fill("#start", start.strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#end", end.strftime("%Y-%m-%dT%H:%M:%S"))
    page.select_option("#kind", "door")
    page.select_option("#door", "door-A")
    page.fill("#radius", "0")
    page.click("#do-search")
    page.locator("#coverage tr[data-id='cam-A1']").wait_for(timeout=15_000)
    page.fill("#hold-case", "CASE-HOLD-1")
    page.fill("#hold-reason", "kept for the court")
    page.click("#do-hold")
    row = page.locator("#hold-list tr:has-text('CASE-HOLD-1')")
    row.wait_for(timeout=10_000)
    assert "cam-A1" in row.inner_text() and "held" in row.inner_text()
    assert page.locator("#hold-list button.release").count() == 0  # investigators cannot
    assert page.input_value("#custody-case") == "CASE-HOLD-1"
    with page.context.expect_page() as opened:
        page.click("#do-custody")
    report = opened.value
    report.wait_for_load_state()
    text = report.inner_text("body")
    assert "Chain of custody: case CASE-HOLD-1" in text and "hold.place" in text
    report.screenshot(path=str(SCREENSHOTS / "custody-report.png"), full_page=True)
    page.screenshot(path=str(SCREENSHOTS / "recordings-holds.png"), full_page=True)
    page.context.close()

    admin = _signed_in(browser, stack, "admin", "/recordings")
    row = admin.locator("#hold-list tr:has-text('CASE-HOLD-1')")
    row.wait_for(timeout=10_000)
    admin.once("dialog", lambda dialog: dialog.accept("case closed"))
    row.locator("button.release").click()
    admin.wait_for_selector("#hold-msg:has-text('released')", timeout=10_000)
    holds = httpx.get(f"{stack.base_url}/api/holds", params={"case_id": "CASE-HOLD-1"},
                      headers={"Authorization": f"Bearer {stack.tokens['admin']}"}).json()
    assert [(h["active"], h["released_by"]) for h in holds] == [(False, "admin-1")]
    admin.goto(f"{stack.base_url}/audit")
    fingerprint = admin.locator("#key-list td.fingerprint").first
    fingerprint.wait_for(timeout=10_000)
    keys = httpx.get(f"{stack.base_url}/api/signing-keys",
                     headers={"Authorization": f"Bearer {stack.tokens['admin']}"}).json()
    assert fingerprint.inner_text() == keys["keys"][0]["fingerprint_grouped"]
    admin.wait_for_selector("#chain:has-text('Audit chain intact')", timeout=10_000)
    admin.select_option("#f-action", "hold.release")
    admin.locator("tr[data-action='hold.release']").first.wait_for(timeout=10_000)
    admin.screenshot(path=str(SCREENSHOTS / "audit-keys.png"), full_page=True)
    admin.context.close()
