"""The alerting service: consumer group in, alerts and their changes out.

One loop: read a batch of events (``XREADGROUP COUNT``), evaluate every event in stream
order, store the batch's alert changes and processed event ids in one transaction, append
the changes to ``ce:alerts``, then ``XACK`` the batch. Between batches the chores that are
due (:attr:`AlertService.chores`): the door-rules lease and, while leading, the door-rules
group's events; rule ticks (held-open timers); claiming entries of dead consumers
(``XAUTOCLAIM``); the camera heartbeat watchdog; saving activity baselines; forgetting
old processed event ids.

Failure handling: an entry that is not an event goes to the dead letter stream and is
acknowledged; an entry whose evaluation raises is left pending, reclaimed after
``claim_idle_seconds`` and, past ``max_deliveries`` deliveries, dead-lettered as poison.
While the database is unreachable the same batch is retried (its events were evaluated
once, so rule state is not fed twice) and nothing is acknowledged.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from alerts.consumer import Entry, GroupConsumer
from alerts.dedupe import Intent
from alerts.doorlead import DoorLeader, is_door_entry
from alerts.periodic import Periodic
from alerts.rules import RuleEngine
from alerts.watchdog import CameraWatchdog
from alerts.writer import ConflictError, apply_intents, publish_changes
from compoundeye import names
from compoundeye.alert_stream import Announcement, announce_again
from compoundeye.bus import FieldT, dead_letter
from compoundeye.events import Event
from compoundeye.redis_client import describe, redis_from_settings
from compoundeye.redis_text import text_map
from compoundeye.replication import ReplicaWait, Unconfirmed
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from compoundeye.store import Store
from compoundeye.store import alerts as ops
from compoundeye.timeutil import utcnow

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
WATCHDOG_SECONDS = 5.0
SAVE_SECONDS = 60.0
LEASE_REFRESH_SECONDS = 1.0
PRUNE_SECONDS = 3600.0
ANNOUNCE_CHECK_SECONDS = 1.0
"""How often unconfirmed alert changes are confirmed or, after a failover, announced again."""
FORGET_CONSUMERS_AFTER = 3600.0
PROCESSED_RETENTION = timedelta(days=7)
"""How long an event id is remembered as processed; far beyond any redelivery."""
RETRY_MAX_SECONDS = 5.0


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class ServiceStats:
    """Counters of one alerting process."""

    events: int = 0
    door_events: int = 0
    batches: int = 0
    changes: int = 0
    acked: int = 0
    dead_letters: int = 0
    poison: int = 0
    failed: int = 0
    claimed: int = 0
    db_errors: int = 0
    redis_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Work:
    """A batch evaluated but not yet fully written."""

    intents: list[Intent]
    ack_ids: list[str]
    dead: list[tuple[Entry, str]]
    group: GroupConsumer | None = None


class AlertService:
    """Consumes ``ce:events`` in the alerting consumer group and keeps the alert store."""

    def __init__(self, site: Site, settings: Settings, *, consumer: str | None = None,
                 store: Store | None = None, redis_client: redis.Redis | None = None,
                 batch_size: int = 1000, clock: Callable[[], datetime] = utcnow) -> None:
        self.site = site
        self.settings = settings
        self.clock = clock
        self.redis = redis_client or redis_from_settings(settings, timeout=5.0)
        self.store = store or Store.from_settings(settings)
        self._own_store = store is None
        self.consumer = GroupConsumer(self.redis, names.EVENTS_STREAM, names.ALERTS_GROUP,
                                      consumer or default_consumer_name(), count=batch_size)
        self.doors = DoorLeader(self.redis, self.consumer.consumer, count=batch_size)
        self.rules = RuleEngine(site, clock=clock, activity_load=self._load_activity)
        self.watchdog = CameraWatchdog(self.rules, self.redis, clock())
        self.stats = ServiceStats()
        self.announced: Unconfirmed[Announcement] = Unconfirmed(
            ReplicaWait.from_settings(settings), what="alert changes")
        """Alert changes on ``ce:alerts`` that no replica has confirmed yet (Sentinel)."""
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._unfinished: _Work | None = None
        self.chores = {
            "lease": Periodic(LEASE_REFRESH_SECONDS, self._lead),
            "doors": Periodic(0.0, self._read_doors),
            "tick": Periodic(TICK_SECONDS, self._tick),
            "claim": Periodic(max(1.0, site.alerting.claim_idle_seconds / 2), self._claim),
            "watchdog": Periodic(WATCHDOG_SECONDS, self._watch),
            "save": Periodic(SAVE_SECONDS, self._save_activity),
            "prune": Periodic(PRUNE_SECONDS, self._prune),
            "announce": Periodic(ANNOUNCE_CHECK_SECONDS, self._announce_again),
        }
        """What the loop does between reads, in this order, each when due."""

    # -- lifecycle -----------------------------------------------------------------------

    def run(self) -> None:
        """Process events until ``stop()``."""
        log.info("alerting service %s on %s (store %s)", self.consumer.consumer,
                 describe(self.settings), self.store.dialect)
        backoff = 0.2
        # The site, rules and store objects live as long as the process: keep them out of
        # the garbage collector's full passes, which otherwise stall a batch now and then.
        gc.freeze()
        try:
            while not self._stop.is_set():
                try:
                    self._finish()
                    if not self.ready.is_set():
                        self.consumer.ensure_group()
                        self._drain_own_pending()
                        self.ready.set()
                    self._step()
                    backoff = 0.2
                except redis.RedisError as exc:
                    self.stats.redis_errors += 1
                    log.warning("Redis error (%s); retrying in %.1f s", exc, backoff)
                    if "NOGROUP" in str(exc):
                        self.ready.clear()
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, RETRY_MAX_SECONDS)
        finally:
            try:
                self.doors.release()
            except redis.RedisError as exc:
                log.warning("door-rules lease not released (%s); it expires by itself", exc)
            self._save_activity()
            if self._own_store:
                self.store.close()
            log.info("alerting service stopped: %s", self.stats.as_dict())

    def stop(self) -> None:
        """Ask ``run()`` to return after the batch in hand."""
        self._stop.set()

    # -- the loop ------------------------------------------------------------------------

    def _step(self) -> None:
        """One pass: read new events, process them, then run the chores that are due.

        The door-rules leader waits on the door-rules group rather than its share of the
        main group: that group is delivered every new entry, so a forced door wakes the
        leader at once even when the other replica's read took it from the main group
        (waiting on the main group, the leader saw it only when its own read returned, up
        to a tick later). Door entries are evaluated first: a forced door does not wait
        behind a batch of motion."""
        block_ms = int(TICK_SECONDS * 1000)
        if self.doors.leading:
            doors = self.doors.group.read_new(block_ms=block_ms)
            if doors:
                self.process(doors, door_rules=True)
            block_ms = 1
        entries = self.consumer.read_new(block_ms=block_ms)
        if entries:
            self.process(entries)
        for chore in self.chores.values():
            chore.run(time.monotonic())

    def _drain_own_pending(self) -> None:
        """At start: the entries this consumer had read but not acknowledged."""
        while not self._stop.is_set():
            entries = self.consumer.read_own_pending()
            if not entries:
                return
            log.info("re-processing %d entries pending from a previous run", len(entries))
            self.process(entries)

    # -- the chores ----------------------------------------------------------------------

    def _lead(self) -> None:
        """Take or keep the door-rules lease; on taking it, the entries left pending."""
        was = self.doors.leading
        if self.doors.refresh() and not was:
            entries = self.doors.take_over()
            if entries:
                log.info("taking over %d door-rule entries left pending", len(entries))
                self.process(entries, door_rules=True)

    def _read_doors(self) -> None:
        """While leading the door rules: the door-rules group's new events."""
        if self.doors.leading:
            entries = self.doors.read()
            if entries:
                self.process(entries, door_rules=True)

    def _tick(self) -> None:
        self._later(self.rules.tick(self.clock(), door_rules=self.doors.leading))

    def _watch(self) -> None:
        self._later(self.watchdog.scan(self.clock()))

    def _later(self, intents: list[Intent]) -> None:
        if intents:
            self._unfinished = _Work(intents, [], [])
            self._finish()

    def _announce_again(self) -> None:
        """Changes a failover took off ``ce:alerts`` before a replica had them: again."""
        if self.announced.wait.enabled:
            announce_again(self.redis, self.announced)

    def _prune(self) -> None:
        cutoff = self.clock() - PROCESSED_RETENTION
        try:
            with self.store.transaction() as conn:
                removed = ops.prune_processed(conn, cutoff)
        except DBAPIError as exc:
            log.warning("pruning processed event ids failed: %s", exc)
            return
        if removed:
            log.info("forgot %d processed event ids older than %s", removed, cutoff)

    def _claim(self) -> None:
        idle_ms = int(self.site.alerting.claim_idle_seconds * 1000)
        entries, deleted = self.consumer.claim_stale(idle_ms)
        if deleted:
            self.consumer.ack(deleted)
        if entries:
            self.stats.claimed += len(entries)
            log.info("claimed %d entries idle for %d ms", len(entries), idle_ms)
            self.process(entries)
        gone = self.consumer.forget_idle_consumers(int(FORGET_CONSUMERS_AFTER * 1000))
        if gone:
            log.info("removed idle consumers with nothing pending: %s", ", ".join(gone))

    def process(self, entries: Sequence[Entry], *, door_rules: bool = False) -> None:
        """Evaluate a batch of entries, store its changes, then acknowledge it.

        With ``door_rules`` the entries come from the door-rules group: only the stateful
        door events are evaluated (the main group evaluates, or dead-letters, the rest).

        Evaluation feeds the rules' state, so it happens once per delivery: the outcome
        (intents, dead letters, entries to acknowledge) is kept as unfinished work until
        it is all written, and a Redis or database failure retries the writing only.
        """
        intents: list[Intent] = []
        done: list[str] = []
        dead: list[tuple[Entry, str]] = []
        group = self.doors.group if door_rules else self.consumer
        for entry in entries:
            event = self._triage(entry, door_rules)
            if isinstance(event, str):
                dead.append((entry, event))
                continue
            if event is None:
                done.append(entry.id)
                continue
            try:
                intents.extend(self.rules.evaluate(event, door_rules=door_rules))
            except Exception:  # a rule bug must not stop the service: leave it pending
                self.stats.failed += 1
                log.exception("evaluating event %s (entry %s) failed; left pending", event.id,
                              entry.id)
                continue
            if door_rules:
                self.stats.door_events += 1
            else:
                self.stats.events += 1
            done.append(entry.id)
        self._unfinished = _Work(intents, done, dead, group)
        self._finish()

    def _triage(self, entry: Entry, door_rules: bool) -> Event | str | None:
        """The entry's event to evaluate; else why it is dead-lettered, or None to ack it.

        The door-rules group acknowledges what is not a door-state event, even bad input:
        the main group dead-letters that.
        """
        if door_rules and not is_door_entry(entry):
            return None  # not for the door rules: nothing to do here
        max_deliveries = self.site.alerting.max_deliveries
        if entry.deliveries > max_deliveries:
            self.stats.poison += 1
            return (f"poison: delivered {entry.deliveries} times without being processed "
                    f"(limit {max_deliveries})")
        raw = entry.fields.get(names.EVENT_FIELD.encode())
        if raw is None:
            return None if door_rules else f"entry has no '{names.EVENT_FIELD}' field"
        try:
            event = Event.from_json(raw)
        except (ValidationError, ValueError) as exc:
            return None if door_rules else f"not a valid event: {exc}"[:900]
        if door_rules and event.kind not in self.rules.door_kinds:
            return None
        return event

    def _finish(self) -> None:
        """Write the unfinished work: dead letters, alert changes, announcements, acks."""
        work = self._unfinished
        if work is None:
            return
        while work.dead:
            entry, reason = work.dead[0]
            self._dead(entry, reason)
            work.dead.pop(0)
            work.ack_ids.append(entry.id)
        if not self._store(work.intents, work.ack_ids, work.group or self.consumer):
            return  # stopping with the database down: the entries stay pending
        self._unfinished = None

    def _store(self, intents: list[Intent], ack_ids: list[str],
               group: GroupConsumer) -> bool:
        backoff = 0.2
        while intents:
            try:
                changes = apply_intents(self.store, intents, self.clock())
                break
            except (DBAPIError, ConflictError) as exc:
                self.stats.db_errors += 1
                log.warning("storing %d intents failed (%s); retrying in %.1f s",
                            len(intents), str(exc).splitlines()[0][:200], backoff)
                if self._stop.wait(backoff):
                    return False
                backoff = min(backoff * 2, RETRY_MAX_SECONDS)
        else:
            changes = []
        # Stored: from here a retry finds the events processed and changes nothing, so a
        # Redis failure below can lose only the live-screen announcement, never an alert.
        intents.clear()
        publish_changes(self.redis, changes, self.announced)
        self.stats.changes += len(changes)
        if ack_ids:
            acked = group.ack(ack_ids)
            if group is self.consumer:
                self.stats.acked += acked
                self.stats.batches += 1
        return True

    def _dead(self, entry: Entry, reason: str) -> None:
        raw = entry.fields.get(names.EVENT_FIELD.encode(), b"")
        dead_letter(self.redis, raw, reason, source=f"{names.EVENTS_STREAM}:{names.ALERTS_GROUP}",
                    entry=entry.id, consumer=self.consumer.consumer)
        self.stats.dead_letters += 1
        log.warning("entry %s to the dead letter stream: %s", entry.id, reason[:200])

    # -- activity baselines in Redis -----------------------------------------------------

    def _load_activity(self, camera: str) -> dict[str, str]:
        try:
            raw = self.redis.hgetall(names.activity_key(camera))
        except redis.RedisError as exc:
            log.warning("activity baseline of %s not loaded: %s", camera, exc)
            return {}
        return text_map(raw)

    def _save_activity(self) -> None:
        states = self.rules.activity.take_dirty()
        if not states:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for camera, state in states.items():
                mapping: dict[FieldT, FieldT] = {k: v for k, v in state.items()}
                pipe.hset(names.activity_key(camera), mapping=mapping)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("activity baselines not saved (%s); kept for the next try", exc)
            self.rules.activity.dirty.update(states)
