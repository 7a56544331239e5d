"""The JSON 1.1 / CBOR wire: targets, bodies, error shapes, limits (reference: Wire protocol)."""

import base64
import hashlib

import cbor2
import orjson
import pytest
from _raw import CBOR_TYPE, post


@pytest.fixture
def url(make_endpoint) -> str:
    return make_endpoint(max_body=64 * 1024).url


def _error_of(answer):
    assert answer.status == 400, answer.body
    assert answer.headers["x-amzn-requestid"]
    body = answer.json()
    assert set(body) == {"__type", "message"}
    return body["__type"]


@pytest.mark.parametrize(
    "target",
    [None, "", "Kinesis_20131202", "Kinesis_20131202.Nope", "Other_1.ListStreams", "ListStreams"],
)
def test_unknown_targets_are_unknown_operations(url, target):
    assert _error_of(post(url, b"{}", target=target)) == "UnknownOperationException"


def test_a_model_operation_the_workbench_does_not_serve_says_so(url):
    answer = post(url, b"{}", target="Kinesis_20131202.DescribeLimits")
    assert _error_of(answer) == "UnknownOperationException"
    assert "does not serve" in answer.json()["message"]


@pytest.mark.parametrize("body", [b"{", b"[]", b'"x"', b"\xff\xfe", b"null", b"{'a': 1}"])
def test_malformed_or_non_object_json_is_a_serialization_error(url, body):
    assert _error_of(post(url, body)) == "SerializationException"


def test_an_empty_body_is_an_empty_request(url):
    answer = post(url, b"", target="Kinesis_20131202.DescribeStream")
    assert _error_of(answer) == "ValidationException"
    assert "Either StreamName or StreamARN" in answer.json()["message"]


def test_validation_happens_before_any_engine_call(url):
    body = orjson.dumps({"StreamName": "../../etc", "ShardCount": 1})
    answer = post(url, body, target="Kinesis_20131202.CreateStream")
    assert _error_of(answer) == "ValidationException"
    assert "streamName" in answer.json()["message"]


def test_bad_base64_is_a_serialization_error(url):
    body = orjson.dumps({"StreamName": "s", "PartitionKey": "k", "Data": "%%%"})
    assert _error_of(post(url, body, target="Kinesis_20131202.PutRecord")) == (
        "SerializationException"
    )


def test_an_unsupported_content_type_is_refused(url):
    answer = post(url, b"{}", content_type="text/plain")
    assert _error_of(answer) == "SerializationException"


def test_bodies_over_the_limit_are_refused_unread(url):
    body = orjson.dumps({"StreamName": "s", "PartitionKey": "k", "Data": "A" * 100_000})
    answer = post(url, body, target="Kinesis_20131202.PutRecord")
    assert answer.status == 413
    assert answer.json()["__type"] == "SerializationException"
    assert "over the limit" in answer.json()["message"]


def test_cbor_errors_come_back_in_cbor(url):
    body = cbor2.dumps({"StreamName": "a/b", "ShardCount": 1})
    answer = post(url, body, target="Kinesis_20131202.CreateStream", content_type=CBOR_TYPE)
    assert answer.status == 400
    assert answer.headers["content-type"].startswith(CBOR_TYPE)
    assert cbor2.loads(answer.body)["__type"] == "ValidationException"


@pytest.mark.parametrize("body", [b"\xa1\x61", b"\xff", b"\xa0\xff", b"\x9f"])
def test_malformed_cbor_is_a_serialization_error(url, body):
    answer = post(url, body, content_type=CBOR_TYPE)
    assert cbor2.loads(answer.body)["__type"] == "SerializationException"


def test_other_methods_and_paths_are_client_errors(url):
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    for method, path in [("GET", "/"), ("PUT", "/"), ("POST", "/x/../y")]:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request(method, path, body=b"{}")
        assert 400 <= conn.getresponse().status < 500
        conn.close()


