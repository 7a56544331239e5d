"""Event source mappings against AWS Lambda's documented Kinesis behaviour."""

import base64
import gc
import json
import os
import threading
import time

import pytest

from workbench import SimulatedClock, Workbench
from workbench.errors import InvalidArgumentException
from workbench.functions.upsert_to_es import make_handler


@pytest.fixture
def make_stream(tmp_path):
    """Factory: a workbench on a simulated clock and a stream holding ``n`` JSON records."""

    def make(n=0, shards=1, name="retail-trans"):
        wb = Workbench(home=tmp_path / "home", clock=SimulatedClock(start="2026-01-01"))
        stream = wb.streams.create_stream(name, shard_count=shards)
        put(stream, range(n))
        return wb, stream

    return make


def put(stream, numbers):
    entries = [
        {"Data": json.dumps({"n": i}).encode(), "PartitionKey": f"part-{i:05d}"} for i in numbers
    ]
    for start in range(0, len(entries), 500):
        assert stream.put_records(entries[start : start + 500])["FailedRecordCount"] == 0


def numbers(event):
    return [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in event["Records"]]


class Recorder:
    """A handler that remembers each event and can fail on chosen calls or records."""

    def __init__(self, fail_calls=(), poison=None):
        self.events, self.calls = [], 0
        self.fail_calls, self.poison = set(fail_calls), poison

    def __call__(self, event, context):
        self.calls += 1
        if self.calls in self.fail_calls:
            raise RuntimeError(f"call {self.calls} fails")
        if self.poison is not None and self.poison in numbers(event):
            raise ValueError(f"record {self.poison} is poison")
        self.events.append(event)

    @property
    def delivered(self):
        return [n for e in self.events for n in numbers(e)]


def test_events_have_lambdas_kinesis_shape(make_stream):
    wb, stream = make_stream(3)
    handler = Recorder()
    mapping = wb.functions.create_event_source_mapping(
        handler, "retail-trans", starting_position="TRIM_HORIZON"
    )
    mapping.poll(until_caught_up=True)
    record = handler.events[0]["Records"][0]
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventSourceARN"] == stream.arn
    shard, sequence = record["eventID"].split(":")
    assert shard == "shardId-000000000000" and sequence == record["kinesis"]["sequenceNumber"]
    assert json.loads(base64.b64decode(record["kinesis"]["data"])) == {"n": 0}
    assert record["kinesis"]["partitionKey"] == "part-00000"
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    assert list(record) == [
        "kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn",
        "awsRegion", "eventSourceARN",
    ]  # fmt: skip
    assert list(record["kinesis"]) == [
        "kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data",
        "approximateArrivalTimestamp",
    ]  # fmt: skip
    records = [r for e in handler.events for r in e["Records"]]
    assert sorted(n for e in handler.events for n in numbers(e)) == [0, 1, 2]
    assert len({r["eventID"] for r in records}) == len({id(r["kinesis"]) for r in records}) == 3


def test_batches_hold_at_most_batch_size_records_in_order(make_stream):
    wb, _ = make_stream(250)
    handler = Recorder()
    mapping = wb.functions.create_event_source_mapping(
        handler, "retail-trans", starting_position="TRIM_HORIZON", batch_size=100
    )
    assert mapping.poll(until_caught_up=True) == 250
    assert [len(e["Records"]) for e in handler.events] == [100, 100, 50]
    assert handler.delivered == list(range(250))


def test_every_record_is_delivered_once_per_shard_in_order(make_stream):
    wb, _ = make_stream(600, shards=4)
    handler = Recorder()
    mapping = wb.functions.create_event_source_mapping(
        handler, "retail-trans", starting_position="TRIM_HORIZON", batch_size=64
    )
    mapping.poll(until_caught_up=True)
    assert sorted(handler.delivered) == list(range(600))
    per_shard = {}
    for event in handler.events:
        shard = event["Records"][0]["eventID"].split(":")[0]
        per_shard.setdefault(shard, []).extend(numbers(event))
    assert len(per_shard) == 4
    assert all(values == sorted(values) for values in per_shard.values())


def test_latest_skips_what_was_there_and_trim_horizon_reads_it(make_stream):
    wb, stream = make_stream(10)
    latest = Recorder()
    mapping = wb.functions.create_event_source_mapping(
        latest, "retail-trans", function_name="latest"
    )
    mapping.poll(until_caught_up=True)
    put(stream, range(10, 13))
    mapping.poll(until_caught_up=True)
    assert latest.delivered == [10, 11, 12]


def test_a_new_mapping_of_the_same_function_resumes_from_its_checkpoint(make_stream):
    wb, stream = make_stream(20)
    first = Recorder()
    mapping = wb.functions.create_event_source_mapping(
        first, "retail-trans", function_name="f", starting_position="TRIM_HORIZON"
    )
    mapping.poll(until_caught_up=True)
    mapping.close()
    put(stream, range(20, 25))
    reopened = Workbench(home=wb.home.path, clock=wb.clock)
    second = Recorder()
    again = reopened.functions.create_event_source_mapping(
        second, "retail-trans", function_name="f", starting_position="TRIM_HORIZON"
    )
    again.poll(until_caught_up=True)
    assert first.delivered == list(range(20))
    assert second.delivered == list(range(20, 25))


