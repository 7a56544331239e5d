"""The streams API on a boto3 Kinesis client: real AWS, LocalStack, moto or this endpoint.

The same calls as the embedded engine (``create_stream``, ``stream(name).put_records(...)``,
``get_shard_iterator``, ``get_records`` ...) with the same AWS-shaped dicts out and the same
``workbench.errors`` exceptions, so a notebook moves from the laptop to AWS by configuration.
The transport is the boto3 client handed in: any endpoint, credentials, retries or stubs.

>>> import tempfile
>>> from workbench import Workbench
>>> from workbench.server import Endpoint
>>> with Endpoint(Workbench(home=tempfile.mkdtemp())) as url:
...     streams = RemoteStreams.connect(endpoint_url=url)
...     streams.create_stream("orders", 1).put_record(b"{}", "part-00001")["ShardId"]
'shardId-000000000000'
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from workbench import errors
from workbench.clock import parse_instant
from workbench.server._backend import ENDPOINT_ENV


def _translate(error: ClientError) -> errors.ServiceError:
    code = error.response.get("Error", {}).get("Code", "ServiceError")
    message = error.response.get("Error", {}).get("Message", str(error))
    kind = getattr(errors, code, None)
    if not (isinstance(kind, type) and issubclass(kind, errors.ServiceError)):
        # An AWS error the workbench has no class for keeps its name on the wire.
        kind = type(code, (errors.ServiceError,), {})
    return kind(message)


class _Calls:
    """Calls the client, turning botocore's ClientError into ``workbench.errors``."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(self, operation: str, **params: Any) -> dict:
        try:
            answer = getattr(self.client, operation)(**params)
        except ClientError as error:
            raise _translate(error) from None
        answer.pop("ResponseMetadata", None)
        return answer


