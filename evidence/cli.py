"""``compoundeye export create|verify|search|custody`` and ``compoundeye keys show|rotate``:
the export, its verification, a case's custody report and the signing keys from a shell.

Exit codes: 0 success (verify: intact), 1 failure (verify: tampered or incomplete),
2 bad input or a refused request (the reason on stderr).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from contextlib import suppress
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from compoundeye.recordings import UnsafePathError
from compoundeye.settings import Settings
from compoundeye.site import SiteConfigError, load_site
from compoundeye.timeutil import parse_rfc3339, to_rfc3339
from evidence.audit import AuditLog, LogAudit, record_search
from evidence.export_jobs import ExportManager
from evidence.export_models import ExportRefusedError, ExportRequest, ExportState
from evidence.search import Place, SearchError, search_coverage
from evidence.signing import KEYRING_FILE, Keyring, grouped
from evidence.verify import VerifyReport, verify_details, verify_export

log = logging.getLogger(__name__)
CLI_ROLE = "cli"


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _open_store(settings: Settings, *, create: bool) -> Any:
    """The SQL store when one is configured (or its SQLite file exists), else None."""
    if (not create and not settings.database_url
            and not (settings.data_dir / "compoundeye.db").is_file()):
        return None
    try:
        from compoundeye.store import Store

        return Store.from_settings(settings)
    except Exception as exc:  # the export still runs; its audit goes to the log
        log.warning("audit store unavailable (%s); audit records go to the log", exc)
        return None


def _user(given: str | None) -> str:
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def create(args: argparse.Namespace) -> int:
    """Run one export in the foreground, reporting progress on stderr."""
    settings = Settings()
    try:
        site = load_site(args.site)
        request = ExportRequest(
            camera_ids=args.cameras, start=parse_rfc3339(args.start),
            end=parse_rfc3339(args.end), case_id=args.case_id, reason=args.reason,
            requester=_user(args.requester), place=Place(camera_ids=args.cameras))
    except SiteConfigError as exc:
        _err(str(exc))
        return 2
    except (ValidationError, ValueError) as exc:
        _err(f"bad request: {exc}")
        return 2
    store = _open_store(settings, create=True)
    manager = ExportManager.from_settings(site, settings, store=store)
    try:
        status = manager.submit(request, role=CLI_ROLE)
        _err(f"export {status.id} queued")
        status = manager.wait(status.id)
    except ExportRefusedError as exc:
        _err(f"refused: {exc}")
        return 2
    finally:
        manager.stop()
        if store is not None:
            store.close()
    if status.state is not ExportState.DONE:
        _err(f"export {status.id} failed: {status.error}")
        return 1
    _out(f"export     {status.id}")
    _out(f"directory  {status.directory}")
    _out(f"manifest   sha256 {status.manifest_sha256}")
    _out(f"download   {status.download}")
    return 0


def _site_keyring(settings: Settings) -> Keyring | None:
    """The site's keyring when this machine has one (verifying never makes a key)."""
    keyring = Keyring.from_settings(settings)
    return keyring if (keyring.directory / KEYRING_FILE).is_file() else None


def verify(args: argparse.Namespace) -> int:
    """Check an export's signature and recompute its hashes (a directory, or the zip
    handed out); exit 0 when intact, 1 otherwise. The signing key must be one of the
    site's (when this machine has the site's keyring). The manifest's own hash is checked
    against ``--manifest-sha256`` or, without it, against the audit record of the export
    when the store is reachable. The check is audited (``export.verify``) there too."""
    directory: Path = args.directory
    expected = getattr(args, "manifest_sha256", None)
    settings = Settings()
    keyring = _site_keyring(settings)
    report = verify_export(directory, expected, keyring=keyring)
    if expected is None and report.export_id and report.manifest_sha256:
        expected = _recorded_manifest_sha(report.export_id)
        if expected is not None and expected.lower() != report.manifest_sha256:
            report.errors.append(
                "manifest SHA-256 differs from the one recorded at export time")
            report.ok = False
    signature = report.signature
    if signature is not None:
        who = f" by key {signature.key_id} (fingerprint {signature.fingerprint})" \
            if signature.key_id else ""
        whose = {True: ", one of the site's keys", False: ", NOT one of the site's keys",
                 None: " (no site keyring here: compare the fingerprint)"}[signature.site_key]
        _out(f"SIGNATURE {signature.status.value}{who}{whose if signature.key_id else ''}"
             + (f": {signature.detail}" if signature.detail else ""))
    for check in report.files:
        line = f"{check.status.value:<9} {check.path}"
        _out(line + (f"  ({check.detail})" if check.detail else ""))
    for error in report.errors:
        _out(f"ERROR     {error}")
    if report.manifest_sha256:
        source = "matches the audit record" if expected and not report.errors else (
            "no audit record to compare" if not expected else "see errors")
        _out(f"manifest  sha256 {report.manifest_sha256} ({source})")
    _out("INTACT" if report.ok else "NOT INTACT")
    _audit_verify(settings, report)
    return 0 if report.ok else 1


