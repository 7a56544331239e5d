"""Delivery streams: the API, buffering by size and interval, object names and compression."""

from __future__ import annotations

import gzip
import re
import zipfile
from datetime import UTC, datetime
from io import BytesIO

import cramjam
import pytest
from firehose_records import json_lines, objects, retail

from workbench.errors import (
    ConcurrentModificationException,
    InvalidArgumentException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)

LAB_PREFIX = (
    "json-data/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}"
    "/hour=!{timestamp:HH}/"
)
LAB_ERROR_PREFIX = (
    "error-json/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}"
    "/hour=!{timestamp:HH}/!{firehose:error-output-type}"
)
NAME = re.compile(r"(?P<name>.+)-(?P<version>\d+)-(\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)-[0-9a-f-]{36}")


def test_create_describe_list_delete(make_workbench):
    wb = make_workbench()
    out = wb.firehose.create_delivery_stream("retail-trans", bucket="lab")
    assert out["DeliveryStreamARN"].endswith(":deliverystream/retail-trans")
    d = wb.firehose.describe_delivery_stream("retail-trans")["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "ACTIVE" and d["DeliveryStreamType"] == "DirectPut"
    assert d["VersionId"] == "1"
    dest = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["BucketARN"] == "arn:aws:s3:::lab"
    assert dest["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}
    assert dest["CompressionFormat"] == "UNCOMPRESSED"
    with pytest.raises(ResourceInUseException):
        wb.firehose.create_delivery_stream("retail-trans", bucket="lab")
    wb.firehose.create_delivery_stream("b-stream", bucket="lab")
    listed = wb.firehose.list_delivery_streams()
    assert listed == {"DeliveryStreamNames": ["b-stream", "retail-trans"],
                      "HasMoreDeliveryStreams": False}  # fmt: skip
    assert wb.firehose.list_delivery_streams(limit=1)["HasMoreDeliveryStreams"] is True
    wb.firehose.delete_delivery_stream("b-stream")
    with pytest.raises(ResourceNotFoundException):
        wb.firehose.describe_delivery_stream("b-stream")
    with pytest.raises(ResourceNotFoundException):
        wb.firehose.put_record("b-stream", b"x")


@pytest.mark.parametrize("name", ["", "x" * 65, "bad name", "bad/name"])
def test_delivery_stream_names(make_workbench, name):
    wb = make_workbench()
    with pytest.raises(ValidationException, match="64"):
        wb.firehose.create_delivery_stream(name, bucket="lab")
    wb.firehose.create_delivery_stream("x" * 64, bucket="lab")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"buffer_size_mb": 0}, "SizeInMBs"),
        ({"buffer_size_mb": 129}, "SizeInMBs"),
        ({"buffer_interval_s": 901}, "IntervalInSeconds"),
        ({"buffer_interval_s": -1}, "IntervalInSeconds"),
        ({"compression": "LZ4"}, "CompressionFormat"),
        ({"parquet_columns": {"a": "string"}, "buffer_size_mb": 5}, "at least 64"),
        ({"parquet_columns": {"a": "string"}, "compression": "GZIP"}, "UNCOMPRESSED"),
        ({"parquet_columns": {"a": "geometry"}}, "geometry"),
        ({"prefix": "a/!{timestamp:yyyy}/"}, "ErrorOutputPrefix is required"),
    ],
)
def test_configuration_errors(make_workbench, kwargs, message):
    wb = make_workbench()
    with pytest.raises(InvalidArgumentException, match=message):
        wb.firehose.create_delivery_stream("s", bucket="lab", **kwargs)
    assert wb.firehose.list_delivery_streams()["DeliveryStreamNames"] == []


