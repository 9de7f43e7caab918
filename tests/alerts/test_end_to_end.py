"""Acceptance: real Mosquitto, Redis, door listener and alerting processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from compoundeye import names
from compoundeye.store import Store
from compoundeye.timeutil import to_rfc3339, utcnow
from tests.alerts.helpers import make_site
from tests.alerts.processes import process, write_site
from tests.polling import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def mosquitto_pub(services: Any, topic: str, message: str) -> None:
    exe = shutil.which("mosquitto_pub")
    assert exe, "mosquitto_pub not installed"
    # The URL form carries the tools account the private broker requires.
    subprocess.run([exe, "-L", f"{services.mqtt_url}/{topic}", "-q", "1", "-m", message],
                   check=True, timeout=10)


@pytest.fixture
def stack(services, redis_client, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    # Held-open seconds of the site's doors (indirect parameter; 1 s by default).
    site = make_site(held=getattr(request, "param", 1.0))
    site_file = write_site(site, tmp_path / "site.yaml")
    db = f"sqlite:///{tmp_path / 'alerts.db'}"
    env = {**services.env_vars(), "CE_DATABASE_URL": db, "CE_DATA_DIR": str(tmp_path)}
    log = tmp_path / "processes.log"
    with process(["doors", "--site", str(site_file)], env, log), \
            process(["alerts", "--site", str(site_file), "--consumer", "e2e"], env, log):
        store = Store(db)
        # the listener's retained status says it is up once it has subscribed
        wait_until(lambda: redis_client.exists(names.EVENTS_STREAM) or _listener_up(services),
                   timeout=20)
        try:
            yield store, log
        finally:
            store.close()


def _listener_up(services: Any) -> bool:
    exe = shutil.which("mosquitto_sub")
    assert exe
    out = subprocess.run([exe, "-L", f"{services.mqtt_url}/doors/_listeners/+/status",
                          "-C", "1", "-W", "1"],
                         capture_output=True, timeout=5, check=False)
    return b'"online"' in out.stdout


# A forced door stays open: with a 1 s held-open limit a door_held alert would follow
# within the second this test waits for a duplicate, so its doors may stay open longer.
@pytest.mark.parametrize("stack", [120.0], indirect=True, ids=["held-120s"])
def test_forced_door_from_mosquitto_pub_is_exactly_one_alert_with_cameras(services, stack):
    store, log = stack
    message = json.dumps({"event": "forced", "ts": to_rfc3339(utcnow()), "seq": 1})
    mosquitto_pub(services, "doors/d1/events", message)
    mosquitto_pub(services, "doors/d1/events", message)  # sent twice: still one event
    wait_until(lambda: store.alerts.list(), timeout=20)
    time.sleep(1.0)  # would a second alert appear?
    alerts = store.alerts.list()
    assert len(alerts) == 1, log.read_text()
    assert alerts[0].rule == "door_forced" and alerts[0].cameras == ["cam-1", "cam-2"]
    assert alerts[0].source_id == "d1" and alerts[0].count == 1


def test_door_held_open_raises_one_alert_resolved_on_close(services, stack, redis_client):
    store, log = stack
    mosquitto_pub(services, "doors/d1/events", json.dumps({"event": "granted", "seq": 10}))
    mosquitto_pub(services, "doors/d1/events", json.dumps({"event": "opened", "seq": 11}))
    wait_until(lambda: store.alerts.list(kind="door_held"), timeout=20)
    mosquitto_pub(services, "doors/d1/events", json.dumps({"event": "closed", "seq": 12}))
    wait_until(lambda: store.alerts.list(status="resolved"), timeout=20)
    alerts = store.alerts.list()
    assert [(a.rule, a.status) for a in alerts] == [("door_held", "resolved")], log.read_text()
    history = store.alerts.get(alerts[0].id).history
    assert history[-1].actor == "system" and history[-1].details["cause"] == "door.closed"
    actions = [json.loads(f[b"a"])["action"]
               for _i, f in redis_client.xrange(names.ALERTS_STREAM)]
    assert actions == ["created", "resolved"]
