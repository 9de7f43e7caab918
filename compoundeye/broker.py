"""The door broker's security: accounts, topic ACL, certificates, controller credentials.

One home for what Mosquitto is told, used by ``deploy/mosquitto/`` (the production
configuration and ``add-controller.sh``), by the private broker of the tests and the demo
(:mod:`compoundeye.services`), and by ``compoundeye door-credentials``:

- every controller signs in with its door id as user name and may publish only to its own
  door's topics (``pattern write doors/%u/events`` and ``.../send``), reading nothing;
- the door listener (``ce-listener``) reads every door's topics and writes its own status;
- no anonymous client is accepted, and a TLS listener serves every network a resident can
  reach.

Passwords are hashed by ``mosquitto_passwd``; certificates are made by ``openssl``.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from compoundeye import names

LISTENER_USER = "ce-listener"
"""The door listener's account: reads every door, writes its own status topic."""
SITE_USER = "ce-site"
"""The engineer's account of the private broker (demo, tests, ``mosquitto_pub``): reads and
publishes every topic, so for every door. Not part of the production ACL."""
DOOR_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def controller_acl(prefix: str = names.DEFAULT_DOOR_PREFIX) -> str:
    """ACL lines of every controller and the listener (Mosquitto ``acl_file`` syntax)."""
    return (
        "# The door listener: every door's events, and its own online/offline status.\n"
        f"user {LISTENER_USER}\n"
        f"topic read {names.door_topic_filter(prefix)}\n"
        f"topic read {names.door_send_topic_filter(prefix)}\n"
        f"topic readwrite {prefix}/_listeners/#\n"
        "\n"
        "# Every controller signs in with its door id as user name and may publish only\n"
        "# for its own door (native and esp-rfid topics); it reads nothing.\n"
        f"pattern write {names.door_topic(prefix, '%u')}\n"
        f"pattern write {prefix}/%u/send\n"
    )


def site_user_acl() -> str:
    """ACL lines of :data:`SITE_USER` (every topic; the private broker only)."""
    return f"\nuser {SITE_USER}\ntopic readwrite #\n"


def new_password() -> str:
    """A random password that needs no escaping in a URL or a shell."""
    return secrets.token_urlsafe(24)


def _passwd_tool() -> str:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise FileNotFoundError("mosquitto_passwd not found (Debian package mosquitto)")
    return tool


def set_password(password_file: Path, user: str, password: str) -> None:
    """Add or replace ``user`` in a Mosquitto password file (created 0600 if absent)."""
    if ":" in user or not user:
        raise ValueError("MQTT user names may not be empty or contain ':'")
    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    subprocess.run([_passwd_tool(), "-b", str(password_file), user, password], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=30)
    password_file.chmod(0o600)


@dataclass(frozen=True)
class Certificates:
    """A CA and a server certificate signed by it (PEM files)."""

    ca_file: Path
    ca_key: Path
    cert_file: Path
    key_file: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)


def _ec_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", str(path))
    path.chmod(0o600)


def make_ca(directory: Path, name: str = "compoundeye broker CA") -> tuple[Path, Path]:
    """A self-signed CA in ``directory`` (``ca.pem``, ``ca.key``)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_file = directory / "ca.key", directory / "ca.pem"
    _ec_key(ca_key)
    _openssl("req", "-x509", "-new", "-key", str(ca_key), "-out", str(ca_file), "-days", "3650",
             "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return ca_file, ca_key


def issue_certificate(directory: Path, stem: str, common_name: str, ca_file: Path,
                      ca_key: Path, *, server_names: tuple[str, ...] = (),
                      client: bool = False) -> tuple[Path, Path]:
    """A certificate and key (``<stem>.pem``, ``<stem>.key``) signed by the CA.

    ``server_names`` are IP addresses or DNS names for the subjectAltName of a server
    certificate; ``client=True`` makes a client certificate instead.
    """
    key, csr, cert = directory / f"{stem}.key", directory / f"{stem}.csr", directory / f"{stem}.pem"
    ext = directory / f"{stem}.ext"
    _ec_key(key)
    _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={common_name}")
    lines = ["basicConstraints=critical,CA:FALSE", "subjectKeyIdentifier=hash",
             "authorityKeyIdentifier=keyid,issuer"]
    if client:
        lines += ["keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"]
    else:
        alt = ",".join(f"IP:{n}" if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+:[0-9a-fA-F:]*", n)
                       else f"DNS:{n}" for n in server_names or (common_name,))
        lines += ["keyUsage=critical,digitalSignature,keyEncipherment",
                  "extendedKeyUsage=serverAuth", f"subjectAltName={alt}"]
    ext.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_file), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", "825", "-extfile", str(ext))
    csr.unlink(missing_ok=True)
    ext.unlink(missing_ok=True)
    return cert, key


def make_certificates(directory: Path, host: str = "127.0.0.1") -> Certificates:
    """A CA and a broker certificate for ``host`` (and ``localhost``)."""
    ca_file, ca_key = make_ca(directory)
    cert, key = issue_certificate(directory, "server", host, ca_file, ca_key,
                                  server_names=(host, "localhost"))
    return Certificates(ca_file, ca_key, cert, key)


def add_controller(password_file: Path, door_id: str,
                   keys_file: Path | None = None) -> tuple[str, bytes | None]:
    """Make a controller's broker password (and, with ``keys_file``, its HMAC key)."""
    if not DOOR_ID_RE.fullmatch(door_id):
        raise ValueError(f"door id {door_id!r}: 1-64 letters, digits, '_', '.', '-'")
    password = new_password()
    set_password(password_file, door_id, password)
    key = None
    if keys_file is not None:
        from compoundeye.door_signing import add_door_key

        key = add_door_key(keys_file, door_id)
    return password, key


def cli_add_controller(args: argparse.Namespace) -> int:
    """``compoundeye door-credentials DOOR --password-file F [--keys-file K]``."""
    try:
        password, key = add_controller(args.password_file, args.door, args.keys_file)
    except (ValueError, OSError, subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"door-credentials: {exc}\n")
        return 2
    sys.stdout.write(f"user {args.door}\npassword {password}\n")
    if key is not None:
        sys.stdout.write(f"hmac_key {key.hex()}\n")
    sys.stderr.write(f"{args.door}: password hashed into {args.password_file}"
                     + (f", HMAC key stored in {args.keys_file}" if key is not None else "")
                     + "; send SIGHUP to mosquitto to load it. Shown only this once.\n")
    return 0


@dataclass(frozen=True)
class BrokerAccounts:
    """The private broker's accounts and TLS files (made once per broker directory)."""

    site_password: str
    listener_password: str
    certificates: Certificates
    password_file: Path


def private_accounts(workdir: Path) -> BrokerAccounts:
    """The accounts, password file, ACL and certificates of a private broker in
    ``workdir``, made on first use (kept for restarts on the same directory)."""
    secrets_file = workdir / "accounts"
    certs = workdir / "tls"
    password_file = workdir / "passwd"
    if not secrets_file.exists():
        site, listener = new_password(), new_password()
        make_certificates(certs)
        set_password(password_file, SITE_USER, site)
        set_password(password_file, LISTENER_USER, listener)
        (workdir / "acl").write_text(controller_acl() + site_user_acl(),
                                     encoding="utf-8")
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{site}\n{listener}\n")
    site, listener = secrets_file.read_text(encoding="utf-8").split()
    return BrokerAccounts(site, listener, Certificates(
        certs / "ca.pem", certs / "ca.key", certs / "server.pem", certs / "server.key"),
        password_file)
