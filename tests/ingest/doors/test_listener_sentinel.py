"""The door listener on Redis with Sentinel: its events reach the master, and one the dying
primary acknowledged but never replicated is written again on the new master, once."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from compoundeye import names
from compoundeye.events import Event
from compoundeye.sentinel_set import SentinelSet
from compoundeye.timeutil import to_rfc3339, utcnow
from tests.ingest.doors.helpers import make_site, publish, publisher, running
from tests.polling import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _forced(seq: int) -> str:
    return json.dumps({"event": "forced", "ts": to_rfc3339(utcnow()), "seq": seq})


def _forced_seqs(client: Any) -> Counter[int]:
    entries: Any = client.xrange(names.EVENTS_STREAM)
    found = (Event.from_json(f[names.EVENT_FIELD.encode()]) for _id, f in entries)
    return Counter(int(e.attrs["seq"]) for e in found if e.kind.value == "door.forced")


def test_the_listener_writes_again_what_the_failover_lost(sentinels: SentinelSet,
                                                         mqtt_url: str) -> None:
    cfg = sentinels.settings(mqtt_url=mqtt_url)
    topic = names.door_topic("doors", "d1")
    with running(make_site(), cfg) as listener, publisher(mqtt_url) as pub:
        publish(pub, topic, _forced(1))
        wait_until(lambda: listener.stats.events == 1, what="the first event")
        old = sentinels.primary()
        assert _forced_seqs(sentinels.node_client(old.port)) == {1: 1}
        sentinels.cut_replica()
        publish(pub, topic, _forced(2))  # acknowledged by the primary alone
        wait_until(lambda: listener.stats.events == 2, what="the second event")
        sentinels.kill_primary()
        sentinels.thaw_replica()
        new = sentinels.wait_for_failover(old.port, timeout=60)
        publish(pub, topic, _forced(3))
        client = sentinels.node_client(new[1])
        wait_until(lambda: _forced_seqs(client) == {1: 1, 2: 1, 3: 1}, 30,
                   what="every forced door once on the new master",
                   detail=lambda: str(_forced_seqs(client)))
    assert listener.stats.resent == 1
