"""The ``compoundeye`` command line: argument parsing only.

Each subcommand names the function that runs it as ``module:function``; the module is
imported only when that subcommand runs, so ``compoundeye check-config`` never loads
OpenCV and ``compoundeye dashboard`` never loads the edge worker.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeAlias

from compoundeye import __version__
from compoundeye.auth.roles import Role

Handler = Callable[[argparse.Namespace], int]


def _shard(text: str) -> tuple[int, int]:
    try:
        index_text, count_text = text.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N such as 0/4, got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"shard {text!r}: need 0 <= I < N and N >= 1")
    return index, count


def _site_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", type=Path, required=True, help="the site YAML file")


Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_site_tools(sub: Subparsers) -> None:
    p = sub.add_parser("check-config", help="validate a site file")
    p.add_argument("file", type=Path)
    p.add_argument("--no-credentials", action="store_true",
                   help="do not resolve ${VAR} references in camera URLs (check their form only)")
    p.set_defaults(handler="compoundeye.site.check:run")

    p = sub.add_parser("demo", help="the whole compound on this machine")
    p.add_argument("--cameras", type=int, default=16, help="simulated cameras (default 16)")
    p.add_argument("--doors", type=int, default=16, help="simulated doors (default 16)")
    p.add_argument("--port", type=int, default=8080, help="dashboard port (default 8080)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    p.set_defaults(handler="compoundeye.demo:run")


def _add_services(sub: Subparsers) -> None:
    p = sub.add_parser("edge", help="edge worker: cameras, recorder, door listener")
    _site_arg(p)
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N")
    p.add_argument("--doors", action=argparse.BooleanOptionalAction, default=None,
                   help="run the MQTT door listener here (default: the site's edge.door_listener)")
    p.add_argument("--no-record", action="store_true", help="do not record the main streams")
    p.add_argument("--worker-id", default=None, help="default: hostname and shard")
    p.set_defaults(handler="ingest.main:run")

    p = sub.add_parser("doors", help="the MQTT door listener on its own")
    _site_arg(p)
    p.set_defaults(handler="ingest.doors.service:run")

    p = sub.add_parser("alerts", help="alerting service (consumer group on ce:events)")
    _site_arg(p)
    p.add_argument("--consumer", default=None, help="consumer name (default: host-pid)")
    p.set_defaults(handler="alerts.main:run")

    p = sub.add_parser("dashboard", help="the web dashboard and HTTP API")
    _site_arg(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(handler="dashboard.serve:run")

    p = sub.add_parser("live", help="the live-view engine (one upstream session per camera)")
    _site_arg(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default CE_LIVE_PORT (8555)")
    p.set_defaults(handler="dashboard.streaming.server:run")


def _add_export(sub: Subparsers) -> None:
    p = sub.add_parser("export", help="evidence export and verification")
    export_sub = p.add_subparsers(dest="export_command", required=True, metavar="ACTION")
    e = export_sub.add_parser("create", help="export clips of cameras over a time window")
    _site_arg(e)
    e.add_argument("--camera", action="append", required=True, dest="cameras")
    e.add_argument("--start", required=True, help="RFC 3339, e.g. 2026-11-03T21:40:00Z")
    e.add_argument("--end", required=True)
    e.add_argument("--case-id", required=True)
    e.add_argument("--reason", required=True)
    e.add_argument("--requester", default=None, help="default: the shell user")
    e.set_defaults(handler="evidence.cli:create")
    e = export_sub.add_parser("verify", help="recompute an export's hashes")
    e.add_argument("directory", type=Path)
    e.add_argument("--manifest-sha256", default=None,
                   help="the manifest hash recorded at export time (default: from the audit)")
    e.set_defaults(handler="evidence.cli:verify")
    e = export_sub.add_parser("search", help="cameras and recorded coverage for a place and window")
    _site_arg(e)
    e.add_argument("--start", required=True)
    e.add_argument("--end", required=True)
    e.add_argument("--building")
    e.add_argument("--zone")
    e.add_argument("--door")
    e.add_argument("--near", help="lat,lon")
    e.add_argument("--radius-m", type=float, default=50.0)
    e.add_argument("--camera", action="append", dest="cameras")
    e.set_defaults(handler="evidence.cli:search")
    e = export_sub.add_parser("custody", help="a case's chain of custody (JSON, HTML or PDF)")
    e.add_argument("--case-id", required=True)
    e.add_argument("--format", choices=["json", "html", "pdf"], default="json")
    e.add_argument("--output", type=Path, default=None, help="default: standard output")
    e.set_defaults(handler="evidence.cli:custody")


def _add_evidence_keys(sub: Subparsers) -> None:
    p = sub.add_parser("keys", help="the site's export-signing keys")
    keys_sub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    k = keys_sub.add_parser("show", help="public keys and fingerprints, current first")
    k.set_defaults(handler="evidence.cli:keys_show")
    k = keys_sub.add_parser("rotate", help="a new signing key; old public keys are kept")
    k.set_defaults(handler="evidence.cli:keys_rotate")

    p = sub.add_parser("audit", help="the audit trail")
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    a = audit_sub.add_parser("verify", help="walk the hash chain; name the first broken row")
    a.add_argument("--anchor", default=None, metavar="ID:HASH",
                   help="a head written down earlier (a custody report prints it)")
    a.add_argument("--json", action="store_true", help="print the report as JSON")
    a.set_defaults(handler="compoundeye.store.audit_chain:cli_verify")


def _add_token(sub: Subparsers) -> None:
    p = sub.add_parser("token", help="API tokens")
    token_sub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    t = token_sub.add_parser("add", help="create a token; printed once, only its hash is kept")
    t.add_argument("name")
    t.add_argument("--role", required=True, choices=[role.value for role in Role])
    t.set_defaults(handler="compoundeye.auth.tokens:cli_add")
    t = token_sub.add_parser("revoke", help="remove a token and end its sessions at once")
    t.add_argument("name")
    t.set_defaults(handler="compoundeye.auth.tokens:cli_revoke")

    p = sub.add_parser("door-credentials",
                       help="a door controller's broker password (and HMAC key), shown once")
    p.add_argument("door", help="the door id (the controller's MQTT user name)")
    p.add_argument("--password-file", type=Path, required=True,
                   help="the Mosquitto password file (created 0600 if absent)")
    p.add_argument("--keys-file", type=Path, default=None,
                   help="also make an HMAC key in this door keys file (CE_DOOR_KEYS_FILE)")
    p.set_defaults(handler="compoundeye.broker:cli_add_controller")


def _add_operations(sub: Subparsers) -> None:
    p = sub.add_parser("bench", help="run a benchmark against its baseline")
    p.add_argument("name", help="decode, motion, bus, export, search, ops, live, record")
    p.add_argument("--quick", action="store_true", help="a short run, for CI smoke tests")
    p.add_argument("--json", action="store_true", help="end with one JSON line of results")
    p.set_defaults(handler="bench.runner:run")

    p = sub.add_parser("health", help="check that Redis, MQTT, the TSDB and the store answer")
    p.set_defaults(handler="compoundeye.health:run")


COMMAND_GROUPS = (_add_site_tools, _add_services, _add_export, _add_evidence_keys, _add_token,
                  _add_operations)
"""Each adds its subcommands, every one naming its handler as ``module:function``."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, each subcommand carrying its handler's import path."""
    parser = argparse.ArgumentParser(
        prog="compoundeye",
        description="Surveillance cameras and door access for a large compound: edge workers, "
                    "alerting, dashboard, evidence export, benchmarks.")
    parser.add_argument("--version", action="version", version=f"compoundeye {__version__}")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (CE_LOG_LEVEL)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_commands in COMMAND_GROUPS:
        add_commands(sub)
    return parser


def _resolve(path: str) -> Handler:
    module_name, _, function_name = path.partition(":")
    module = importlib.import_module(module_name)
    handler: Handler = getattr(module, function_name)
    return handler


DATA_COMMANDS = frozenset({"demo", "edge", "doors", "alerts", "dashboard", "export"})
"""Commands that write into ``CE_DATA_DIR``: it is made private before they start."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``compoundeye`` console script."""
    from compoundeye.files import DataGroupError, private_umask, secure_data_dir
    from compoundeye.logs import setup_logging
    from compoundeye.settings import Settings

    args = build_parser().parse_args(argv)
    settings = Settings()
    setup_logging(args.log_level or settings.log_level)
    with private_umask(settings.data_group):
        try:
            if args.command in DATA_COMMANDS:
                secure_data_dir(settings.data_dir, settings.data_group)
            return _resolve(args.handler)(args)
        except DataGroupError as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
