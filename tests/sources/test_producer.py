"""Producers: counts, the lab's batching, keys and retries, pacing on the clock, a real stream."""

import json
import re
import time

import pytest
from typer.testing import CliRunner

from workbench import SimulatedClock, Workbench
from workbench.cli import app
from workbench.errors import InvalidArgumentException, ProvisionedThroughputExceededException
from workbench.sources import Producer, nexmark, retail, sensors
from workbench.sources._producer import LineSink


class RecordingSink:
    """Keeps every batch; fails entries as told, the way PutRecords reports partial failure."""

    def __init__(self, fail_first_tries=0, fail_every=None, raise_first=0):
        self.batches, self.accepted, self.attempts = [], [], {}
        self.fail_first_tries, self.fail_every, self.raise_first = (
            fail_first_tries,
            fail_every,
            raise_first,
        )

    def put(self, entries):
        self.batches.append(list(entries))
        if self.raise_first:
            self.raise_first -= 1
            raise ProvisionedThroughputExceededException("Rate exceeded for shard.")
        codes = []
        for entry in entries:
            tries = self.attempts[entry["Data"]] = self.attempts.get(entry["Data"], 0) + 1
            bad = tries <= self.fail_first_tries
            if self.fail_every is not None:
                bad = len(self.accepted) % self.fail_every == 0 or bad
            if bad:
                codes.append("ProvisionedThroughputExceededException")
            else:
                self.accepted.append(entry)
                codes.append(None)
        return codes


def fast(source, **settings):
    return source(clock=SimulatedClock(start="2026-01-01"), **settings)


def test_a_producer_sends_the_sources_json_lines_in_batches_of_500_with_lab_keys():
    sink = RecordingSink()
    counts = fast(retail).producer(sink, max_count=2345, fast=True).run()
    assert counts == {"sent": 2345, "failed": 0, "retried": 0, "batches": 5}
    assert max(len(b) for b in sink.batches) == 500
    lines = [e["Data"].decode() for e in sink.accepted]
    assert all(line.endswith("\n") for line in lines)
    assert [line[:-1] for line in lines] == list(fast(retail).json_lines(2345))
    keys = [e["PartitionKey"] for e in sink.accepted]
    assert all(re.fullmatch(r"part-\d{5}", k) and 1 <= int(k[5:]) <= 1024 for k in keys)
    assert len(set(keys)) > 800


def test_failed_entries_are_retried_up_to_three_times():
    sink = RecordingSink(fail_first_tries=2)
    counts = fast(nexmark).producer(sink, max_count=1000, fast=True).run()
    assert counts["sent"] == 1000 and counts["failed"] == 0 and counts["retried"] == 2000
    hopeless = RecordingSink(fail_first_tries=10)
    counts = fast(nexmark).producer(hopeless, max_count=600, fast=True).run()
    assert counts["sent"] == 0 and counts["failed"] == 600 and counts["retried"] == 1800
    assert max(hopeless.attempts.values()) == 4
    throttled = RecordingSink(raise_first=2)
    counts = fast(nexmark).producer(throttled, max_count=100, fast=True).run()
    assert counts["sent"] == 100 and counts["retried"] == 200


def test_a_paced_producer_follows_the_simulated_clock_without_blocking_the_caller():
    clock = SimulatedClock(start="2026-01-01")
    sink = RecordingSink()
    producer = sensors(clock=clock, rate=100, dropout_rate=0).producer(sink, max_count=1000)
    started = time.monotonic()
    producer.start()
    assert time.monotonic() - started < 0.5 and producer.running
    time.sleep(0.2)
    assert producer.sent <= 1  # time stands still: only what is due at the start
    clock.advance("2s")
    deadline = time.monotonic() + 5
    while producer.sent < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert 150 <= producer.sent <= 250
    producer.stop().join(5)
    assert not producer.running and producer.sent < 1000
    assert "stopped" in repr(producer)


def test_a_running_simulated_clock_paces_at_its_speed():
    clock = SimulatedClock(start="2026-01-01", speed=100)
    producer = nexmark(clock=clock, rate=50).producer(RecordingSink(), max_count=500)
    started = time.monotonic()
    producer.start().join(10)
    assert producer.sent == 500
    assert 0.05 < time.monotonic() - started < 5  # 10 s of events at 100x: 0.1 s real


def test_a_failure_in_the_background_surfaces_on_join():
    class Broken:
        def put(self, entries):
            raise RuntimeError("disk on fire")

    producer = fast(retail).producer(Broken(), max_count=10, fast=True).start()
    with pytest.raises(RuntimeError, match="disk on fire"):
        producer.join(5)


