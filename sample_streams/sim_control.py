"""The RTSP simulator's control connection handler (stdlib only; see rtsp_sim)."""

from __future__ import annotations

import json
import socketserver
from collections.abc import Callable
from typing import Any


class ControlHandler(socketserver.StreamRequestHandler):
    """One control connection: read command lines, run each on the GLib loop, answer JSON."""

    def handle(self) -> None:
        run: Callable[[str], dict[str, Any]] = self.server.run_command  # type: ignore[attr-defined]
        for raw in self.rfile:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            reply = run(line)
            self.wfile.write((json.dumps(reply) + "\n").encode())
            self.wfile.flush()
