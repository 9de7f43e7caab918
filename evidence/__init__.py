"""Evidence: clip search by time and place, the desk's clips, and evidence export with a
chain of custody. It imports only the kernel (``compoundeye``), never a subsystem.

Used by the dashboard's routes, by ``compoundeye export`` and by ``bench/``:
``search_coverage`` (cameras, coverage and gaps for a place and window),
``ExportRequest`` and ``ExportManager`` (bounded background exports with progress),
``verify_export`` (check an export's signature and recompute its hashes), ``Keyring``
(the site's signing keys), ``evidence.custody`` (a case's chain of custody), and
``evidence.clips.ClipCache`` (the desk's MP4 clips), which shares its TS join and remux
with the export (``evidence.remux``).
"""

from evidence.audit import AuditLog, ExportRecords, LogAudit, record_search
from evidence.export_jobs import ExportManager
from evidence.export_models import (
    ExportLimits,
    ExportNotFoundError,
    ExportRefusedError,
    ExportRequest,
    ExportState,
    ExportStatus,
    NothingRecordedError,
    export_dir,
)
from evidence.exporter import ExportCancelledError, Exporter, ExportResult
from evidence.manifest import MANIFEST_NAME, Manifest, read_manifest
from evidence.search import CameraCoverage, Place, SearchError, Span, search_coverage
from evidence.signing import Keyring
from evidence.verify import (
    FileCheck,
    FileStatus,
    SignatureStatus,
    VerifyReport,
    verify_details,
    verify_export,
)

__all__ = [
    "MANIFEST_NAME",
    "AuditLog",
    "CameraCoverage",
    "ExportCancelledError",
    "ExportLimits",
    "ExportManager",
    "ExportNotFoundError",
    "ExportRecords",
    "ExportRefusedError",
    "ExportRequest",
    "ExportResult",
    "ExportState",
    "ExportStatus",
    "Exporter",
    "FileCheck",
    "FileStatus",
    "Keyring",
    "LogAudit",
    "Manifest",
    "NothingRecordedError",
    "Place",
    "SearchError",
    "SignatureStatus",
    "Span",
    "VerifyReport",
    "export_dir",
    "read_manifest",
    "record_search",
    "search_coverage",
    "verify_details",
    "verify_export",
]
