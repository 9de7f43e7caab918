"""The one way tests wait for something that happens on another thread or process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, *,
         between: Callable[[], object] | None = None) -> T:
    """Call ``check`` until it returns something truthy or ``timeout`` seconds pass.

    Returns the first truthy value, or the last value seen at the deadline (so the caller's
    assertion shows what was there). ``between`` runs before each retry, e.g. to ask a
    TSDB to flush what it has buffered.
    """
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        if between is not None:
            between()
        time.sleep(interval)
        value = check()
    return value


def wait_until(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, *,
               what: str = "condition", detail: Callable[[], str] | None = None) -> T:
    """Like :func:`poll`, but a timeout fails the test, saying what was awaited.

    ``detail`` is called only on failure, for context such as a service's log tail.
    """
    value = poll(check, timeout, interval)
    if not value:
        extra = f"\n{detail()}" if detail is not None else ""
        raise AssertionError(f"not within {timeout:g} s: {what}{extra}")
    return value
