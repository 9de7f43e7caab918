"""The demo compound stands where the reference site does: Kangcheng, Shanghai."""

from __future__ import annotations

from pathlib import Path

from compoundeye.demo_site import DEMO_CENTER, write_demo_site
from compoundeye.site import load_site
from deploy import gen_site
from detectors.doors import haversine_m


def test_demo_site_is_at_kangcheng_in_shanghai_time(tmp_path: Path) -> None:
    path = write_demo_site(tmp_path / "site.yaml", "rtsp://127.0.0.1:9", cameras=16, doors=4)
    site = load_site(path)
    assert site.timezone == gen_site.TIMEZONE == "Asia/Shanghai"
    assert DEMO_CENTER == (gen_site.CENTRE_LAT, gen_site.CENTRE_LON)
    points = [(c.location.lat, c.location.lon) for c in site.cameras]
    points += [(d.location.lat, d.location.lon) for d in site.doors]
    for lat, lon in points:
        # Inside the reference compound: within its half-diagonal of the centre.
        assert haversine_m(lat, lon, gen_site.CENTRE_LAT, gen_site.CENTRE_LON) < 700
    assert "Kangcheng" in site.name
