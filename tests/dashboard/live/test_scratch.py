import time
from datetime import timedelta
from bench.livestack import iso_z
from sample_streams.numbered import fill_day
JS = """async (wall) => {
  const video = document.querySelector('#pb-videos video');
  const t0 = performance.now();
  const before = [video.currentTime, video.readyState, video.seeking];
  const seeked = new Promise((r) => video.addEventListener('seeked', () => r('seeked'), { once: true }));
  CEPlayer.seek(wall);
  const after = [video.currentTime, video.seeking, CEPlayer.players[0].frags.length];
  const r1 = await Promise.race([seeked, new Promise((r) => setTimeout(() => r('timeout'), 8000))]);
  const r2 = await Promise.race([new Promise((r) => video.requestVideoFrameCallback(() => r('frame'))), new Promise((r) => setTimeout(() => r('noframe'), 4000))]);
  return {ms: performance.now() - t0, before, after, r1, r2, state: video.readyState, buf: video.buffered.length};
}"""
def test_scratch(live, signed_in):
    day_start = live.recorded_from - timedelta(hours=24)
    print(fill_day(live.data_dir / "recordings", "cam1", day_start, live.recorded, hours=24))
    at = live.recorded_from - timedelta(hours=12)
    page = signed_in("investigator", f"/recordings?camera=cam1&at={iso_z(at)}")
    time.sleep(6)
    print(page.inner_text("#pb-msg"), page.locator("#pb-videos video").first.evaluate("v => [v.readyState, v.currentTime]"))
    for k in range(4):
        wall = (day_start + timedelta(hours=3 + 5 * k, seconds=7)).timestamp() * 1000
        print(page.evaluate(JS, wall))