def test_bad_producer_settings_are_refused():
    with pytest.raises(InvalidArgumentException, match="batch_size"):
        retail.producer(RecordingSink(), batch_size=501)
    with pytest.raises(InvalidArgumentException, match="cannot produce into"):
        Producer(retail, object())


def test_a_run_into_a_real_stream_reads_back_every_record(tmp_path):
    wb = Workbench(home=tmp_path, clock=SimulatedClock(start="2026-01-01"))
    stream = wb.streams.create_stream("retail-trans", 2)
    producer = retail(clock=wb.clock).producer(stream, max_count=1500, fast=True)
    assert producer.start().join(20).sent == 1500
    read = []
    for shard in stream.list_shards():
        iterator = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
        read += stream.get_records(iterator)["Records"]
    assert len(read) == 1500
    got = sorted(r["Data"].decode() for r in read)
    assert got == sorted(line + "\n" for line in retail(start="2026-01-01").json_lines(1500))


def test_partition_key_can_be_a_column(tmp_path):
    sink = RecordingSink()
    readings = fast(sensors, devices=4, dropout_rate=0)
    readings.producer(sink, max_count=8, fast=True, partition_key="device_id").run()
    assert [e["PartitionKey"] for e in sink.accepted[:4]] == [f"sensor-000{i}" for i in range(4)]


def test_line_sink_echoes_and_passes_on():
    lines, inner = [], RecordingSink()
    sink = LineSink(lines.append, then=inner)
    fast(retail).producer(sink, max_count=5, fast=True).run()
    assert len(lines) == len(inner.accepted) == 5 and json.loads(lines[0])["Invoice"] == "489434"


runner = CliRunner()


def test_cli_produce_into_a_stream_dry_run_and_console(tmp_path):
    Workbench(home=tmp_path).streams.create_stream("retail-trans", 1)
    args = ["--home", str(tmp_path), "--max-count", "700", "--speed", "0", "--seed", "3"]
    result = runner.invoke(app, ["produce", "retail", "--stream-name", "retail-trans", *args])
    assert result.exit_code == 0, result.output
    assert "700 records to retail-trans in 2 batches" in result.output
    stream = Workbench(home=tmp_path).streams.stream("retail-trans")
    shard = stream.list_shards()[0]["ShardId"]
    records = stream.get_records(stream.get_shard_iterator(shard, "TRIM_HORIZON"))["Records"]
    assert len(records) == 700

    dry = runner.invoke(app, ["produce", "nexmark", "--dry-run", "--verbose", *args])
    assert dry.exit_code == 0 and "nowhere (dry run)" in dry.output
    assert dry.output.count('"event_type"') == 700
    console = runner.invoke(app, ["produce", "sensors", "--service-name", "console", *args])
    assert console.exit_code == 0 and console.output.count('"device_id"') == 700


def test_cli_produce_says_what_is_wrong(tmp_path):
    home = ["--home", str(tmp_path), "--max-count", "5", "--speed", "0"]
    missing = runner.invoke(app, ["produce", "retail", "--stream", "nope", *home])
    assert missing.exit_code == 2 and "ResourceNotFoundException" in missing.output
    unknown = runner.invoke(app, ["produce", "weather", *home])
    assert unknown.exit_code == 2 and "retail, clickstream, sensors, nexmark" in unknown.output
    firehose = runner.invoke(app, ["produce", "retail", "--service-name", "firehose", *home])
    assert firehose.exit_code == 2 and "Firehose" in firehose.output


def test_a_delivery_stream_gets_put_record_batch_without_keys_and_retries():
    class DeliveryStream:
        """PutRecordBatch as AWS answers it: every other record refused on the first try."""

        def __init__(self):
            self.calls, self.kept = [], []

        def put_record_batch(self, records):
            self.calls.append(records)
            first = len(self.calls) == 1
            responses = []
            for i, record in enumerate(records):
                if first and i % 2:
                    responses.append({"ErrorCode": "ServiceUnavailableException"})
                else:
                    self.kept.append(record["Data"])
                    responses.append({"RecordId": str(len(self.kept))})
            failed = sum("ErrorCode" in r for r in responses)
            return {"FailedPutCount": failed, "RequestResponses": responses}

    target = DeliveryStream()
    counts = fast(retail).producer(target, max_count=300, fast=True).run()
    assert counts == {"sent": 300, "failed": 0, "retried": 150, "batches": 1}
    assert all(set(r) == {"Data"} for r in target.calls[0])
    assert sorted(target.kept) == sorted(line.encode() + b"\n" for line in retail.json_lines(300))