class RemoteStream(_Calls):
    """One stream reached through a Kinesis client."""

    def __init__(self, client: Any, name: str, arn: str) -> None:
        super().__init__(client)
        self.name, self.arn = name, arn

    def __repr__(self) -> str:
        return f"RemoteStream({self.name!r}, {self.client.meta.endpoint_url!r})"

    def put_record(
        self, data: bytes | str, partition_key: str, *, explicit_hash_key: str | None = None
    ) -> dict:
        extra = {} if explicit_hash_key is None else {"ExplicitHashKey": explicit_hash_key}
        return self.call(
            "put_record", StreamName=self.name, Data=data, PartitionKey=partition_key, **extra
        )

    def put_records(self, entries: list[dict]) -> dict:
        return self.call("put_records", StreamName=self.name, Records=entries)

    def put_frame(self, frame: object, partition_key: Any = None) -> dict:
        """Every row of a polars/pandas frame, Arrow table or iterable of dicts as one JSON
        record (as the engine's ``put_frame``), sent in PutRecords calls of at most 500 records
        and 5 MiB; records a shard refuses (throughput) are sent again."""
        from workbench.streams._frames import frame_records

        data, keys = frame_records(frame, partition_key)
        entries = [
            {"Data": row.encode(), "PartitionKey": key}
            for row, key in zip(data.to_pylist(), keys.to_pylist(), strict=True)
        ]
        summary: dict[str, dict] = {}
        for batch in _batches(entries):
            for result in self._put_all(batch):
                shard = summary.setdefault(
                    result["ShardId"], {"Records": 0, "FirstSequenceNumber": None}
                )
                shard["Records"] += 1
                shard["FirstSequenceNumber"] = (
                    shard["FirstSequenceNumber"] or (result["SequenceNumber"])
                )
                shard["LastSequenceNumber"] = result["SequenceNumber"]
        return {"Records": len(entries), "Shards": summary}

    def _put_all(self, batch: list[dict]) -> list[dict]:
        done: list[dict] = []
        pending, pause = batch, 0.05
        while pending:
            results = self.put_records(pending)["Records"]
            retry = [e for e, r in zip(pending, results, strict=True) if "ErrorCode" in r]
            done += [r for r in results if "ErrorCode" not in r]
            if retry:
                time.sleep(pause)  # over a shard's quota: back off as the KPL does
                pause = min(pause * 2, 2.0)
            pending = retry
        return done

    def get_records_arrow(
        self, shard_iterator: str, limit: int | None = None, *, decode_json: Any = False
    ):
        """GetRecords into one Arrow table (the engine's columns); ``limit`` None reads up to
        the newest record, calling GetRecords as often as that takes."""
        import pyarrow as pa

        from workbench.streams import ArrowRecords
        from workbench.streams._records import json_columns

        records: list[dict] = []
        answer: dict = {"NextShardIterator": shard_iterator}
        while answer.get("NextShardIterator") and (limit is None or len(records) < limit):
            want = 10000 if limit is None else min(10000, limit - len(records))
            answer = self.get_records(answer["NextShardIterator"], limit=want)
            records += answer["Records"]
            if not answer["Records"] and answer.get("MillisBehindLatest", 0) == 0:
                break
        table = pa.table(
            {
                "sequence_number": pa.array([r["SequenceNumber"] for r in records], pa.string()),
                "partition_key": pa.array([r["PartitionKey"] for r in records], pa.string()),
                "approximate_arrival_timestamp": pa.array(
                    [r["ApproximateArrivalTimestamp"] for r in records], pa.timestamp("ms", "UTC")
                ),
                "data": pa.array([r["Data"] for r in records], pa.binary()),
            }
        )
        if decode_json is not False:
            table = json_columns(table, None if decode_json is True else decode_json)
        return ArrowRecords(
            table,
            answer.get("NextShardIterator"),
            answer.get("MillisBehindLatest", 0),
            answer.get("ChildShards"),
        )

    def list_shards(self) -> list[dict]:
        shards, params = [], {"StreamName": self.name}
        while True:
            answer = self.call("list_shards", **params)
            shards.extend(answer["Shards"])
            if not answer.get("NextToken"):
                return shards
            params = {"NextToken": answer["NextToken"]}

    def get_shard_iterator(
        self,
        shard_id: str,
        iterator_type: str,
        *,
        starting_sequence_number: str | None = None,
        timestamp: datetime | float | str | None = None,
    ) -> str:
        params: dict[str, Any] = {
            "StreamName": self.name,
            "ShardId": shard_id,
            "ShardIteratorType": iterator_type,
        }
        if starting_sequence_number is not None:
            params["StartingSequenceNumber"] = starting_sequence_number
        if timestamp is not None:
            params["Timestamp"] = parse_instant(timestamp)
        return self.call("get_shard_iterator", **params)["ShardIterator"]

    def get_records(self, shard_iterator: str, limit: int = 10000) -> dict:
        """GetRecords' answer (arrival timestamps as aware datetimes, data as bytes)."""
        return self.call("get_records", ShardIterator=shard_iterator, Limit=limit)

    def describe(self) -> dict:
        return self.call("describe_stream_summary", StreamName=self.name)

    def increase_retention_period(self, hours: int) -> None:
        self.call(
            "increase_stream_retention_period", StreamName=self.name, RetentionPeriodHours=hours
        )

    def decrease_retention_period(self, hours: int) -> None:
        self.call(
            "decrease_stream_retention_period", StreamName=self.name, RetentionPeriodHours=hours
        )

    def split_shard(self, shard_id: str, new_starting_hash_key: str) -> None:
        self.call(
            "split_shard",
            StreamName=self.name,
            ShardToSplit=shard_id,
            NewStartingHashKey=str(new_starting_hash_key),
        )

    def merge_shards(self, shard_id: str, adjacent_shard_id: str) -> None:
        self.call(
            "merge_shards",
            StreamName=self.name,
            ShardToMerge=shard_id,
            AdjacentShardToMerge=adjacent_shard_id,
        )

    def update_shard_count(
        self, target_shard_count: int, scaling_type: str = "UNIFORM_SCALING"
    ) -> dict:
        return self.call(
            "update_shard_count",
            StreamName=self.name,
            TargetShardCount=target_shard_count,
            ScalingType=scaling_type,
        )

    def add_tags(self, tags: dict[str, str]) -> None:
        self.call("add_tags_to_stream", StreamName=self.name, Tags=tags)

    def remove_tags(self, keys: list[str]) -> None:
        self.call("remove_tags_from_stream", StreamName=self.name, TagKeys=keys)

    def list_tags(self) -> dict:
        """ListTagsForStream's answer, every page in one."""
        tags: list[dict] = []
        params = {"StreamName": self.name}
        while True:
            answer = self.call("list_tags_for_stream", **params)
            tags.extend({"Key": t["Key"], "Value": t.get("Value", "")} for t in answer["Tags"])
            if not answer.get("HasMoreTags") or not answer["Tags"]:
                return {"Tags": tags, "HasMoreTags": False}
            params["ExclusiveStartTagKey"] = answer["Tags"][-1]["Key"]


