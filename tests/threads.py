"""Running a service object (``run()`` / ``stop()``) on a thread for the length of a test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar


class _Service(Protocol):
    def run(self) -> None: ...

    def stop(self) -> None: ...


ServiceT = TypeVar("ServiceT", bound=_Service)


@contextmanager
def running_in_thread(service: ServiceT, ready: threading.Event, name: str, *,
                      start_timeout: float = 10, stop_timeout: float = 20) -> Iterator[ServiceT]:
    """Start ``service.run`` on a thread, wait for ``ready``, and stop it afterwards,
    asserting that it really stopped."""
    thread = threading.Thread(target=service.run, name=name, daemon=True)
    thread.start()
    try:
        assert ready.wait(start_timeout), f"{name} did not start"
        yield service
    finally:
        service.stop()
        thread.join(timeout=stop_timeout)
        assert not thread.is_alive(), f"{name} did not stop"
