import time
from tests.dashboard.live.clock_js import READ_CLOCK
def test_scratch(live_stack, signed_in):
    page = signed_in("operator", "/live?cameras=cam1,clock&layout=4")
    for i in range(6):
        time.sleep(2)
        v = page.locator("video[data-camera=clock]")
        print(v.evaluate(READ_CLOCK), v.evaluate("v => [v.currentTime, v.buffered.length ? v.buffered.end(0) : -1]"))
