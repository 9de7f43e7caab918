"""What every long-running ``compoundeye`` process does around its service object."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Protocol

from compoundeye.site.credentials import Credentials, CredentialsFileError
from compoundeye.site.loader import SiteConfigError, load_site
from compoundeye.site.models import Site


class Service(Protocol):
    """A long-running part: ``run()`` blocks until ``stop()`` is called (from any thread)."""

    def run(self) -> None: ...

    def stop(self) -> None: ...


def load_site_or_report(path: Path, *, credentials: bool = False) -> Site | None:
    """The site file, or None after writing every problem in it to stderr.

    ``credentials``: resolve the camera URLs' ``${VAR}`` references from the environment
    and ``CE_CREDENTIALS_FILE`` (only for processes that connect to cameras).
    """
    try:
        found = Credentials.from_environment() if credentials else None
        return load_site(path, found)
    except (SiteConfigError, CredentialsFileError) as exc:
        sys.stderr.write(f"{exc}\n")
        return None


def run_until_signalled(service: Service) -> int:
    """Run ``service`` with SIGINT and SIGTERM both asking it to stop; exit status 0.

    The handlers only ask; the service finishes its own work and cleans up in ``run``.
    The previous handlers are put back afterwards.
    """

    def _ask_stop(_signum: int, _frame: FrameType | None) -> None:
        service.stop()

    previous = {sig: signal.signal(sig, _ask_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        service.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
