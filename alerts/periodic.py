"""A chore a service loop runs every so many seconds, between its reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Periodic:
    """Runs ``action`` when ``run`` is called at least ``every`` seconds after its last run.

    Times are monotonic seconds. The next run is scheduled from when the chore starts, so
    a slow chore does not drift; ``every`` 0 runs it on every call.
    """

    every: float
    action: Callable[[], object]
    next_at: float = 0.0

    def run(self, now: float) -> bool:
        """Run the chore if it is due at ``now``; whether it ran."""
        if now < self.next_at:
            return False
        self.next_at = now + self.every
        self.action()
        return True