def test_conversion_defaults_to_128_mb_buffers(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab", parquet_columns={"a": "string"})
    d = wb.firehose.describe_delivery_stream("s")["DeliveryStreamDescription"]
    dest = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["BufferingHints"]["SizeInMBs"] == 128
    serde = dest["DataFormatConversionConfiguration"]["OutputFormatConfiguration"]["Serializer"]
    assert serde["ParquetSerDe"]["Compression"] == "SNAPPY"


def test_put_limits(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab")
    assert wb.firehose.put_record("s", b"x" * 1_024_000)["RecordId"]
    with pytest.raises(ValidationException, match="1024000"):
        wb.firehose.put_record("s", b"x" * 1_024_001)
    with pytest.raises(ValidationException, match="500"):
        wb.firehose.put_record_batch("s", [b"x"] * 501)
    with pytest.raises(ValidationException):
        wb.firehose.put_record_batch("s", [])
    with pytest.raises(InvalidArgumentException, match="4 MB"):
        wb.firehose.put_record_batch("s", [b"x" * 1_000_000] * 5)
    out = wb.firehose.put_record_batch("s", [b"a", "b", {"Data": b"c"}])
    assert out["FailedPutCount"] == 0 and len(out["RequestResponses"]) == 3
    assert len({r["RecordId"] for r in out["RequestResponses"]}) == 3
    # Rejected batches left nothing behind.
    assert wb.firehose.delivery_stream("s").flush()["delivered_records"] == 4


def test_buffering_by_interval_on_simulated_time(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream(
        "retail-trans", bucket="lab", prefix=LAB_PREFIX, error_output_prefix=LAB_ERROR_PREFIX,
        buffer_size_mb=1, buffer_interval_s=60,
    )  # fmt: skip
    stream = wb.firehose.delivery_stream("retail-trans")
    stream.put_record_batch([retail(i) for i in range(10)])
    wb.clock.advance("59s")
    assert stream.run_until_idle()["buffered_records"] == 10
    assert objects(wb) == []
    wb.clock.advance("1s")
    metrics = stream.run_until_idle()
    assert metrics["delivered_records"] == 10 and metrics["delivered_objects"] == 1
    [obj] = objects(wb)
    folder, name = obj.key.rsplit("/", 1)
    assert folder == "json-data/year=2026/month=03/day=01/hour=10"
    match = NAME.fullmatch(name)
    assert match and match["name"] == "retail-trans" and match["version"] == "1"
    assert match[3] == "2026-03-01-10-01-00"
    # Records are written as they came, back to back.
    assert wb.lake.get(obj.uri) == b"".join(retail(i) for i in range(10))


def test_buffering_by_size(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab", buffer_size_mb=1, buffer_interval_s=900)
    stream = wb.firehose.delivery_stream("s")
    record = b"r" * 1000 + b"\n"
    for _ in range(5):
        stream.put_record_batch([record] * 500)
    metrics = stream.run_until_idle()
    # 2,500 records of 1,001 bytes: two full 1 MiB objects, the rest waits for the interval.
    assert metrics["delivered_objects"] == 2
    sizes = [o.size for o in objects(wb)]
    assert all(1 << 20 <= s < (1 << 20) + 1001 for s in sizes)
    assert metrics["buffered_records"] == 2500 - metrics["delivered_records"]
    wb.clock.advance("900s")
    assert stream.run_until_idle()["delivered_records"] == 2500


def test_prefix_time_is_the_oldest_records_arrival(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab", buffer_interval_s=900)
    wb.clock.set("2026-03-01T10:59:30Z")
    wb.firehose.put_record("s", b"first\n")
    wb.clock.set("2026-03-01T11:05:00Z")
    wb.firehose.put_record("s", b"second\n")
    wb.firehose.delivery_stream("s").flush()
    [obj] = objects(wb)
    assert obj.key.startswith("2026/03/01/10/s-1-2026-03-01-11-05-00-")


def test_update_destination_raises_the_version(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab", buffer_interval_s=900)
    wb.firehose.put_record("s", b"old config\n")
    wb.firehose.delivery_stream("s").run_until_idle()
    with pytest.raises(ConcurrentModificationException):
        wb.firehose.update_destination(
            "s", current_delivery_stream_version_id="2",
            extended_s3_destination_update={"Prefix": "v2/"},
        )  # fmt: skip
    with pytest.raises(InvalidArgumentException):
        wb.firehose.update_destination(
            "s", current_delivery_stream_version_id="1",
            extended_s3_destination_update={"BufferingHints": {"SizeInMBs": 500}},
        )  # fmt: skip
    wb.firehose.update_destination(
        "s", current_delivery_stream_version_id="1",
        extended_s3_destination_update={"Prefix": "v2/"},
    )  # fmt: skip
    d = wb.firehose.describe_delivery_stream("s")["DeliveryStreamDescription"]
    assert d["VersionId"] == "2"
    wb.firehose.put_record("s", b"new config\n")
    wb.firehose.delivery_stream("s").flush()
    names = sorted(o.key for o in objects(wb))
    assert names[0].startswith("2026/03/01/10/s-1-") and names[1].startswith(
        "v2/2026/03/01/10/s-2-"
    )


@pytest.mark.parametrize(
    ("compression", "ext", "unpack"),
    [
        ("GZIP", ".gz", gzip.decompress),
        ("Snappy", ".snappy", lambda b: bytes(cramjam.snappy.decompress(b))),
        ("ZIP", ".zip", lambda b: zipfile.ZipFile(BytesIO(b)).read("data")),
        ("UNCOMPRESSED", "", lambda b: b),
    ],
)
def test_compression_of_json_lines(make_workbench, compression, ext, unpack):
    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab", compression=compression)
    wb.firehose.put_record_batch("s", [retail(i) for i in range(100)])
    wb.firehose.delivery_stream("s").flush()
    [obj] = objects(wb)
    assert obj.key.endswith(ext) and re.search(r"-[0-9a-f-]{36}" + re.escape(ext) + "$", obj.key)
    assert unpack(wb.lake.get(obj.uri)) == b"".join(retail(i) for i in range(100))


def test_dynamic_partitioning_by_query_has_a_buffer_per_partition(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream(
        "s", bucket="lab", partition_query="{country: .Country}",
        prefix="by-country/country=!{partitionKeyFromQuery:country}/!{timestamp:yyyy}/",
        error_output_prefix="errors/!{firehose:error-output-type}/",
    )  # fmt: skip
    wb.firehose.put_record_batch("s", [retail(i) for i in range(30)] + [b'{"no": "country"}'])
    wb.firehose.delivery_stream("s").flush()
    folders = sorted({o.key.rsplit("/", 1)[0] for o in objects(wb, "s3://lab/by-country/")})
    assert folders == [
        "by-country/country=France/2026",
        "by-country/country=Germany/2026",
        "by-country/country=United Kingdom/2026",
    ]
    assert {r["Country"] for r in json_lines(wb, "s3://lab/by-country/country=France/")} == {
        "France"
    }
    [failed] = json_lines(wb, "s3://lab/errors/partitioning-failed/")
    assert failed["errorCode"] == "DynamicPartitioning.MetadataExtractionFailed"


def test_more_than_500_active_partitions_go_to_the_error_output(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream(
        "s", bucket="lab", partition_query="{k: .k}", prefix="p/!{partitionKeyFromQuery:k}/",
        error_output_prefix="errors/!{firehose:error-output-type}/", buffer_interval_s=900,
    )  # fmt: skip
    stream = wb.firehose.delivery_stream("s")
    stream.put_record_batch([b'{"k": %d}' % i for i in range(300)])
    stream.put_record_batch([b'{"k": %d}' % i for i in range(300, 505)])
    stream.put_record_batch([b'{"k": 7}'])  # an active partition still takes records
    metrics = stream.flush()
    assert metrics["failed_records"] == {"activePartitionExceeded": 5}
    exceeded = json_lines(wb, "s3://lab/errors/activePartitionExceeded/")
    assert len(exceeded) == 5
    assert len({o.key.split("/")[1] for o in objects(wb, "s3://lab/p/")}) == 500


def test_backup_keeps_every_source_record(make_workbench):
    def drop_all(event):
        return {"records": [{"recordId": r["recordId"], "result": "Dropped"}
                            for r in event["records"]]}  # fmt: skip

    wb = make_workbench()
    wb.firehose.create_delivery_stream(
        "s", bucket="lab", transform=drop_all, backup_prefix="source-records/"
    )
    wb.firehose.put_record_batch("s", [retail(i) for i in range(20)])
    metrics = wb.firehose.delivery_stream("s").flush()
    assert metrics["dropped_records"] == 20 and metrics["delivered_records"] == 0
    assert len(json_lines(wb, "s3://lab/source-records/")) == 20


def test_background_delivery_follows_the_simulated_clock(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab", buffer_interval_s=60)
    stream = wb.firehose.delivery_stream("s")
    stream.start()
    try:
        stream.put_record_batch([retail(i) for i in range(5)])
        wb.clock.advance("61s")
        deadline = datetime.now(UTC).timestamp() + 10
        while not objects(wb) and datetime.now(UTC).timestamp() < deadline:
            stream._delivery._stop.wait(0.02)
        assert stream.running
    finally:
        stream.stop()
    assert not stream.running
    assert len(json_lines(wb, "s3://lab/")) == 5


def test_metrics_survive_a_restart(make_workbench, tmp_path):
    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab")
    wb.firehose.put_record_batch("s", [retail(i) for i in range(7)])
    wb.firehose.delivery_stream("s").flush()
    wb.firehose.close()
    from workbench import Workbench

    again = Workbench(wb.home.path, clock=wb.clock)
    metrics = again.firehose.delivery_stream("s").metrics()
    assert metrics["delivered_records"] == 7 and metrics["delivered_objects"] == 1