def _batches(entries: list[dict], count: int = 500, size: int = 5 * 1024 * 1024):
    batch: list[dict] = []
    used = 0
    for entry in entries:
        bytes_ = len(entry["Data"]) + len(entry["PartitionKey"].encode())
        if batch and (len(batch) == count or used + bytes_ > size):
            yield batch
            batch, used = [], 0
        batch.append(entry)
        used += bytes_
    if batch:
        yield batch


class _FanOut(_Calls):
    """Enhanced fan-out through the client: the same calls as the engine's."""

    def register_stream_consumer(self, stream_arn: str, consumer_name: str) -> dict:
        return self.call(
            "register_stream_consumer", StreamARN=stream_arn, ConsumerName=consumer_name
        )

    def deregister_stream_consumer(
        self,
        stream_arn: str | None = None,
        consumer_name: str | None = None,
        consumer_arn: str | None = None,
    ) -> None:
        self.call(
            "deregister_stream_consumer", **_consumer(stream_arn, consumer_name, consumer_arn)
        )

    def describe_stream_consumer(
        self,
        stream_arn: str | None = None,
        consumer_name: str | None = None,
        consumer_arn: str | None = None,
    ) -> dict:
        return self.call(
            "describe_stream_consumer", **_consumer(stream_arn, consumer_name, consumer_arn)
        )

    def list_stream_consumers(self, stream_arn: str) -> dict:
        consumers, params = [], {"StreamARN": stream_arn}
        while True:
            answer = self.call("list_stream_consumers", **params)
            consumers.extend(answer["Consumers"])
            if not answer.get("NextToken"):
                return {"Consumers": consumers}
            params["NextToken"] = answer["NextToken"]

    def subscribe_to_shard(
        self, consumer_arn: str, shard_id: str, starting_position: dict[str, Any]
    ) -> RemoteSubscription:
        """SubscribeToShard: events ``{"SubscribeToShardEvent": {...}}`` as they come."""
        position = dict(starting_position)
        if "Timestamp" in position:
            position["Timestamp"] = parse_instant(position["Timestamp"])
        answer = self.call(
            "subscribe_to_shard",
            ConsumerARN=consumer_arn,
            ShardId=shard_id,
            StartingPosition=position,
        )
        return RemoteSubscription(answer["EventStream"])


def _consumer(stream_arn: str | None, name: str | None, arn: str | None) -> dict[str, str]:
    given = {"StreamARN": stream_arn, "ConsumerName": name, "ConsumerARN": arn}
    return {key: value for key, value in given.items() if value is not None}


class RemoteSubscription:
    """The events of one SubscribeToShard call; ``close()`` may be called from any thread."""

    def __init__(self, events: Any) -> None:
        self._events = events

    def __iter__(self) -> Iterator[dict]:
        try:
            yield from self._events
        except ClientError as error:
            raise _translate(error) from None

    def close(self) -> None:
        self._events.close()


