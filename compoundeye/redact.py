"""Keeping secrets out of logs, status hashes, API responses, metrics and manifests.

Camera and broker URLs carry credentials (``rtsp://admin:pass@cam/...``,
``mqtts://listener:secret@broker:8883``) and tools print them back (ffmpeg's stderr names
the URL it failed on). Everything that shows a URL or a line a tool wrote goes through
:func:`redact_url` or :func:`redact_text` first: one helper, used everywhere.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s]*@)")
_SECRET_PARAM = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|pass|token|secret|key|auth|sig|signature)=)"
    r"(?P<value>[^&\s\"']+)", re.IGNORECASE)
_AUTH_HEADER = re.compile(
    r"(?P<key>\b(?:authorization|proxy-authorization|www-authenticate)\s*:\s*)(?P<value>.+)",
    re.IGNORECASE)
_DIGEST_FIELD = re.compile(r'(?P<key>\b(?:response|nonce|cnonce)\s*=\s*)"?[^",\s]+"?',
                           re.IGNORECASE)


def redact_url(url: str) -> str:
    """The URL with its password (and any secret query parameter) masked.

    The user name stays (it says which account failed); the password never does. A URL
    that cannot be parsed is treated as text.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if user else f"{MASK}@{host}"
    query = _SECRET_PARAM.sub(lambda m: f"{m['key']}{MASK}", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Free text (a tool's stderr line, an exception message) with every secret masked:
    URL userinfo, secret query parameters, authorization headers and digest fields."""
    out = _USERINFO.sub(lambda m: f"{m['scheme']}{_mask_userinfo(m['userinfo'])}", text)
    out = _SECRET_PARAM.sub(lambda m: f"{m['key']}{MASK}", out)
    out = _AUTH_HEADER.sub(lambda m: f"{m['key']}{MASK}", out)
    return _DIGEST_FIELD.sub(lambda m: f"{m['key']}{MASK}", out)


def _mask_userinfo(userinfo: str) -> str:
    user = userinfo[:-1].split(":", 1)[0]
    return f"{user}:{MASK}@" if user else f"{MASK}@"
