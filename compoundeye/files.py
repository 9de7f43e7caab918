"""Files private by default: the umask of every service and the data directory's mode.

Every ``compoundeye`` command runs with umask 077 (027 when ``CE_DATA_GROUP`` names a
group), so whatever it or its children (ffmpeg, SQLite) create is 0600 / directories
0700 (0640 / 0750): the database, recordings, snapshots, exports, tokens and keys. The
data directory itself is set to 0700 (or 2750 and given to the group, whose setgid bit
makes new files inherit the group) when a service starts, so files made before this
version, still 0644, are out of reach of other users too.
"""

from __future__ import annotations

import grp
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
GROUP_UMASK = 0o027
PRIVATE_DIR_MODE = 0o700
GROUP_DIR_MODE = 0o2750
DATA_SUBDIRS = ("recordings", "snapshots", "exports")


def umask_for(group: str) -> int:
    """The umask of the services: 077, or 027 when a group shares the data."""
    return GROUP_UMASK if group else PRIVATE_UMASK


@contextmanager
def private_umask(group: str = "") -> Iterator[None]:
    """Run the block with the services' umask, restoring the previous one afterwards."""
    previous = os.umask(umask_for(group))
    try:
        yield
    finally:
        os.umask(previous)


class DataGroupError(ValueError):
    """``CE_DATA_GROUP`` names no group of this machine."""


def secure_data_dir(data_dir: Path, group: str = "") -> None:
    """Create the data directory and its top-level folders with private modes, and make an
    existing one private (:class:`DataGroupError` for an unknown group)."""
    try:
        gid = grp.getgrnam(group).gr_gid if group else None
    except KeyError:
        raise DataGroupError(f"CE_DATA_GROUP: no group {group!r} on this machine") from None
    mode = GROUP_DIR_MODE if group else PRIVATE_DIR_MODE
    for path in (data_dir, *(data_dir / name for name in DATA_SUBDIRS)):
        path.mkdir(parents=True, exist_ok=True)
        if gid is not None:
            os.chown(path, -1, gid)
        path.chmod(mode)
