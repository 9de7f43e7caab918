"""Headless Chromium against a live stack: a forced door reaches the desk without a reload,
the operator acknowledges it and the audit shows it, an investigator exports a clip."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from compoundeye.services import ServiceSet, tsdb_force_flush
from tests.dashboard.stack import Stack, live_stack
from tests.polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def stack(services: ServiceSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with live_stack(services, tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Any:
    """The shared headless Chromium (tests/fixtures/live.py)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return chromium


def _force_and_wait_stored(stack: Stack, door_id: str) -> None:
    """Force a door and wait until the alerting service has published the alert."""
    import redis

    from compoundeye import names

    client = redis.Redis.from_url(stack.redis_url)
    try:
        before = client.xlen(names.ALERTS_STREAM)
        stack.publish_door(door_id, "forced")
        wait_until(lambda: client.xlen(names.ALERTS_STREAM) > before, 20, 0.2)
    finally:
        client.close()


def _signed_in(browser: Any, stack: Stack, role: str, path: str,
               init_script: str | None = None) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900},
                                  accept_downloads=True, timezone_id="UTC")
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.goto(f"{stack.base_url}{path}")
    assert "/login" in page.url  # every page asks for sign-in first
    page.fill("#token", stack.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.base_url}{path}")
    return page


# Counts the tones the page plays (an init script runs before the page's own scripts).
COUNT_TONES = """
window.__tones = 0;
const original = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__tones += 1;
  return original.call(this);
};
"""


def test_forced_door_reaches_the_desk_and_the_ack_is_audited(browser: Any,
                                                             stack: Stack) -> None:
    page = _signed_in(browser, stack, "operator", "/", init_script=COUNT_TONES)
    page.wait_for_selector("#live .live-on", timeout=15_000)
    assert page.locator(".alert-item").count() == 0

    stack.publish_door("door-A", "forced")
    item = page.locator(".alert-item", has_text="door-A").first
    item.wait_for(timeout=15_000)  # pushed over SSE: no reload happened
    assert "p1" in (item.get_attribute("class") or "")
    assert item.get_attribute("data-status") == "new"
    assert page.evaluate("() => window.__tones") == 2  # the two-tone cue of a priority 1
    page.screenshot(path=str(SCREENSHOTS / "desk-alert.png"))

    item.click()
    page.wait_for_selector("#btn-ack:not([disabled])", timeout=10_000)
    video = page.locator("video#clip")
    # The desk asks whether the clip plays in the browser before it sets the source.
    wait_until(lambda: "/clip?camera=cam-A1" in (video.get_attribute("src") or ""), 15, 0.2)
    # Polled from Python: the page's CSP (no eval) forbids Playwright's wait_for_function.
    wait_until(lambda: video.evaluate("v => v.readyState") >= 1, 20, 0.2)  # MP4 metadata loaded
    assert video.evaluate("v => v.duration") > 10
    page.fill("#note", "guard sent to B101")
    page.click("#btn-ack")
    page.wait_for_selector("#history li:has-text('acknowledged')", timeout=10_000)
    assert page.locator(".alert-item", has_text="door-A").first.get_attribute(
        "data-status") == "acknowledged"
    page.screenshot(path=str(SCREENSHOTS / "desk-acknowledged.png"))

    # The dashboard restarts; a door is forced while it is down. The page's EventSource
    # reconnects with Last-Event-ID and catches up without a reload.
    # Muted first: the caught-up priority 1 alert then makes no sound.
    page.click("#mute")
    assert page.inner_text("#mute").startswith("Sound off")
    page.evaluate("() => { window.__noReload = true; }")
    stack.restart_dashboard(lambda: _force_and_wait_stored(stack, "door-B"))
    missed = page.locator(".alert-item", has_text="door-B").first
    missed.wait_for(timeout=20_000)
    assert page.evaluate("() => window.__noReload") is True
    assert page.evaluate("() => window.__tones") == 2
    page.wait_for_selector("#live .live-on", timeout=10_000)
    page.screenshot(path=str(SCREENSHOTS / "desk-after-restart.png"))
    page.context.close()

    admin = _signed_in(browser, stack, "admin", "/audit")
    row = admin.locator("tr[data-action='alert.ack']").first
    row.wait_for(timeout=10_000)
    assert "operator-1" in row.inner_text()
    admin.screenshot(path=str(SCREENSHOTS / "audit.png"))
    admin.context.close()