def test_a_failing_batch_is_retried_until_it_succeeds(make_stream):
    wb, _ = make_stream(5)
    handler = Recorder(fail_calls={1, 2})
    mapping = wb.functions.create_event_source_mapping(
        handler, "retail-trans", starting_position="TRIM_HORIZON", maximum_retry_attempts=5
    )
    mapping.poll(until_caught_up=True)
    assert handler.delivered == [0, 1, 2, 3, 4]
    assert (mapping.metrics.invocations, mapping.metrics.errors, mapping.metrics.retries) == (
        3,
        2,
        2,
    )
    assert "call 2 fails" in mapping.metrics.last_error


def test_exhausted_retries_go_to_the_on_failure_destination_and_the_shard_moves_on(make_stream):
    wb, stream = make_stream(4)
    failures = []
    handler = Recorder(poison=1)
    mapping = wb.functions.create_event_source_mapping(
        handler,
        "retail-trans",
        starting_position="TRIM_HORIZON",
        batch_size=2,
        maximum_retry_attempts=1,
        on_failure=failures.append,
    )
    mapping.poll(until_caught_up=True)
    assert handler.delivered == [2, 3]
    (failure,) = failures
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    info = failure["KinesisBatchInfo"]
    assert info["batchSize"] == 2 and info["streamArn"] == stream.arn
    assert mapping.metrics.failed_records == 2


def test_bisect_on_error_isolates_the_poison_record(make_stream):
    wb, _ = make_stream(8)
    failures = []
    handler = Recorder(poison=5)
    mapping = wb.functions.create_event_source_mapping(
        handler,
        "retail-trans",
        starting_position="TRIM_HORIZON",
        batch_size=8,
        maximum_retry_attempts=0,
        bisect_batch_on_function_error=True,
        on_failure=failures.append,
    )
    mapping.poll(until_caught_up=True)
    assert sorted(handler.delivered) == [0, 1, 2, 3, 4, 6, 7]
    assert [f["KinesisBatchInfo"]["batchSize"] for f in failures] == [1]


def test_failures_can_go_to_a_stream(make_stream):
    wb, _ = make_stream(2)
    dead_letters = wb.streams.create_stream("dead-letters", shard_count=1)
    mapping = wb.functions.create_event_source_mapping(
        Recorder(poison=0),
        "retail-trans",
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=0,
        on_failure="dead-letters",
    )
    mapping.poll(until_caught_up=True)
    iterator = dead_letters.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")
    (record,) = dead_letters.get_records(iterator)["Records"]
    assert json.loads(record["Data"])["KinesisBatchInfo"]["batchSize"] == 2


def test_reported_batch_item_failures_retry_from_the_failed_item(make_stream):
    wb, _ = make_stream(6)
    seen = []

    def handler(event, context):
        got = numbers(event)
        seen.append(got)
        if len(seen) == 1:
            failed = event["Records"][3]["kinesis"]["sequenceNumber"]
            return {"batchItemFailures": [{"itemIdentifier": failed}]}
        return {"batchItemFailures": []}

    mapping = wb.functions.create_event_source_mapping(
        handler,
        "retail-trans",
        starting_position="TRIM_HORIZON",
        function_response_types=("ReportBatchItemFailures",),
        maximum_retry_attempts=2,
    )
    mapping.poll(until_caught_up=True)
    assert seen == [[0, 1, 2, 3, 4, 5], [3, 4, 5]]
    assert mapping.metrics.records == 6


def test_batching_window_waits_on_the_clock(make_stream):
    wb, _ = make_stream(3)
    handler = Recorder()
    mapping = wb.functions.create_event_source_mapping(
        handler,
        "retail-trans",
        starting_position="TRIM_HORIZON",
        batch_size=100,
        maximum_batching_window="20s",
    )
    mapping.start()
    assert eventually(lambda: mapping.pending_records == 3)
    assert handler.events == []
    wb.clock.advance("25s")
    assert eventually(lambda: handler.delivered == [0, 1, 2])
    mapping.stop()
    assert len(handler.events) == 1