def _audit_verify(settings: Settings, report: VerifyReport) -> None:
    store = _open_store(settings, create=False)
    if store is None or not report.export_id:
        return
    try:
        store.audit.record(_user(None), CLI_ROLE, "export.verify", report.export_id,
                           verify_details(report))
    except Exception as exc:
        log.warning("could not audit the verification: %s", exc)
    finally:
        store.close()


def _recorded_manifest_sha(export_id: str) -> str | None:
    """The manifest SHA-256 recorded in the audit trail when the export finished."""
    store = _open_store(Settings(), create=False)
    if store is None:
        return None
    try:
        entries = store.audit.list(action="export.done", target=export_id, limit=1)
        value = entries[0].details.get("manifest_sha256") if entries else None
        return str(value) if value else None
    except Exception as exc:
        log.warning("could not read the audit trail: %s", exc)
        return None
    finally:
        store.close()


def _place(args: argparse.Namespace) -> Place:
    lat = lon = None
    if args.near:
        try:
            lat_text, lon_text = args.near.split(",")
            lat, lon = float(lat_text), float(lon_text)
        except ValueError:
            raise ValueError(f"--near wants lat,lon, got {args.near!r}") from None
    return Place(building=args.building, zone=args.zone, door=args.door, lat=lat, lon=lon,
                 radius_m=args.radius_m, camera_ids=args.cameras)


def search(args: argparse.Namespace) -> int:
    """List the cameras of a place with their coverage and gaps over a window."""
    settings = Settings()
    try:
        site = load_site(args.site)
        start, end = parse_rfc3339(args.start), parse_rfc3339(args.end)
        place = _place(args)
        results = search_coverage(site, settings.recordings_dir, start, end, place)
    except SiteConfigError as exc:
        _err(str(exc))
        return 2
    except (ValidationError, SearchError, UnsafePathError, ValueError) as exc:
        _err(f"bad search: {exc}")
        return 2
    store = _open_store(settings, create=True)
    audit: AuditLog = store.audit if store is not None else LogAudit()
    try:
        record_search(audit, actor=_user(None), role=CLI_ROLE, place=place, start=start,
                      end=end, results=results)
    finally:
        if store is not None:
            with suppress(Exception):
                store.close()
    _out(f"{len(results)} camera(s), {place.describe()}, "
         f"{to_rfc3339(start)} .. {to_rfc3339(end)}")
    for r in results:
        where = f"{r.location.building}/{r.location.zone or '-'}"
        _out(f"{r.camera_id:<24} {where:<20} {r.matched_by:<22} "
             f"coverage {r.coverage * 100:5.1f}%  gaps {len(r.gaps)}")
        for gap in r.gaps:
            _out(f"    gap {to_rfc3339(gap.start)} .. {to_rfc3339(gap.end)}  {gap.reason}")
    return 0


def custody(args: argparse.Namespace) -> int:
    """Write a case's custody report (JSON, HTML or PDF) to ``--output`` or stdout."""
    from evidence.custody import CaseNotFoundError, build_report, record_report
    from evidence.custody_html import PdfUnavailableError, render_html, render_pdf

    settings = Settings()
    store = _open_store(settings, create=False)
    if store is None:
        _err("no store configured (CE_DATABASE_URL) or found in CE_DATA_DIR")
        return 2
    try:
        report = build_report(store, args.case_id, generated_by=_user(None))
        data: bytes
        if args.format == "json":
            data = (report.model_dump_json(indent=2) + "\n").encode("utf-8")
        elif args.format == "html":
            data = render_html(report).encode("utf-8")
        else:
            data = render_pdf(render_html(report))
        record_report(store, report, actor=_user(None), role=CLI_ROLE, ip=None,
                      output=args.format)
    except CaseNotFoundError as exc:
        _err(str(exc))
        return 2
    except PdfUnavailableError as exc:
        _err(str(exc))
        return 1
    finally:
        store.close()
    if args.output is None:
        sys.stdout.buffer.write(data)
    else:
        args.output.write_bytes(data)
        _err(f"{len(report.events)} event(s) of case {args.case_id} written to {args.output}")
    return 0


def keys_show(args: argparse.Namespace) -> int:
    """List the site's export-signing public keys, current first."""
    del args
    keyring = Keyring.from_settings(Settings())
    current = keyring.current_id()
    for key in reversed(keyring.public_keys()):
        state = "current" if key.key_id == current else (
            f"retired {key.retired_at.isoformat()}" if key.retired_at else "old")
        _out(f"{key.key_id}  {state}  made {key.created_at.isoformat()}")
        _out(f"    fingerprint {grouped(key.fingerprint)}")
    return 0


def keys_rotate(args: argparse.Namespace) -> int:
    """Make a new signing key; the old public key stays for verifying old exports."""
    del args
    settings = Settings()
    old, new = Keyring.from_settings(settings).rotate()
    store = _open_store(settings, create=True)
    if store is not None:
        try:
            store.audit.record(_user(None), CLI_ROLE, "keys.rotate", new.key_id, {
                "old_key_id": old.key_id if old else None, "new_key_id": new.key_id,
                "new_fingerprint": new.fingerprint})
        finally:
            store.close()
    _out(f"retired    {old.key_id if old else '(none)'}")
    _out(f"current    {new.key_id}")
    _out(f"fingerprint {grouped(new.fingerprint)}")
    return 0
