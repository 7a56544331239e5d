"""Firehose_20150804 through boto3: delivery streams into the lake, put_record(_batch)."""

from __future__ import annotations

import time

import pytest
from _raw import client_factory
from botocore.exceptions import ClientError

from workbench import SimulatedClock, Workbench


@pytest.fixture
def lab(make_endpoint, tmp_path):
    """A workbench on simulated time with a bucket, its endpoint and a Firehose client."""
    wb = Workbench(home=tmp_path / "home", clock=SimulatedClock(start="2026-01-01T10:00:00Z"))
    wb.lake.create_bucket("lab")
    endpoint = make_endpoint(wb)
    return wb, client_factory(endpoint.url, "firehose")


def _create(firehose, name="retail"):
    return firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "BucketARN": "arn:aws:s3:::lab",
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "Prefix": "json-data/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )


def test_create_describe_list_delete(lab):
    _, firehose = lab
    arn = _create(firehose)["DeliveryStreamARN"]
    assert arn.endswith(":deliverystream/retail")
    description = firehose.describe_delivery_stream(DeliveryStreamName="retail")[
        "DeliveryStreamDescription"
    ]
    assert description["DeliveryStreamName"] == "retail"
    assert description["DeliveryStreamType"] == "DirectPut"
    assert firehose.list_delivery_streams()["DeliveryStreamNames"] == ["retail"]
    firehose.delete_delivery_stream(DeliveryStreamName="retail")
    assert firehose.list_delivery_streams()["DeliveryStreamNames"] == []
    with pytest.raises(ClientError) as caught:
        firehose.describe_delivery_stream(DeliveryStreamName="retail")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_put_record_batch_lands_in_the_lake(lab):
    wb, firehose = lab
    _create(firehose)
    one = firehose.put_record(DeliveryStreamName="retail", Record={"Data": b'{"Invoice": 0}\n'})
    assert one["RecordId"]
    batch = firehose.put_record_batch(
        DeliveryStreamName="retail",
        Records=[{"Data": f'{{"Invoice": {i}}}\n'.encode()} for i in range(1, 100)],
    )
    assert batch["FailedPutCount"] == 0 and len(batch["RequestResponses"]) == 99
    delivered = wb.firehose.delivery_stream("retail").flush()["delivered_records"]
    assert delivered == 100
    objects = wb.lake.list("s3://lab/json-data/")
    lines = b"".join(wb.lake.get(o.uri) for o in objects).splitlines()
    assert sorted(lines) == sorted(f'{{"Invoice": {i}}}'.encode() for i in range(100))


def test_destinations_other_than_s3_are_refused(lab):
    _, firehose = lab
    with pytest.raises(ClientError) as caught:
        firehose.create_delivery_stream(
            DeliveryStreamName="elsewhere",
            HttpEndpointDestinationConfiguration={
                "EndpointConfiguration": {"Url": "https://example.invalid"},
                "S3Configuration": {
                    "RoleARN": "arn:aws:iam::000000000000:role/f",
                    "BucketARN": "arn:aws:s3:::lab",
                },
            },
        )
    assert caught.value.response["Error"]["Code"] == "InvalidArgumentException"


def test_batches_over_500_records_are_validation_errors(lab):
    _, firehose = lab
    _create(firehose)
    with pytest.raises(ClientError) as caught:
        firehose.put_record_batch(DeliveryStreamName="retail", Records=[{"Data": b"x"}] * 501)
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_records_put_through_the_endpoint_are_delivered_by_themselves(lab):
    """As on AWS: nobody calls flush; the buffer interval passes and the objects appear."""
    wb, firehose = lab
    _create(firehose, "auto")
    firehose.put_record_batch(
        DeliveryStreamName="auto", Records=[{"Data": f"{i}\n".encode()} for i in range(10)]
    )
    wb.clock.advance("61s")
    deadline = time.monotonic() + 20
    while not wb.lake.list("s3://lab/json-data/") and time.monotonic() < deadline:
        time.sleep(0.05)
    objects = wb.lake.list("s3://lab/json-data/")
    assert sorted(b"".join(wb.lake.get(o.uri) for o in objects).split()) == sorted(
        f"{i}".encode() for i in range(10)
    )