def eventually(condition, timeout=10.0):
    """Whether ``condition()`` holds within ``timeout`` real seconds (background threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_environment_is_set_during_the_invocation_only(make_stream):
    wb, _ = make_stream(1)
    seen = {}

    def handler(event, context):
        seen["index"] = os.environ.get("ES_INDEX")
        seen["remaining"] = context.get_remaining_time_in_millis()

    mapping = wb.functions.create_event_source_mapping(
        handler,
        "retail-trans",
        starting_position="TRIM_HORIZON",
        environment={"ES_INDEX": "shop"},
        timeout="5s",
    )
    mapping.poll(until_caught_up=True)
    assert seen == {"index": "shop", "remaining": 5000}
    assert "ES_INDEX" not in os.environ


def test_objects_made_before_an_invocation_are_frozen_during_it_only(make_stream):
    wb, _ = make_stream(3)
    frozen_during = []

    def handler(event, context):
        frozen_during.append(gc.get_freeze_count() > 0)

    mapping = wb.functions.create_event_source_mapping(
        handler, "retail-trans", starting_position="TRIM_HORIZON", batch_size=1
    )
    mapping.poll(until_caught_up=True)
    assert frozen_during == [True] * 3
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_them_frozen(make_stream):
    wb, _ = make_stream(1)
    mine = []
    gc.freeze()
    try:
        mapping = wb.functions.create_event_source_mapping(
            Recorder(), "retail-trans", function_name="f", starting_position="TRIM_HORIZON"
        )
        mapping.poll(until_caught_up=True)
        assert not any(o is mine for o in gc.get_objects())  # collectable objects only
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"batch_size": 0}, "BatchSize"),
        ({"batch_size": 10_001}, "BatchSize"),
        ({"maximum_batching_window": 301}, "MaximumBatchingWindowInSeconds"),
        ({"maximum_retry_attempts": 10_001}, "MaximumRetryAttempts"),
        ({"maximum_record_age": 10}, "MaximumRecordAgeInSeconds"),
        ({"starting_position": "AT_SEQUENCE_NUMBER"}, "StartingPosition"),
        ({"function_name": "bad name"}, "Function name"),
    ],
)
def test_settings_outside_lambdas_ranges_are_refused(make_stream, setting, message):
    wb, _ = make_stream(0)
    with pytest.raises(InvalidArgumentException, match=message):
        wb.functions.create_event_source_mapping(Recorder(), "retail-trans", **setting)


def test_the_labs_upsert_to_es_indexes_each_invoice_line_once(make_stream):
    wb, stream = make_stream(0)
    lines = [
        {"Invoice": "489434", "StockCode": "85048", "Customer_ID": "13085.0", "Quantity": 12,
         "InvoiceDate": "2026-01-01 07:45:00", "Country": "United Kingdom"},
        {"Invoice": "489435", "StockCode": "22350", "Customer_ID": "", "Quantity": 3,
         "InvoiceDate": "2026-01-01 07:46:00", "Country": "France"},
        {"Description": "no required field", "Quantity": 1},
    ]  # fmt: skip
    entries = [{"Data": json.dumps(r).encode(), "PartitionKey": "part-00001"} for r in lines]
    stream.put_records(entries + entries[:1])  # the first line arrives twice
    mapping = wb.functions.create_event_source_mapping(
        make_handler(wb.search.client()),
        "retail-trans",
        function_name="UpsertToES",
        starting_position="TRIM_HORIZON",
        batch_size=1000,
        environment={"ES_INDEX": "retail", "REQUIRED_FIELDS": "Invoice,StockCode,Customer_ID",
                     "DATE_TYPE_FIELDS": "InvoiceDate"},
    )  # fmt: skip
    mapping.poll(until_caught_up=True)
    assert wb.search.count("retail") == 2
    hits = wb.search.search("retail", {"sort": ["InvoiceDate"]})["hits"]["hits"]
    assert [h["_source"]["InvoiceDate"] for h in hits] == [
        "2026-01-01T07:45:00Z",
        "2026-01-01T07:46:00Z",
    ]
    assert wb.search.mapping("retail")["InvoiceDate"] == "date"


def test_shards_run_at_once_but_each_one_batch_at_a_time(make_stream):
    wb, stream = make_stream(0, shards=2)
    for shard in range(2):  # explicit hash keys: 30 records on each shard
        entries = [{"Data": json.dumps({"n": i}).encode(), "PartitionKey": "k",
                    "ExplicitHashKey": str(shard << 127)} for i in range(30)]  # fmt: skip
        stream.put_records(entries)
    both_running = threading.Barrier(2, timeout=5)
    lock, running, most = threading.Lock(), {}, {}

    def handler(event, context):
        shard = event["Records"][0]["eventID"].split(":")[0]
        with lock:
            running[shard] = running.get(shard, 0) + 1
            most[shard] = max(most.get(shard, 0), running[shard])
        if not most.get("met"):
            both_running.wait()  # times out (BrokenBarrierError) unless both shards run at once
            most["met"] = 1
        time.sleep(0.001)
        with lock:
            running[shard] -= 1

    mapping = wb.functions.create_event_source_mapping(
        handler, "retail-trans", starting_position="TRIM_HORIZON", batch_size=10,
        maximum_retry_attempts=0,  # a broken barrier fails the batch once, not forever
    )  # fmt: skip
    assert mapping.poll(until_caught_up=True) == 60
    assert mapping.metrics.invocations == 6 and mapping.metrics.errors == 0
    assert {s: n for s, n in most.items() if s != "met"} == {
        "shardId-000000000000": 1,
        "shardId-000000000001": 1,
    }
