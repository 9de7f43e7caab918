"""``bench scale``'s books: events in against alert changes out, and door-to-desk latency.

Inputs, all read after the run: the generators' ledgers (what was handed to a publisher
or to the broker, and when), ``ce:events`` (what reached the bus), ``ce:alerts`` (every
alert change announced) and what each desk received.

- **lost on the bus**: a ledger entry with no event on ``ce:events`` (camera events by
  id; door messages by door, kind and the ``ts`` sent, since the listener makes their
  ids); **duplicated on the bus**: an event id on the stream more than once.
- **must alert**: the events the rules always turn into an alert change, whatever else
  happened: ``door.forced``, ``door.held`` and the ``door.closed`` that ends either (it
  clears or resolves the alert), ``camera.offline``/``online``, ``camera.tamper``/
  ``tamper_cleared``, and ``motion.start`` in a zone whose armed schedule is in force at
  the event's time (read from the site as the rule reads it). **lost**: one of these in
  no change on ``ce:alerts``; **duplicated**: any event id in more than one change.
- **desks**: every desk must receive every change announced after it connected, once.
- **door to desk**: for each desk, the arrival of the change that carries a
  ``door.forced`` event, minus the wall time the controller's message was published.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from compoundeye import names
from compoundeye.redis_text import text
from compoundeye.site.models import Site
from compoundeye.timeutil import parse_rfc3339

ALWAYS_ALERT = frozenset({"camera.offline", "camera.online", "camera.tamper",
                          "camera.tamper_cleared", "door.forced", "door.held"})
ENDS_EPISODE = frozenset({"door.forced", "door.held"})
READ_CHUNK = 10_000


def read_stream(client: redis.Redis, stream: str, field_name: str,
                after: str = "-") -> list[tuple[str, dict[str, Any]]]:
    """Every entry of a stream after ``after`` (inclusive for "-"), JSON field decoded."""
    out: list[tuple[str, dict[str, Any]]] = []
    start = after
    while True:
        chunk: Any = client.xrange(stream, min=start, max="+", count=READ_CHUNK)
        if not chunk:
            return out
        for entry_id, fields in chunk:
            eid = text(entry_id)
            if eid == after and after != "-":
                continue
            raw = fields.get(field_name.encode())
            out.append((eid, json.loads(raw) if raw is not None else {}))
        last = text(chunk[-1][0])
        if len(chunk) < READ_CHUNK:
            return out
        start = "(" + last


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


@dataclass
class Books:
    """The reconciliation of one phase."""

    events_in: int = 0
    camera_events: int = 0
    door_messages: int = 0
    events_on_bus: int = 0
    lost_on_bus: int = 0
    duplicated_on_bus: int = 0
    must_alert: int = 0
    lost: int = 0
    duplicated: int = 0
    alert_changes: int = 0
    changes_by_rule: dict[str, int] = field(default_factory=dict)
    other_events_on_bus: dict[str, int] = field(default_factory=dict)
    desk_missed: int = 0
    desk_duplicated: int = 0
    desk_reconnects: int = 0
    forced: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    """The forced doors' path in stages, from the streams' entry ids (Redis's clock, ms):
    publish to ``ce:events``, to ``ce:alerts``, to each desk."""
    examples: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items()
               if k not in ("latencies_ms", "stages_ms")}
        out["door_to_desk_stages_ms"] = {
            stage: {"p50": _pct(values, 0.5), "p99": _pct(values, 0.99)}
            for stage, values in self.stages_ms.items()}
        out["door_to_desk_samples"] = len(self.latencies_ms)
        out["door_to_desk_p50_ms"] = _pct(self.latencies_ms, 0.50)
        out["door_to_desk_p99_ms"] = _pct(self.latencies_ms, 0.99)
        out["door_to_desk_max_ms"] = _pct(self.latencies_ms, 1.0)
        return out


def _armed(site: Site, camera_id: str, zone: str, ts: datetime) -> bool:
    camera = site.camera(camera_id)
    if camera is None:
        return False
    for z in camera.zones:
        if z.name == zone and z.armed_schedule:
            return site.schedule_active(z.armed_schedule, ts)
    return False


def _door_key(door: str, kind: str, ts: str) -> tuple[str, str, datetime]:
    return door, kind, parse_rfc3339(ts)


def reconcile(site: Site, camera_ledger: list[dict[str, Any]],
              door_ledger: list[dict[str, Any]],
              events: list[tuple[str, dict[str, Any]]],
              changes: list[tuple[str, dict[str, Any]]],
              desks: list[dict[str, Any]],
              window: tuple[float, float] = (0.0, float("inf")),
              desk_tail: str | None = None) -> Books:
    """Balance the books of one phase (see the module's docstring); the latencies of the
    forced doors published within ``window`` (epoch seconds) only, the desks being
    connected and warmed up by then. Desks owe only the changes up to ``desk_tail`` (the
    stream's last entry a few seconds before they stopped)."""
    books = Books(camera_events=len(camera_ledger), door_messages=len(door_ledger))
    books.events_in = books.camera_events + books.door_messages
    books.events_on_bus = len(events)
    on_bus = Counter(e.get("id") for _entry, e in events)
    books.duplicated_on_bus = sum(n - 1 for n in on_bus.values() if n > 1)
    by_id = {e.get("id"): e for _entry, e in events}
    bus_ms = {e.get("id"): _entry_ms(entry) for entry, e in events}
    door_events: dict[tuple[str, str, datetime], str] = {}
    for _entry, e in events:
        if e.get("source", {}).get("type") == "door":
            door_events[_door_key(e["source"]["id"], e["kind"], e["ts"])] = e["id"]
    must: set[str] = set()
    lost_bus: list[str] = []
    for row in camera_ledger:
        if row["id"] not in on_bus:
            lost_bus.append(row["id"])
            continue
        kind = row["kind"]
        if kind in ALWAYS_ALERT or (kind == "motion.start" and _armed(
                site, row["source"], row["detail"], parse_rfc3339(row["ts"]))):
            must.add(row["id"])
    forced_sent: dict[str, float] = {}
    pending_end: dict[str, bool] = defaultdict(bool)
    ledger_ids: set[str] = {r["id"] for r in camera_ledger}
    for row in sorted(door_ledger, key=lambda r: r["sent"]):
        event_id = door_events.get(_door_key(row["door"], row["kind"], row["ts"]))
        if event_id is None:
            lost_bus.append(f"{row['door']} {row['kind']} {row['ts']}")
            continue
        ledger_ids.add(event_id)
        kind = row["kind"]
        if kind in ENDS_EPISODE:
            must.add(event_id)
            pending_end[row["door"]] = True
        elif kind == "door.closed" and pending_end[row["door"]]:
            must.add(event_id)
            pending_end[row["door"]] = False
        if kind == "door.forced" and window[0] <= row["sent"] <= window[1]:
            forced_sent[event_id] = row["sent"]
    books.lost_on_bus = len(lost_bus)
    others = Counter(e.get("kind", "?") for _entry, e in events if e.get("id") not in ledger_ids)
    books.other_events_on_bus = dict(others)
    books.must_alert = len(must)
    in_changes: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    for _entry, change in changes:
        rules[change.get("alert", {}).get("rule", "?")] += 1
        for event_id in change.get("details", {}).get("event_ids", []):
            in_changes[event_id] += 1
    books.alert_changes = len(changes)
    books.changes_by_rule = dict(rules)
    lost = sorted(must - set(in_changes))
    dups = sorted(e for e, n in in_changes.items() if n > 1)
    books.lost, books.duplicated = len(lost), sum(in_changes[e] - 1 for e in dups)
    books.examples = {
        "lost_on_bus": lost_bus[:5],
        "lost": [f"{by_id.get(e, {}).get('kind')} {by_id.get(e, {}).get('source', {}).get('id')}"
                 f" {e}" for e in lost[:5]],
        "duplicated": dups[:5]}
    books.forced = len(forced_sent)
    change_ids = [entry for entry, _c in changes]
    owed = [entry for entry in change_ids
            if desk_tail is None or _entry_key(entry) <= _entry_key(desk_tail)]
    change_ms = {entry: _entry_ms(entry) for entry in change_ids}
    stages: dict[str, list[float]] = {"to_bus": [], "to_alert_stream": [], "to_desk": []}
    firsts: dict[str, str] = {}
    for entry, change in changes:
        if change.get("alert", {}).get("rule") == "door_forced":
            for event_id in change.get("details", {}).get("event_ids", []):
                if event_id in forced_sent and event_id not in firsts:
                    firsts[event_id] = entry
                    stages["to_bus"].append(bus_ms[event_id] - forced_sent[event_id] * 1000)
                    stages["to_alert_stream"].append(change_ms[entry] - bus_ms[event_id])
    for desk in desks:
        got = Counter(row[1] for row in desk["received"])
        books.desk_duplicated += sum(n - 1 for n in got.values() if n > 1)
        books.desk_missed += sum(1 for entry in owed if entry not in got)
        books.desk_reconnects += int(desk.get("reconnects", 0))
        seen: set[str] = set()
        for arrival, entry, _action, rule, _source, event_ids in desk["received"]:
            if rule != "door_forced":
                continue
            for event_id in event_ids:
                sent = forced_sent.get(event_id)
                if sent is not None and event_id not in seen:
                    seen.add(event_id)
                    books.latencies_ms.append((arrival - sent) * 1000.0)
                    if entry in change_ms:
                        stages["to_desk"].append(arrival * 1000.0 - change_ms[entry])
    books.stages_ms = stages
    return books


def _entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _entry_ms(entry_id: str) -> float:
    """The Redis clock (ms since the epoch) at which a stream entry was added."""
    return float(entry_id.split("-", 1)[0])


def group_backlog(client: redis.Redis) -> dict[str, int]:
    """Entries not yet read (lag) plus read but unacknowledged (pending), per group."""
    out: dict[str, int] = {}
    try:
        groups: Any = client.xinfo_groups(names.EVENTS_STREAM)
    except redis.ResponseError:
        return {names.ALERTS_GROUP: -1}
    for group in groups:
        lag = group.get("lag")
        out[text(group["name"])] = int(group["pending"]) + (int(lag) if lag is not None else 0)
    return out
