"""compoundeye.redis_read against a real Redis: the same replies as a pipeline, in chunks."""

from __future__ import annotations

import uuid

import redis

from compoundeye.redis_read import hmget_many


def test_hmget_many_answers_as_a_pipeline_does(redis_client: redis.Redis) -> None:
    prefix = f"rr-{uuid.uuid4().hex[:8]}"
    keys = [f"{prefix}:{i}" for i in range(5)]
    for i, key in enumerate(keys[:4]):  # the last key does not exist
        redis_client.hset(key, mapping={"a": f"a{i}", **({"b": f"b{i}"} if i % 2 else {})})
    fields = ["a", "b", "missing"]
    pipe = redis_client.pipeline(transaction=False)
    for key in keys:
        pipe.hmget(key, fields)
    expected = pipe.execute()
    assert hmget_many(redis_client, keys, fields) == expected
    assert hmget_many(redis_client, keys, fields, chunk=2) == expected  # three calls
    assert expected[1] == [b"a1", b"b1", None] and expected[4] == [None, None, None]
    assert hmget_many(redis_client, [], fields) == []
