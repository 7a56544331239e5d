"""The endpoint as a running service: SubscribeToShard over HTTP/1.1, concurrent clients,
records served during a slow call, names that try to leave the home, Firehose's target,
start/stop, the CLI and the AWS CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from _raw import client_factory, free_port, post
from botocore.exceptions import ClientError

from workbench import Workbench
from workbench.server import Endpoint


def _subscription(kinesis, name):
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="pusher")["Consumer"]
    return {
        "ConsumerARN": consumer["ConsumerARN"],
        "ShardId": "shardId-000000000000",
        "StartingPosition": {"Type": "LATEST"},
    }


def test_subscribe_to_shard_pushes_records_put_after_it_opened(endpoint):
    kinesis = client_factory(endpoint.url)
    kinesis.create_stream(StreamName="pushed", ShardCount=1)
    events = kinesis.subscribe_to_shard(**_subscription(kinesis, "pushed"))["EventStream"]

    def produce():
        time.sleep(0.2)
        for i in range(3):
            kinesis.put_record(StreamName="pushed", Data=f"r{i}".encode(), PartitionKey="k")

    producer = threading.Thread(target=produce)
    producer.start()
    received: list[bytes] = []
    continuation = None
    for item in events:
        event = item["SubscribeToShardEvent"]
        received += [record["Data"] for record in event["Records"]]
        continuation = event["ContinuationSequenceNumber"] or continuation
        if len(received) >= 3:
            break
    events.close()
    producer.join()
    assert received == [b"r0", b"r1", b"r2"]
    assert continuation is not None


def test_a_second_subscription_within_5_s_is_in_use(endpoint):
    kinesis = client_factory(endpoint.url)
    kinesis.create_stream(StreamName="twice", ShardCount=1)
    call = _subscription(kinesis, "twice")
    kinesis.subscribe_to_shard(**call)["EventStream"].close()
    with pytest.raises(ClientError) as caught:
        kinesis.subscribe_to_shard(**call)
    assert caught.value.response["Error"]["Code"] == "ResourceInUseException"


def test_stopping_the_endpoint_ends_open_subscriptions(make_endpoint, tmp_path):
    endpoint = Endpoint(Workbench(home=tmp_path / "stopping"))
    kinesis = client_factory(endpoint.start())
    kinesis.create_stream(StreamName="open", ShardCount=1)
    events = kinesis.subscribe_to_shard(**_subscription(kinesis, "open"))["EventStream"]
    started = time.monotonic()
    endpoint.stop()
    assert time.monotonic() - started < 8
    assert list(events) == []  # the event stream ends instead of hanging


def test_concurrent_producers_lose_nothing(endpoint):
    kinesis = client_factory(endpoint.url, max_pool_connections=8)
    kinesis.create_stream(StreamName="busy", ShardCount=4)

    def produce(worker: int) -> int:
        client = client_factory(endpoint.url)
        failed = 0
        for batch in range(5):
            records = [
                {"Data": f"{worker}:{batch}:{i}".encode(), "PartitionKey": f"part-{i:05d}"}
                for i in range(100)
            ]
            failed += client.put_records(StreamName="busy", Records=records)["FailedRecordCount"]
        return failed

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(produce, range(4))) == 0
    seen = []
    for shard in kinesis.list_shards(StreamName="busy")["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName="busy", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        seen += [r["Data"] for r in kinesis.get_records(ShardIterator=iterator)["Records"]]
    assert len(seen) == len(set(seen)) == 4 * 5 * 100


class _SlowToCreate:
    """A workbench's streams whose CreateStream waits until released."""

    def __init__(self, streams) -> None:
        self._streams = streams
        self.creating, self.release = threading.Event(), threading.Event()

    def create_stream(self, *args, **kwargs):
        self.creating.set()
        self.release.wait(10)
        return self._streams.create_stream(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._streams, name)


