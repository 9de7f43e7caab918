"""Metrics to and from the time-series database.

Writes go through influxdb-client's batching write API as line protocol to ``/api/v2/write``
(VictoriaMetrics, InfluxDB 2.x and 3.x all take it). The caller's thread only appends to a
bounded buffer; a feeder thread hands lines to the client, and when the database is away
the oldest lines are dropped and counted, so an outage never blocks a camera loop.

Reads use the Prometheus HTTP API (``/api/v1/query``, ``/api/v1/query_range``). On
VictoriaMetrics a line ``cam,camera=c1 fps=5`` becomes the series ``cam_fps{camera="c1"}``.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from influxdb_client.domain.write_precision import WritePrecision

from compoundeye.settings import Settings
from compoundeye.timeutil import from_epoch, utcnow

log = logging.getLogger(__name__)

FieldValue = float | int | bool | str


@dataclass
class WriterStats:
    """Counters of a :class:`MetricsWriter`; ``dropped + failed`` is every line lost."""

    accepted: int = 0
    written: int = 0
    dropped: int = 0
    """Lines pushed out of the full buffer (oldest first) or refused after close."""
    failed: int = 0
    """Lines in batches the database refused or never answered for, after retries."""
    retries: int = 0

    @property
    def lost(self) -> int:
        return self.dropped + self.failed


def _lines_in(data: Any) -> int:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    return text.count("\n") + 1 if text else 0


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def to_line(
    measurement: str,
    fields: Mapping[str, FieldValue],
    tags: Mapping[str, str] | None = None,
    ts: datetime | None = None,
) -> str:
    """One point as InfluxDB line protocol with a millisecond timestamp."""
    if not fields:
        raise ValueError(f"{measurement}: a point needs at least one field")
    moment = ts if ts is not None else utcnow()
    if moment.tzinfo is None:
        raise ValueError("naive datetime: compoundeye keeps every time zone-aware")
    head = measurement.replace(",", r"\,").replace(" ", r"\ ")
    for key in sorted(tags or {}):
        tag_value = (tags or {})[key]
        if tag_value != "":
            head += f",{_escape_key(key)}={_escape_key(tag_value)}"
    parts = []
    for key, value in fields.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = f"{value}i"
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{_escape_key(key)}={text}")
    return f"{head} {','.join(parts)} {int(moment.timestamp() * 1000)}"


class MetricsWriter:
    """Batching, never-blocking metrics writer (influxdb-client, line protocol).

    ``write`` and ``write_line`` only append to a buffer of at most ``buffer_size`` lines;
    ``flush`` waits (bounded) until what was accepted has been answered; ``close`` flushes
    and stops the background threads.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str = "",
        org: str = "compoundeye",
        bucket: str = "compoundeye",
        buffer_size: int = 100_000,
        batch_size: int = 1_000,
        flush_interval_ms: int = 1_000,
        max_in_flight: int = 10_000,
        max_retries: int = 2,
        timeout_ms: int = 5_000,
    ) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import WriteOptions, WriteType
        from reactivex.scheduler import ThreadPoolScheduler

        self.url = url
        self.org = org
        self.bucket = bucket
        self.stats = WriterStats()
        self._buffer: collections.deque[str] = collections.deque()
        self._buffer_size = buffer_size
        self._batch_size = batch_size
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._lock = threading.Condition()
        self._closed = False
        self._final = False
        self._scheduler = ThreadPoolScheduler(max_workers=1)
        self._client = InfluxDBClient(url=url, token=token or "none", org=org, timeout=timeout_ms)
        options = WriteOptions(
            write_type=WriteType.batching,
            batch_size=batch_size,
            flush_interval=flush_interval_ms,
            retry_interval=500,
            max_retries=max_retries,
            max_retry_delay=5_000,
            max_retry_time=max(1, max_retries) * (timeout_ms + 5_000),
            max_close_wait=max(1, max_retries + 1) * (timeout_ms + 5_000),
            write_scheduler=self._scheduler,
        )
        self._write_api = self._client.write_api(
            write_options=options,
            success_callback=self._on_success,
            error_callback=self._on_error,
            retry_callback=self._on_retry,
        )
        self._feeder = threading.Thread(target=self._feed, name="metrics-writer", daemon=True)
        self._feeder.start()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> MetricsWriter:
        """A writer for ``CE_TSDB_URL`` (and token, org, bucket)."""
        return cls(
            settings.tsdb_url,
            token=settings.tsdb_token,
            org=settings.tsdb_org,
            bucket=settings.tsdb_bucket,
            **kwargs,
        )

    def write(
        self,
        measurement: str,
        fields: Mapping[str, FieldValue],
        tags: Mapping[str, str] | None = None,
        ts: datetime | None = None,
    ) -> None:
        """Queue one point (never blocks on the network)."""
        self.write_line(to_line(measurement, fields, tags, ts))

    def write_line(self, line: str) -> None:
        """Queue one line of line protocol (never blocks on the network)."""
        with self._lock:
            if self._closed:
                self.stats.dropped += 1
                return
            self.stats.accepted += 1
            if len(self._buffer) >= self._buffer_size:
                self._buffer.popleft()
                self.stats.dropped += 1
                if self.stats.dropped == 1 or self.stats.dropped % 10_000 == 0:
                    log.warning("metrics buffer full: %d lines dropped so far", self.stats.dropped)
            self._buffer.append(line)
            self._lock.notify_all()

    @property
    def pending(self) -> int:
        """Lines buffered or sent but not yet answered."""
        with self._lock:
            return len(self._buffer) + self._in_flight

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every accepted line is written or lost; False on timeout."""
        with self._lock:
            return self._lock.wait_for(
                lambda: not self._buffer and self._in_flight == 0, timeout=timeout
            )

    def close(self, timeout: float = 10.0) -> None:
        """Flush for at most ``timeout``, then stop; what is still unanswered counts as lost."""
        self.flush(timeout)
        with self._lock:
            self._closed = True
            self.stats.dropped += len(self._buffer)
            self._buffer.clear()
            self._lock.notify_all()
        self._feeder.join(timeout)
        # The client's close waits for batches still being retried; bound that wait.
        closer = threading.Thread(target=self._close_client, name="metrics-close", daemon=True)
        closer.start()
        closer.join(timeout)
        with self._lock:
            self._final = True
            self.stats.failed += self._in_flight
            self._in_flight = 0

    def _close_client(self) -> None:
        try:
            self._write_api.close()  # type: ignore[no-untyped-call]
        except Exception:
            log.exception("closing the metrics write API failed")
        finally:
            self._client.close()  # type: ignore[no-untyped-call]
            self._scheduler.executor.shutdown(wait=False)

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _feed(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(
                    lambda: self._closed
                    or (bool(self._buffer) and self._in_flight < self._max_in_flight)
                )
                if self._closed:
                    return
                room = min(self._batch_size, self._max_in_flight - self._in_flight)
                batch = [self._buffer.popleft() for _ in range(min(room, len(self._buffer)))]
                self._in_flight += len(batch)
            try:
                self._write_api.write(
                    bucket=self.bucket,
                    org=self.org,
                    record=batch,
                    write_precision=WritePrecision.MS,  # type: ignore[arg-type]
                )
            except Exception:
                log.exception("handing %d metric lines to the writer failed", len(batch))
                self._settle(len(batch), ok=False)

    def _settle(self, lines: int, *, ok: bool) -> None:
        with self._lock:
            if self._final:
                return  # already counted as lost by close()
            self._in_flight = max(0, self._in_flight - lines)
            if ok:
                self.stats.written += lines
            else:
                self.stats.failed += lines
            self._lock.notify_all()

    def _on_success(self, _conf: object, data: Any) -> None:
        self._settle(_lines_in(data), ok=True)

    def _on_error(self, _conf: object, data: Any, exc: BaseException) -> None:
        lines = _lines_in(data)
        log.warning("metrics write of %d lines failed: %s", lines, exc)
        self._settle(lines, ok=False)

    def _on_retry(self, _conf: object, _data: Any, exc: BaseException) -> None:
        with self._lock:
            self.stats.retries += 1
        log.debug("metrics write retry: %s", exc)


class MetricsQueryError(RuntimeError):
    """The TSDB refused a query or could not be reached."""


@dataclass(frozen=True)
class Sample:
    """One instant-vector element: labels (``__name__`` included), time and value."""

    labels: dict[str, str]
    ts: datetime
    value: float

    @property
    def name(self) -> str:
        return self.labels.get("__name__", "")


@dataclass(frozen=True)
class Series:
    """One range-vector series: labels and its points in time order."""

    labels: dict[str, str]
    points: list[tuple[datetime, float]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.labels.get("__name__", "")


class MetricsReader:
    """PromQL over HTTP against VictoriaMetrics or Prometheus, returning typed results."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> MetricsReader:
        return cls(settings.tsdb_url, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MetricsReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise MetricsQueryError(f"TSDB at {self.url} unreachable: {exc}") from exc
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise MetricsQueryError(
                f"TSDB answered {response.status_code} without JSON: {response.text[:200]}"
            ) from None
        if response.status_code != 200 or body.get("status") != "success":
            raise MetricsQueryError(
                f"query {params.get('query')!r} failed ({response.status_code}): "
                f"{body.get('errorType', '')} {body.get('error', response.text[:200])}"
            )
        data: dict[str, Any] = body["data"]
        return data

    def query(self, promql: str, at: datetime | None = None) -> list[Sample]:
        """An instant query; a scalar result comes back as one sample without labels."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        data = self._get("/api/v1/query", params)
        kind = data.get("resultType")
        if kind == "vector":
            return [
                Sample(dict(r["metric"]), from_epoch(float(r["value"][0])), float(r["value"][1]))
                for r in data["result"]
            ]
        if kind == "scalar":
            stamp, value = data["result"]
            return [Sample({}, from_epoch(float(stamp)), float(value))]
        raise MetricsQueryError(f"query {promql!r}: unexpected result type {kind!r}")

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_seconds: float
    ) -> list[Series]:
        """A range query from ``start`` to ``end`` every ``step_seconds``."""
        if step_seconds <= 0:
            raise ValueError("step_seconds must be positive")
        params = {
            "query": promql,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_seconds}s",
        }
        data = self._get("/api/v1/query_range", params)
        if data.get("resultType") != "matrix":
            raise MetricsQueryError(f"range query {promql!r}: got {data.get('resultType')!r}")
        return [
            Series(
                dict(r["metric"]),
                [(from_epoch(float(t)), float(v)) for t, v in r["values"]],
            )
            for r in data["result"]
        ]

    def value(self, promql: str, default: float | None = None) -> float | None:
        """The single value of an instant query, or ``default`` when it has no result."""
        samples = self.query(promql)
        return samples[0].value if samples else default
