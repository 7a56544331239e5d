"""KinesisStreamAsSource: a data stream delivered through the delivery stream's own consumer
application, with the Kinesis metadata in the transformation's event."""

from __future__ import annotations

import base64

import pytest
from firehose_records import json_lines, objects, retail

from workbench.errors import InvalidArgumentException, ResourceNotFoundException


def test_a_stream_source_must_exist_and_takes_no_puts(make_workbench):
    wb = make_workbench()
    with pytest.raises(ResourceNotFoundException):
        wb.firehose.create_delivery_stream("s", kinesis_stream="missing", bucket="lab")
    wb.streams.create_stream("source", shard_count=1)
    wb.firehose.create_delivery_stream("s", kinesis_stream="source", bucket="lab")
    d = wb.firehose.describe_delivery_stream("s")["DeliveryStreamDescription"]
    assert d["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert d["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"].endswith(
        ":stream/source"
    )
    with pytest.raises(InvalidArgumentException, match="KinesisStreamAsSource"):
        wb.firehose.put_record("s", b"x")
    with pytest.raises(InvalidArgumentException, match="KinesisStreamAsSource"):
        wb.firehose.create_delivery_stream(
            "t",
            delivery_stream_type="DirectPut",
            kinesis_stream_source_configuration={"KinesisStreamARN": "arn:x:stream/source"},
            bucket="lab",
        )


def test_every_shard_is_delivered_in_order_with_kinesis_metadata(make_workbench):
    events = []

    def keep(event, context):
        events.append(event)
        return {
            "records": [
                {"recordId": r["recordId"], "result": "Ok", "data": r["data"]}
                for r in event["records"]
            ]
        }

    wb = make_workbench()
    source = wb.streams.create_stream("source", shard_count=3)
    records = [retail(i) for i in range(300)]
    source.put_records(
        [{"Data": r, "PartitionKey": f"part-{i:05d}"} for i, r in enumerate(records)]
    )
    wb.firehose.create_delivery_stream(
        "s", kinesis_stream="source", bucket="lab", transform=keep, buffer_interval_s=60
    )
    stream = wb.firehose.delivery_stream("s")
    assert stream.run_until_idle()["buffered_records"] == 300
    wb.clock.advance("60s")
    assert stream.run_until_idle()["delivered_records"] == 300
    assert sorted(r["n"] for r in json_lines(wb, "s3://lab/")) == list(range(300))
    assert len(objects(wb)) == 1
    event = events[0]
    assert event["sourceKinesisStreamArn"].endswith(":stream/source")
    metadata = event["records"][0]["kinesisRecordMetadata"]
    assert set(metadata) == {
        "shardId", "partitionKey", "approximateArrivalTimestamp", "sequenceNumber",
        "subsequenceNumber",
    }  # fmt: skip
    assert metadata["partitionKey"].startswith("part-")
    assert base64.b64decode(event["records"][0]["data"]) in records
    # New records later are delivered after the first ones, from the checkpoint.
    source.put_records([{"Data": retail(300), "PartitionKey": "k"}])
    wb.clock.advance("60s")
    stream.run_until_idle()
    assert sorted(r["n"] for r in json_lines(wb, "s3://lab/")) == list(range(301))


def test_a_recreated_delivery_stream_reads_the_stream_from_the_start(make_workbench):
    wb = make_workbench()
    source = wb.streams.create_stream("source", shard_count=1)
    source.put_records([{"Data": retail(i), "PartitionKey": "k"} for i in range(10)])
    wb.firehose.create_delivery_stream("s", kinesis_stream="source", bucket="lab", prefix="a/")
    assert wb.firehose.delivery_stream("s").flush()["delivered_records"] == 10
    wb.firehose.delete_delivery_stream("s")
    wb.firehose.create_delivery_stream("s", kinesis_stream="source", bucket="lab", prefix="b/")
    assert wb.firehose.delivery_stream("s").flush()["delivered_records"] == 10
    assert len(json_lines(wb, "s3://lab/b/")) == 10