class RemoteStreams(_FanOut):
    """The streams of one account and region, through a boto3 Kinesis client."""

    @classmethod
    def connect(
        cls,
        endpoint_url: str | None = None,
        *,
        region_name: str | None = None,
        session: Any = None,
    ) -> RemoteStreams:
        """A client for ``endpoint_url`` (None: real AWS with the usual credential chain).

        A local endpoint without configured credentials gets dummy ones, as emulators expect.
        """
        import boto3

        session = session or boto3.session.Session()
        region = region_name or session.region_name or "us-east-1"
        kwargs: dict[str, Any] = {"region_name": region}
        if endpoint_url is not None:
            kwargs["endpoint_url"] = endpoint_url
            if session.get_credentials() is None:
                kwargs.update(aws_access_key_id="workbench", aws_secret_access_key="workbench")
        return cls(session.client("kinesis", **kwargs))

    @classmethod
    def from_environment(cls) -> RemoteStreams:
        """``$WORKBENCH_ENDPOINT_URL`` (unset: AWS itself) and the usual AWS variables."""
        return cls.connect(os.environ.get(ENDPOINT_ENV) or None)

    def __repr__(self) -> str:
        return f"RemoteStreams({self.client.meta.endpoint_url!r})"

    def create_stream(
        self,
        name: str,
        shard_count: int | None = None,
        *,
        on_demand: bool = False,
        max_record_size_kib: int = 1024,
        tags: dict[str, str] | None = None,
        wait: float = 120.0,
    ) -> RemoteStream:
        params: dict[str, Any] = {
            "StreamName": name,
            "StreamModeDetails": {"StreamMode": "ON_DEMAND" if on_demand else "PROVISIONED"},
        }
        if shard_count is not None:
            params["ShardCount"] = shard_count
        if max_record_size_kib != 1024:
            params["MaxRecordSizeInKiB"] = max_record_size_kib
        if tags:
            params["Tags"] = tags
        self.call("create_stream", **params)
        self._wait_active(name, wait)
        return self.stream(name)

    def _wait_active(self, name: str, timeout: float) -> None:
        # AWS takes seconds to leave CREATING; emulators are ACTIVE at once.
        deadline = time.monotonic() + timeout
        while self.describe_stream_summary(name)["StreamDescriptionSummary"]["StreamStatus"] != (
            "ACTIVE"
        ):
            if time.monotonic() > deadline:
                raise errors.ResourceInUseException(
                    f"Stream {name} is not ACTIVE after {timeout} s."
                )
            time.sleep(1)

    def stream(self, name: str) -> RemoteStream:
        summary = self.describe_stream_summary(name)["StreamDescriptionSummary"]
        return RemoteStream(self.client, name, summary["StreamARN"])

    def list_streams(self) -> dict:
        """ListStreams' answer, every page in one."""
        summaries: list[dict] = []
        params: dict[str, Any] = {}
        while True:
            answer = self.call("list_streams", **params)
            summaries.extend(
                answer.get("StreamSummaries")
                or [{"StreamName": name} for name in answer["StreamNames"]]
            )
            if not answer.get("HasMoreStreams"):
                return {
                    "StreamNames": [summary["StreamName"] for summary in summaries],
                    "HasMoreStreams": False,
                    "StreamSummaries": summaries,
                }
            params = (
                {"NextToken": answer["NextToken"]}
                if answer.get("NextToken")
                else {"ExclusiveStartStreamName": summaries[-1]["StreamName"]}
            )

    def delete_stream(self, name: str, *, enforce_consumer_deletion: bool = False) -> None:
        self.call(
            "delete_stream", StreamName=name, EnforceConsumerDeletion=enforce_consumer_deletion
        )

    def describe_stream(self, name: str) -> dict:
        """DescribeStream's answer with every shard (AWS pages them 100 at a time)."""
        answer = self.call("describe_stream", StreamName=name)
        description = answer["StreamDescription"]
        while description.get("HasMoreShards") and description["Shards"]:
            page = self.call(
                "describe_stream",
                StreamName=name,
                ExclusiveStartShardId=description["Shards"][-1]["ShardId"],
            )["StreamDescription"]
            description["Shards"] += page["Shards"]
            description["HasMoreShards"] = page.get("HasMoreShards", False)
        return answer

    def describe_stream_summary(self, name: str) -> dict:
        return self.call("describe_stream_summary", StreamName=name)
