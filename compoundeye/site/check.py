"""``compoundeye check-config FILE``: validate a site file and name every error."""

from __future__ import annotations

import argparse
import sys
import time

from compoundeye.site.credentials import Credentials, CredentialsFileError
from compoundeye.site.loader import SiteConfigError, load_site


def run(args: argparse.Namespace) -> int:
    """Print a summary of a valid site, or every error with its path; exit 1 on errors.

    Camera URLs' ``${VAR}`` references are resolved as ``compoundeye edge`` would (the
    environment, ``CE_CREDENTIALS_FILE``), so an unset one is named by its YAML path or
    CSV row; ``--no-credentials`` checks only that they are well formed.
    """
    started = time.perf_counter()
    try:
        credentials = (None if getattr(args, "no_credentials", False)
                       else Credentials.from_environment())
        site = load_site(args.file, credentials)
    except CredentialsFileError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except SiteConfigError as exc:
        sys.stderr.write(f"{exc.source}: invalid, {len(exc.errors)} error(s)\n")
        for error in exc.errors:
            sys.stderr.write(f"  {error}\n")
        return 1
    elapsed = time.perf_counter() - started
    buildings = {c.location.building for c in site.cameras} | {
        d.location.building for d in site.doors
    }
    sys.stdout.write(
        f"{args.file}: ok: {len(site.cameras)} cameras, {len(site.doors)} doors, "
        f"{len(buildings)} buildings, {len(site.schedules)} schedules "
        f"(checked in {elapsed:.2f} s)\n"
    )
    return 0
