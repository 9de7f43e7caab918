"""``GET /api/signing-keys``: the site's export-signing public keys and fingerprints, so
an investigator can give a court the fingerprint to check exports against."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from dashboard.deps import InvestigatorDep, StateDep
from evidence.signing import grouped

router = APIRouter(prefix="/api/signing-keys", tags=["signing keys"])


@router.get("", summary="The current and earlier export-signing public keys")
async def signing_keys(state: StateDep, _caller: InvestigatorDep) -> dict[str, Any]:
    keyring = state.exports.keyring
    keys = await run_in_threadpool(keyring.public_keys)
    current = await run_in_threadpool(keyring.current_id)
    return {"current": current,
            "keys": [{**k.model_dump(mode="json"), "fingerprint_grouped": grouped(k.fingerprint),
                      "current": k.key_id == current} for k in reversed(keys)]}