def test_records_are_put_and_read_while_a_slow_call_is_in_progress(make_endpoint, tmp_path):
    wb = Workbench(home=tmp_path / "home")
    wb.streams.create_stream("ready", 1)
    streams = _SlowToCreate(wb.streams)
    endpoint = make_endpoint(SimpleNamespace(streams=streams))
    kinesis = client_factory(endpoint.url)
    with ThreadPoolExecutor(1) as pool:
        creating = pool.submit(
            client_factory(endpoint.url).create_stream, StreamName="later", ShardCount=1
        )
        assert streams.creating.wait(10)
        put = kinesis.put_records(StreamName="ready", Records=[{"Data": b"x", "PartitionKey": "k"}])
        iterator = kinesis.get_shard_iterator(
            StreamName="ready", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        got = kinesis.get_records(ShardIterator=iterator)["Records"]
        assert not creating.done()  # the slow call is still in its worker thread
        streams.release.set()
        creating.result(10)
    assert put["FailedRecordCount"] == 0
    assert [record["Data"] for record in got] == [b"x"]
    assert "later" in wb.streams.list_streams()["StreamNames"]


@pytest.mark.parametrize("name", ["..", ".", "../etc", "a/../../b", "/tmp"])
def test_names_never_reach_outside_the_home(make_endpoint, tmp_path, name):
    endpoint = make_endpoint()
    kinesis = client_factory(endpoint.url)
    with pytest.raises(ClientError) as caught:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError):
        kinesis.delete_stream(StreamName=name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    assert kinesis.list_streams()["StreamNames"] == []


def test_firehose_target_is_served_and_validated(endpoint):
    answer = post(
        endpoint.url,
        b'{"DeliveryStreamName": "bad/name", "Record": {"Data": "eA=="}}',
        target="Firehose_20150804.PutRecord",
    )
    assert answer.status == 400
    assert answer.json()["__type"] == "ValidationException"
    assert "deliveryStreamName" in answer.json()["message"]


def test_port_zero_picks_a_free_port_and_stop_frees_it(tmp_path):
    endpoint = Endpoint(Workbench(home=tmp_path / "h"))
    url = endpoint.start()
    assert url.startswith("http://127.0.0.1:") and endpoint.port > 0
    assert endpoint.start() == url  # starting twice is harmless
    endpoint.stop()
    again = Endpoint(Workbench(home=tmp_path / "h"), port=endpoint.port)
    assert again.start() == url
    again.stop()


def _environment() -> dict[str, str]:
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    return {
        **os.environ,
        "PYTHONPATH": os.path.abspath(src),
        "AWS_ACCESS_KEY_ID": "AKIDWORKBENCH",
        "AWS_SECRET_ACCESS_KEY": "workbench-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


WORKBENCH = shutil.which("workbench") or os.path.join(os.path.dirname(sys.executable), "workbench")


def test_workbench_serve_from_the_command_line(tmp_path):
    port = free_port()
    command = [WORKBENCH, "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--home", str(tmp_path / "home")],
        env=_environment(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [server.stdout.readline() for _ in range(2)]
        assert f"endpoint_url: http://127.0.0.1:{port}" in "".join(lines)
        kinesis = client_factory(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 10
        while True:
            try:
                kinesis.create_stream(StreamName="from-cli", ShardCount=1)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert kinesis.list_streams()["StreamNames"] == ["from-cli"]
    finally:
        server.terminate()
        server.wait(10)
    assert (tmp_path / "home" / "streams" / "from-cli").is_dir()


def _serving(home: Path) -> list[int]:
    """The processes of `workbench serve` over ``home``, the command and its workers."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        if b"serve" in argv and str(home).encode() in argv:
            found.append(int(entry))
    return found


def _connections_held(pids: list[int], port: int) -> dict[int, int]:
    """Established connections on ``port`` each process holds (its socket inodes matched to
    Linux's TCP table)."""
    established = {
        fields[9]
        for fields in map(str.split, Path("/proc/net/tcp").read_text().splitlines()[1:])
        if fields[3] == "01" and int(fields[1].split(":")[1], 16) == port
    }
    held = {}
    for pid in pids:
        links = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue  # closed meanwhile
        held[pid] = sum(link[8:-1] in established for link in links if link.startswith("socket:["))
    return held


def _start_serving(home: Path, port: int, workers: int) -> subprocess.Popen:
    command = [
        WORKBENCH,
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--home",
        str(home),
    ]
    server = subprocess.Popen(command, env=_environment(), stdout=subprocess.PIPE)
    assert b"endpoint_url" in server.stdout.readline() + server.stdout.readline()
    return server


def _until_gone(home: Path) -> None:
    deadline = time.monotonic() + 15
    while _serving(home):
        assert time.monotonic() < deadline, f"workers outlived the command: {_serving(home)}"
        time.sleep(0.1)


def test_workers_share_the_port_and_the_home_and_end_with_the_command(tmp_path):
    home, port = tmp_path / "home", free_port()
    server = _start_serving(home, port, workers=2)
    try:
        url = f"http://127.0.0.1:{port}"
        client_factory(url).create_stream(StreamName="shared", ShardCount=2)
        # Clients on kept-alive connections of their own, until both processes hold some (the
        # worker accepts once it has started).
        clients = []
        deadline = time.monotonic() + 30
        while len(clients) < 16 or not all(_connections_held(_serving(home), port).values()):
            assert time.monotonic() < deadline, _connections_held(_serving(home), port)
            clients.append(client_factory(url))
            clients[-1].list_streams()
            time.sleep(0.05)

        def produce(worker: int) -> int:
            records = [
                {"Data": f"{worker}:{i}".encode(), "PartitionKey": f"part-{i:05d}"}
                for i in range(50)
            ]
            return clients[worker].put_records(StreamName="shared", Records=records)[
                "FailedRecordCount"
            ]

        with ThreadPoolExecutor(16) as pool:
            assert sum(pool.map(produce, range(len(clients)))) == 0
        held = _connections_held(_serving(home), port)
        assert len(held) == 2 and all(held.values()), held
        kinesis = clients[0]
        seen = []
        for shard in kinesis.list_shards(StreamName="shared")["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName="shared", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            records = kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
            numbers = [int(r["SequenceNumber"]) for r in records]
            assert numbers == sorted(numbers)
            seen += [r["Data"] for r in records]
        assert len(seen) == len(set(seen)) == len(clients) * 50
    finally:
        server.kill()  # no chance to stop its workers: they notice on their own
        server.wait(10)
    _until_gone(home)


def test_workers_of_a_command_killed_while_they_start_end_too(tmp_path):
    home = tmp_path / "home"
    server = _start_serving(home, free_port(), workers=3)
    server.kill()  # the workers are still importing: they must not start serving for nobody
    server.wait(10)
    _until_gone(home)


AWS = shutil.which("aws") or os.path.join(os.path.dirname(sys.executable), "aws")


@pytest.mark.skipif(not os.path.exists(AWS), reason="the AWS CLI (pip awscli) is not installed")
def test_the_aws_cli_works_against_the_endpoint(endpoint):
    def aws(*args: str) -> dict:
        done = subprocess.run(
            [AWS, "--endpoint-url", endpoint.url, "--output", "json", "kinesis", *args],
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    aws("create-stream", "--stream-name", "cli", "--shard-count", "1")
    put = aws(
        "put-record",
        "--stream-name",
        "cli",
        "--partition-key",
        "part-00001",
        "--data",
        "aGVsbG8=",
    )
    assert put["ShardId"] == "shardId-000000000000"
    assert aws("list-streams")["StreamNames"] == ["cli"]


@pytest.mark.parametrize("token", ["forged", "kept/forged", "kept/" + "A" * 200, "/x"])
def test_forged_iterators_are_invalid_arguments(endpoint, token):
    kinesis = client_factory(endpoint.url)
    kinesis.create_stream(StreamName="kept", ShardCount=1)
    with pytest.raises(ClientError) as caught:
        kinesis.get_records(ShardIterator=token)
    assert caught.value.response["Error"]["Code"] == "InvalidArgumentException"


def test_list_streams_and_describe_stream_page_as_boto3_paginators_expect(endpoint):
    kinesis = client_factory(endpoint.url)
    names = [f"page-{i}" for i in range(7)]
    for name in names:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    listed = []
    for page in kinesis.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 3}):
        listed += page["StreamNames"]
    assert listed == names
    kinesis.create_stream(StreamName="wide", ShardCount=5)
    shards = []
    for page in kinesis.get_paginator("describe_stream").paginate(
        StreamName="wide", PaginationConfig={"PageSize": 2}
    ):
        shards += [s["ShardId"] for s in page["StreamDescription"]["Shards"]]
    assert shards == [f"shardId-{i:012d}" for i in range(5)]