def test_cbor_round_trip_of_put_and_get(endpoint, unique):
    """A Java-SDK-style client: blobs as byte strings, timestamps as CBOR tag 1."""
    name = unique("cbor")

    def call(operation, body):
        answer = post(
            endpoint.url,
            cbor2.dumps(body),
            target=f"Kinesis_20131202.{operation}",
            content_type=CBOR_TYPE,
        )
        assert answer.status == 200, cbor2.loads(answer.body)
        return cbor2.loads(answer.body) if answer.body else {}

    call("CreateStream", {"StreamName": name, "ShardCount": 1})
    put = call("PutRecord", {"StreamName": name, "PartitionKey": "part-00001", "Data": b"\x00\xff"})
    iterator = call(
        "GetShardIterator",
        {"StreamName": name, "ShardId": put["ShardId"], "ShardIteratorType": "TRIM_HORIZON"},
    )["ShardIterator"]
    records = call("GetRecords", {"ShardIterator": iterator})["Records"]
    assert [r["Data"] for r in records] == [b"\x00\xff"]
    assert records[0]["ApproximateArrivalTimestamp"].tzinfo is not None


def test_json_blobs_are_base64_on_the_wire(endpoint, unique):
    name = unique("b64")
    post(
        endpoint.url,
        orjson.dumps({"StreamName": name, "ShardCount": 1}),
        target="Kinesis_20131202.CreateStream",
    )
    data = base64.b64encode(b"\x00binary\xff").decode()
    put = post(
        endpoint.url,
        orjson.dumps({"StreamName": name, "PartitionKey": "k", "Data": data}),
        target="Kinesis_20131202.PutRecord",
    ).json()
    iterator = post(
        endpoint.url,
        orjson.dumps(
            {"StreamName": name, "ShardId": put["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}
        ),
        target="Kinesis_20131202.GetShardIterator",
    ).json()["ShardIterator"]
    got = post(
        endpoint.url,
        orjson.dumps({"ShardIterator": iterator}),
        target="Kinesis_20131202.GetRecords",
    ).json()
    assert got["Records"][0]["Data"] == data
    assert isinstance(got["Records"][0]["ApproximateArrivalTimestamp"], int | float)


def test_put_records_answers_alike_in_json_and_cbor_and_as_the_engine_routes(endpoint, unique):
    """PutRecords' answer is written out from columns: per record in request order, the
    shard its key hashes to and a sequence number that grows within that shard."""
    name = unique("answer")
    stream = endpoint.context.streams.create_stream(name, 4)
    ranges = {
        s["ShardId"]: tuple(int(s["HashKeyRange"][k]) for k in ("StartingHashKey", "EndingHashKey"))
        for s in stream.list_shards()
    }
    keys = [f"part-{i:05d}" for i in range(80)]
    records = [{"Data": key.encode(), "PartitionKey": key} for key in keys]
    json_body = {
        "StreamName": name,
        "Records": [{**r, "Data": base64.b64encode(r["Data"]).decode()} for r in records],
    }
    json_answer = post(
        endpoint.url, orjson.dumps(json_body), target="Kinesis_20131202.PutRecords"
    ).json()
    cbor_answer = cbor2.loads(
        post(
            endpoint.url,
            cbor2.dumps({"StreamName": name, "Records": records}),
            target="Kinesis_20131202.PutRecords",
            content_type=CBOR_TYPE,
        ).body
    )

    def numbers_per_shard(answer) -> dict[str, list[int]]:
        assert answer["FailedRecordCount"] == 0 and answer["EncryptionType"] == "NONE"
        per_shard: dict[str, list[int]] = {}
        for key, record in zip(keys, answer["Records"], strict=True):
            low, high = ranges[record["ShardId"]]
            assert low <= int.from_bytes(hashlib.md5(key.encode()).digest(), "big") <= high
            per_shard.setdefault(record["ShardId"], []).append(int(record["SequenceNumber"]))
        return per_shard

    first, then = numbers_per_shard(json_answer), numbers_per_shard(cbor_answer)
    assert first.keys() == then.keys() and len(first) > 1
    for shard, numbers in first.items():
        both = numbers + then[shard]
        assert both == sorted(set(both))  # strictly increasing, JSON's put before CBOR's
