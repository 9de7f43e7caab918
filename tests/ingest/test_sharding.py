"""Sharding: every camera in exactly one shard, the same one every time."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.sharding import select_shard, shard_of, split


@dataclass(frozen=True)
class Cam:
    id: str


REFERENCE_SITE = Path(__file__).resolve().parents[2] / "deploy" / "site" / "compound.yaml"


def reference_ids() -> list[str]:
    """The reference site's camera ids; 2,400 ids shaped like them while it is absent."""
    if REFERENCE_SITE.is_file():
        from compoundeye.site.loader import load_site

        return [c.id for c in load_site(REFERENCE_SITE).cameras]
    return [f"b{b:03d}-cam{c:02d}" for b in range(1, 287) for c in range(1, 9)][:2400]


def test_three_shards_cover_every_camera_once() -> None:
    cams = [Cam(i) for i in reference_ids()]
    shards = [select_shard(cams, i, 3) for i in range(3)]
    seen = [c.id for shard in shards for c in shard]
    assert sorted(seen) == sorted(c.id for c in cams)
    assert len(seen) == len(set(seen)) == len(cams) >= 2400
    # A fair hash spreads them: every shard within 12% of a third.
    sizes = [len(s) for s in shards]
    assert all(abs(n - len(cams) / 3) <= 0.12 * len(cams) / 3 for n in sizes), sizes


def test_split_matches_select() -> None:
    ids = reference_ids()[:300]
    by_split = split(ids, 4)
    for i in range(4):
        assert [c.id for c in select_shard([Cam(x) for x in ids], i, 4)] == by_split[i]


def test_stable_across_processes() -> None:
    """A restarted worker (a new interpreter, new hash salt) takes the same cameras back."""
    ids = reference_ids()[:50]
    here = [shard_of(i, 7) for i in ids]
    code = ("import sys, json; from ingest.sharding import shard_of; "
            f"print(json.dumps([shard_of(i, 7) for i in {ids!r}]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "12345", "PATH": ""}, cwd=".")
    assert json.loads(out.stdout) == here


def test_one_shard_takes_everything() -> None:
    assert all(shard_of(i, 1) == 0 for i in reference_ids()[:100])


@pytest.mark.parametrize(("index", "count"), [(-1, 3), (3, 3), (0, 0)])
def test_bad_shard_is_refused(index: int, count: int) -> None:
    with pytest.raises(ValueError):
        select_shard([Cam("a")], index, count)
