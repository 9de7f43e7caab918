"""The dashboard's own Prometheus metrics, kept in one small registry per app."""

from __future__ import annotations

import threading
from collections import defaultdict


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class DashboardMetrics:
    """Request counts and latencies by route, SSE clients, exported bytes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self._latency_sum: dict[str, float] = defaultdict(float)
        self._latency_count: dict[str, int] = defaultdict(int)
        self._sse_clients = 0
        self._sse_events = 0
        self._clip_cache_hits = 0
        self._clip_cache_misses = 0

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, str(status))] += 1
            self._latency_sum[route] += seconds
            self._latency_count[route] += 1

    def sse_connected(self, delta: int) -> None:
        with self._lock:
            self._sse_clients += delta

    def sse_sent(self, count: int) -> None:
        with self._lock:
            self._sse_events += count

    def clip(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self._clip_cache_hits += 1
            else:
                self._clip_cache_misses += 1

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        with self._lock:
            lines = [
                "# HELP ce_dashboard_http_requests_total HTTP requests by route and status.",
                "# TYPE ce_dashboard_http_requests_total counter",
            ]
            for (method, route, status), count in sorted(self._requests.items()):
                lines.append(
                    f'ce_dashboard_http_requests_total{{method="{_escape(method)}",'
                    f'route="{_escape(route)}",status="{status}"}} {count}'
                )
            lines += [
                "# HELP ce_dashboard_http_request_seconds Time spent answering, by route.",
                "# TYPE ce_dashboard_http_request_seconds summary",
            ]
            for route in sorted(self._latency_sum):
                label = f'{{route="{_escape(route)}"}}'
                lines.append(f"ce_dashboard_http_request_seconds_sum{label} "
                             f"{self._latency_sum[route]:.6f}")
                lines.append(f"ce_dashboard_http_request_seconds_count{label} "
                             f"{self._latency_count[route]}")
            lines += [
                "# HELP ce_dashboard_sse_clients Browsers connected to the alert stream.",
                "# TYPE ce_dashboard_sse_clients gauge",
                f"ce_dashboard_sse_clients {self._sse_clients}",
                "# HELP ce_dashboard_sse_events_total Alert changes pushed to browsers.",
                "# TYPE ce_dashboard_sse_events_total counter",
                f"ce_dashboard_sse_events_total {self._sse_events}",
                "# HELP ce_dashboard_clip_cache_total Clip requests by cache outcome.",
                "# TYPE ce_dashboard_clip_cache_total counter",
                f'ce_dashboard_clip_cache_total{{outcome="hit"}} {self._clip_cache_hits}',
                f'ce_dashboard_clip_cache_total{{outcome="miss"}} {self._clip_cache_misses}',
            ]
        return "\n".join(lines) + "\n"
