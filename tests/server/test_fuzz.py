"""Thousands of malformed requests: each gets a 4xx with an AWS error name, the server stays
up, and the records written before are all still there."""

from __future__ import annotations

import random

import cbor2
import orjson
from _raw import CBOR_TYPE, Connection, client_factory, post

REQUESTS = 2000
NASTY_NAMES = ["", "../etc", "..", "../../x", "a/b", "/abs", "x" * 129, "nul\x00", "sp ace", "ü"]
NASTY_VALUES = [None, 1, -1, 1.5, True, [], {}, "", "x" * 300, [1, 2], {"a": {}}, 1e300]


def _malformed(rng: random.Random, name: str) -> tuple[str | None, bytes, dict]:
    """One request that AWS would refuse: (target, body, options for ``post``)."""
    valid = {
        "PutRecord": {"StreamName": name, "PartitionKey": "k", "Data": "eA=="},
        "PutRecords": {"StreamName": name, "Records": [{"PartitionKey": "k", "Data": "eA=="}]},
        "GetShardIterator": {
            "StreamName": name,
            "ShardId": "shardId-000000000000",
            "ShardIteratorType": "TRIM_HORIZON",
        },
        "CreateStream": {"StreamName": name, "ShardCount": 1},
        "DeleteStream": {"StreamName": name},
        "ListShards": {"StreamName": name},
    }
    operation = rng.choice(sorted(valid))
    body = dict(valid[operation])
    target = f"Kinesis_20131202.{operation}"
    kind = rng.randrange(9)
    options: dict = {}
    if kind == 0:  # not JSON at all
        raw = b"\x00" + rng.randbytes(rng.randrange(0, 200))
        return target, raw, options
    if kind == 1:  # valid JSON cut short
        raw = orjson.dumps(body)
        return target, raw[: rng.randrange(1, len(raw))], options
    if kind == 2:  # a member of the wrong type
        key = rng.choice([k for k in body if k != "Records"] or ["StreamName"])
        body[key] = rng.choice([v for v in NASTY_VALUES if not isinstance(v, str)])
    elif kind == 3:  # a name no stream may have
        body["StreamName"] = rng.choice(NASTY_NAMES)
    elif kind == 4:  # an operation that does not exist
        target = rng.choice([None, "", "Kinesis_20131202.", "Nope.PutRecord"]) or target
        if target.endswith("PutRecord") or target.endswith(operation):
            target = f"Kinesis_20131202.{operation}Nope"
    elif kind == 5:  # no signature
        options["sign"] = False
    elif kind == 6:  # not base64, or a record list that breaks its limits
        if operation == "PutRecords":
            body["Records"] = rng.choice([[], [{"PartitionKey": "k", "Data": "%"}]])
        else:
            operation, target = "PutRecord", "Kinesis_20131202.PutRecord"
            body = {"StreamName": name, "PartitionKey": "k", "Data": rng.choice(["%", "e", "===="])}
    elif kind == 7:  # a body type the service doesn't speak
        options["content_type"] = rng.choice(["text/plain", "application/xml"])
    else:  # CBOR that doesn't decode
        options["content_type"] = CBOR_TYPE
        return target, rng.choice([b"\xff", b"\xa1\x61", b"\x9f\x01"]), options
    return target, orjson.dumps(body), options


def test_malformed_requests_get_4xx_and_lose_nothing(make_endpoint, tmp_path):
    endpoint = make_endpoint()
    kinesis = client_factory(endpoint.url)
    kinesis.create_stream(StreamName="kept", ShardCount=2)
    sent = [{"Data": f"{i}".encode(), "PartitionKey": f"part-{i:05d}"} for i in range(200)]
    assert kinesis.put_records(StreamName="kept", Records=sent)["FailedRecordCount"] == 0

    rng = random.Random(20260101)
    connection = Connection(endpoint.url)
    statuses: dict[int, int] = {}
    try:
        for _ in range(REQUESTS):
            target, body, options = _malformed(rng, "kept")
            answer = post(endpoint.url, body, target=target, connection=connection, **options)
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            assert 400 <= answer.status < 500, (target, body[:100], answer.body)
            cbor = answer.headers["content-type"].startswith(CBOR_TYPE)
            error = cbor2.loads(answer.body) if cbor else orjson.loads(answer.body)
            assert error["__type"].endswith("Exception"), error
    finally:
        connection.close()

    assert sum(statuses.values()) == REQUESTS
    received = {}
    for shard in kinesis.list_shards(StreamName="kept")["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName="kept", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = kinesis.get_records(ShardIterator=iterator)["Records"]
        received.update({r["PartitionKey"]: r["Data"] for r in records})
    assert received == {r["PartitionKey"]: r["Data"] for r in sent}
    assert kinesis.list_streams()["StreamNames"] == ["kept"]
    # Nothing was created beside the home, whatever the names asked for.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
