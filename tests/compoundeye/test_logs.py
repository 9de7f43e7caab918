"""Every log line of a ``compoundeye`` process goes out with its secrets masked."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging
from compoundeye.logs import setup_logging
setup_logging("DEBUG")
log = logging.getLogger("some.library")
log.debug("opening %s", "rtsp://admin:hunter2@10.0.0.5/101")
try:
    raise RuntimeError("cannot open rtsp://admin:hunter2@10.0.0.5/101")
except RuntimeError:
    log.exception("reader failed")
"""


def test_log_lines_and_tracebacks_are_masked() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60, check=True)
    assert "hunter2" not in done.stderr + done.stdout
    assert done.stderr.count("rtsp://admin:***@10.0.0.5/101") == 2  # message, traceback
    assert "Traceback" in done.stderr and "some.library: opening" in done.stderr