def test_h265_clip_says_the_browser_cannot_play_it_and_offers_the_file(
        browser: Any, stack: Stack) -> None:
    page = _signed_in(browser, stack, "operator", "/")
    page.wait_for_selector("#live .live-on", timeout=15_000)
    stack.publish_door("door-B", "forced")
    item = page.locator(".alert-item", has_text="door-B").first
    item.wait_for(timeout=15_000)
    item.click()
    note = page.locator("#clip-unplayable")
    note.wait_for(timeout=15_000)
    assert "H.265" in note.inner_text() and "cannot decode" in note.inner_text()
    link = page.locator("#clip-download")
    assert "/clip?camera=cam-B1" in (link.get_attribute("href") or "")
    assert page.locator("video#clip").is_hidden()
    response = page.request.get(f"{stack.base_url}{link.get_attribute('href')}")
    assert response.ok and response.body()[4:8] == b"ftyp"  # the download is the MP4
    page.screenshot(path=str(SCREENSHOTS / "desk-h265-clip.png"))
    page.context.close()


def test_investigator_exports_and_downloads_a_clip(browser: Any, stack: Stack,
                                                   tmp_path: Path) -> None:
    page = _signed_in(browser, stack, "investigator", "/recordings")
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)  # the page's own set-up
    start = stack.recorded_from + timedelta(seconds=20)
    end = start + timedelta(seconds=30)
    # The browser runs in UTC (timezone_id), so local input values are UTC wall times.
    page.fill("#start", start.strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#end", end.strftime("%Y-%m-%dT%H:%M:%S"))
    page.select_option("#kind", "door")
    page.select_option("#door", "door-A")
    page.fill("#radius", "0")
    page.click("#do-search")
    row = page.locator("#coverage tr[data-id='cam-A1']")
    row.wait_for(timeout=15_000)
    assert "100%" in row.inner_text()
    page.fill("#case", "CASE-2026-0412")
    page.fill("#reason", "door forced at B101")
    page.click("#do-export")
    page.wait_for_selector("#download:not([hidden])", timeout=60_000)
    manifest = page.inner_text("#manifest")
    assert "CASE-2026-0412" in manifest
    assert '"place": "door door-A' in manifest  # how the cameras were chosen is kept
    page.screenshot(path=str(SCREENSHOTS / "recordings-export.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#download")
    target = tmp_path / "evidence.mp4"
    info.value.save_as(target)
    data = target.read_bytes()
    assert len(data) > 10_000 and data[4:8] == b"ftyp"
    page.context.close()


def test_ops_cameras_and_map_pages_render(browser: Any, stack: Stack) -> None:
    import redis

    from compoundeye import names

    # Statuses as edge workers write them (no RTSP cameras run in this stack).
    client = redis.Redis.from_url(stack.redis_url)
    now = datetime.now(UTC).isoformat()
    for camera, status in [("cam-A1", "online"), ("cam-A2", "tampered"), ("cam-B1", "offline")]:
        client.hset(names.camera_status_key(camera), mapping={
            "status": status, "since": now, "last_frame": now, "fps": "5.0", "worker": "edge-0",
            "reason": "" if status == "online" else f"test {status}"})
    client.close()
    # And metrics as they would have written them over the last two hours.
    now_ms = int(time.time() * 1000)
    lines = []
    for minute in range(120):
        at = now_ms - (minute + 1) * 60_000  # all in the past, none at "now"
        for camera, building, up in [("cam-A1", "B101", 1), ("cam-A2", "B101", minute % 2),
                                     ("cam-B1", "B102", 0)]:
            labels = f'camera="{camera}",building="{building}",worker="edge-0"'
            lines.append(f"camera_up{{{labels}}} {up} {at}")
            lines.append(f"camera_fps_processed{{{labels}}} {4 + minute % 3 * up} {at}")
    httpx.post(f"{stack.tsdb_url}/api/v1/import/prometheus",
               content="\n".join(lines) + "\n").raise_for_status()
    tsdb_force_flush(stack.tsdb_url)
    page = _signed_in(browser, stack, "ops", "/cameras")
    page.wait_for_selector("#cams tbody tr", timeout=15_000)
    order = [(r.get_attribute("data-id"), r.get_attribute("data-status"))
             for r in page.locator("#cams tbody tr").all()]
    assert order == [("cam-B1", "offline"), ("cam-A2", "tampered"), ("cam-A1", "online")]
    assert page.inner_text("#count-offline") == "1"
    page.wait_for_selector("#cams tr[data-id='cam-A1'] svg.spark polyline", timeout=15_000)
    page.wait_for_selector("#buildings td:has-text('75.0%')", timeout=15_000)  # B101 24 h
    assert "100.0%" in page.inner_text("#cams tr[data-id='cam-A1']")
    page.screenshot(path=str(SCREENSHOTS / "cameras.png"))
    page.goto(f"{stack.base_url}/map")
    page.wait_for_selector("svg#plan circle[data-camera='cam-A1']", timeout=15_000)
    page.click("svg#plan rect[data-door='door-A']")
    page.wait_for_selector("#info:has-text('B101 main entrance')", timeout=5_000)
    # The plan is placed where the site is: Kangcheng, Shanghai.
    summary = page.inner_text("#summary")
    assert "around 31.110" in summary and "N, 121.380" in summary, summary
    page.screenshot(path=str(SCREENSHOTS / "map.png"))
    page.context.close()
