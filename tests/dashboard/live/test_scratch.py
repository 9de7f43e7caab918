import time
from datetime import timedelta
from tests.dashboard.live.clock_js import READ_CLOCK
def test_scratch(live_stack, signed_in):
    at = live_stack.recorded_from + timedelta(seconds=23.5)
    page = signed_in("investigator", f"/recordings?camera=cam1&at={at.isoformat().replace('+00:00','Z')}")
    msgs = []
    page.on("console", lambda m: msgs.append(m.text))
    time.sleep(5)
    page.screenshot(path="/tmp/i12probe/pb.png", full_page=True)
    v = page.locator("#pb-videos video").first
    print(v.evaluate("v => [v.currentTime, v.readyState, v.videoWidth]"), v.evaluate(READ_CLOCK), at.timestamp()*1000 % 2**32)
    print(page.inner_text("#player")[:300]); print(msgs[-10:])
