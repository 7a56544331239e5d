"""Kinesis_20131202: one handler per API action, translating the wire to the streams API.

The input of each handler has already passed the model's declarative validation (see
``_model.py``): required members are there, names match their patterns, numbers are in range,
blobs are bytes. What is left here is what the model cannot say: StreamName-or-StreamARN,
pagination, and the call into the engine (``context.streams``), whose AWS-shaped dicts go back
on the wire as they are.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson

from workbench.errors import (
    ExpiredNextTokenException,
    InvalidArgumentException,
    ResourceNotFoundException,
    ServiceError,
    ValidationException,
)
from workbench.server._app import EventStream, Service
from workbench.server._model import ServiceModel
from workbench.server._wire import event, exception_event

KINESIS = Service(ServiceModel.load("kinesis"))
handler = KINESIS.handler

_STREAM_ARN = re.compile(r"arn:aws[-a-z]*:kinesis:[^:]*:\d{12}:stream/([a-zA-Z0-9_.-]+)")


def stream_name(params: dict[str, Any]) -> str:
    """The stream a request names, by StreamName or by StreamARN.

    >>> stream_name({"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/retail"})
    'retail'
    """
    if "StreamName" in params:
        return params["StreamName"]
    if "StreamARN" in params:
        match = _STREAM_ARN.fullmatch(params["StreamARN"])
        if match is None:
            raise InvalidArgumentException(
                f"StreamARN {params['StreamARN']!r} is not a stream ARN "
                "(arn:aws:kinesis:<region>:<account>:stream/<name>)."
            )
        return match.group(1)
    raise ValidationException("Either StreamName or StreamARN should be provided.")


def _stream(context: Any, params: dict[str, Any]):
    name = stream_name(params)
    return context.streams.stream(name)


# -- pagination: tokens are opaque to clients, readable only here -----------------------------


def _token(**state: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode()


def _untoken(token: str) -> dict[str, Any]:
    try:
        state = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise ExpiredNextTokenException(f"Invalid NextToken: {token[:64]!r}.") from None
    if not isinstance(state, dict):
        raise ExpiredNextTokenException(f"Invalid NextToken: {token[:64]!r}.")
    return state


def _after(items: list[dict], key: str, start: str | None) -> list[dict]:
    return items if start is None else [item for item in items if item[key] > start]


# -- stream lifecycle -------------------------------------------------------------------------


@handler("CreateStream")
def create_stream(context: Any, params: dict[str, Any]) -> None:
    mode = params.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
    if mode == "PROVISIONED" and "ShardCount" not in params:
        raise ValidationException("ShardCount is required for a PROVISIONED stream.")
    context.streams.create_stream(
        params["StreamName"],
        params.get("ShardCount"),
        on_demand=mode == "ON_DEMAND",
        max_record_size_kib=params.get("MaxRecordSizeInKiB", 1024),
        tags=params.get("Tags"),
    )


@handler("DeleteStream")
def delete_stream(context: Any, params: dict[str, Any]) -> None:
    name = stream_name(params)
    context.streams.delete_stream(
        name, enforce_consumer_deletion=params.get("EnforceConsumerDeletion", False)
    )


@handler("DescribeStream")
def describe_stream(context: Any, params: dict[str, Any]) -> dict:
    name = stream_name(params)
    described = context.streams.describe_stream(name)
    description = dict(described["StreamDescription"])
    shards = _after(description["Shards"], "ShardId", params.get("ExclusiveStartShardId"))
    limit = params.get("Limit", 100)
    description["Shards"] = shards[:limit]
    description["HasMoreShards"] = len(shards) > limit
    return {"StreamDescription": description}


@handler("DescribeStreamSummary")
def describe_stream_summary(context: Any, params: dict[str, Any]) -> dict:
    name = stream_name(params)
    return context.streams.describe_stream_summary(name)


@handler("ListStreams")
def list_streams(context: Any, params: dict[str, Any]) -> dict:
    start = params.get("ExclusiveStartStreamName")
    if "NextToken" in params:
        start = _untoken(params["NextToken"]).get("after")
    summaries = _after(context.streams.list_streams()["StreamSummaries"], "StreamName", start)
    limit = params.get("Limit", 100)
    page = summaries[:limit]
    answer: dict[str, Any] = {
        "StreamNames": [summary["StreamName"] for summary in page],
        "StreamSummaries": page,
        "HasMoreStreams": len(summaries) > limit,
    }
    if answer["HasMoreStreams"]:
        answer["NextToken"] = _token(after=page[-1]["StreamName"])
    return answer


@handler("ListShards")
def list_shards(context: Any, params: dict[str, Any]) -> dict:
    if "NextToken" in params:
        if "StreamName" in params or "StreamARN" in params:
            raise InvalidArgumentException(
                "NextToken and StreamName/StreamARN cannot be provided together."
            )
        state = _untoken(params["NextToken"])
        name, start = state.get("stream"), state.get("after")
    else:
        name, start = stream_name(params), params.get("ExclusiveStartShardId")
    shards = _after(context.streams.stream(name).list_shards(), "ShardId", start)
    shards = _filter_shards(shards, params.get("ShardFilter"))
    limit = params.get("MaxResults", 1000)
    answer: dict[str, Any] = {"Shards": shards[:limit]}
    if len(shards) > limit:
        answer["NextToken"] = _token(stream=name, after=shards[limit - 1]["ShardId"])
    return answer


def _filter_shards(shards: list[dict], shard_filter: dict | None) -> list[dict]:
    if not shard_filter:
        return shards
    kind = shard_filter["Type"]
    is_open = [("EndingSequenceNumber" not in s["SequenceNumberRange"]) for s in shards]
    if kind == "AT_LATEST":
        return [s for s, open_ in zip(shards, is_open, strict=True) if open_]
    if kind == "AFTER_SHARD_ID":
        if "ShardId" not in shard_filter:
            raise InvalidArgumentException("ShardFilter AFTER_SHARD_ID needs a ShardId.")
        return [s for s in shards if s["ShardId"] > shard_filter["ShardId"]]
    # AT_TRIM_HORIZON, FROM_TRIM_HORIZON and the timestamp filters: every shard still retained.
    return shards


# -- records ----------------------------------------------------------------------------------


@handler("PutRecord", quick=True)
def put_record(context: Any, params: dict[str, Any]) -> dict:
    return _stream(context, params).put_record(
        params["Data"], params["PartitionKey"], explicit_hash_key=params.get("ExplicitHashKey")
    )


@handler("PutRecords", quick=True)
def put_records(context: Any, params: dict[str, Any]) -> Any:
    stream = _stream(context, params)
    # The engine's streams answer column-wise, which the codecs write out without a dict per
    # record (about a fifth of the request's CPU); a remote backend's streams answer with dicts.
    put = getattr(stream, "put_records_answer", stream.put_records)
    return put(params["Records"])


# The engine's iterator is wrapped with the stream's name, so GetRecords (which names only the
# iterator) finds its stream; names cannot contain "/".
def _wrap(name: str, iterator: str | None) -> str | None:
    return None if iterator is None else f"{name}/{iterator}"


def _unwrap(context: Any, token: str):
    name, sep, iterator = token.partition("/")
    if not sep or not name:
        raise InvalidArgumentException(f"Invalid ShardIterator: {token[:64]!r}.")
    try:
        return context.streams.stream(name), iterator
    except ResourceNotFoundException:
        raise ResourceNotFoundException(
            f"The stream of ShardIterator {token[:64]!r} does not exist."
        ) from None


@handler("GetShardIterator", quick=True)
def get_shard_iterator(context: Any, params: dict[str, Any]) -> dict:
    name = stream_name(params)
    iterator = context.streams.stream(name).get_shard_iterator(
        params["ShardId"],
        params["ShardIteratorType"],
        starting_sequence_number=params.get("StartingSequenceNumber"),
        timestamp=params.get("Timestamp"),
    )
    return {"ShardIterator": _wrap(name, iterator)}


@handler("GetRecords", quick=True)
def get_records(context: Any, params: dict[str, Any]) -> dict:
    stream, iterator = _unwrap(context, params["ShardIterator"])
    answer = dict(stream.get_records(iterator, limit=params.get("Limit", 10000)))
    answer["NextShardIterator"] = _wrap(stream.name, answer.get("NextShardIterator"))
    return answer


# -- retention, resharding, tags -------------------------------------------------------------


@handler("IncreaseStreamRetentionPeriod")
def increase_retention(context: Any, params: dict[str, Any]) -> None:
    _stream(context, params).increase_retention_period(params["RetentionPeriodHours"])


@handler("DecreaseStreamRetentionPeriod")
def decrease_retention(context: Any, params: dict[str, Any]) -> None:
    _stream(context, params).decrease_retention_period(params["RetentionPeriodHours"])


@handler("SplitShard")
def split_shard(context: Any, params: dict[str, Any]) -> None:
    _stream(context, params).split_shard(params["ShardToSplit"], params["NewStartingHashKey"])


@handler("MergeShards")
def merge_shards(context: Any, params: dict[str, Any]) -> None:
    _stream(context, params).merge_shards(params["ShardToMerge"], params["AdjacentShardToMerge"])


@handler("UpdateShardCount")
def update_shard_count(context: Any, params: dict[str, Any]) -> dict:
    return _stream(context, params).update_shard_count(
        params["TargetShardCount"], params["ScalingType"]
    )


@handler("AddTagsToStream")
def add_tags(context: Any, params: dict[str, Any]) -> None:
    _stream(context, params).add_tags(params["Tags"])


@handler("RemoveTagsFromStream")
def remove_tags(context: Any, params: dict[str, Any]) -> None:
    _stream(context, params).remove_tags(params["TagKeys"])


@handler("ListTagsForStream")
def list_tags(context: Any, params: dict[str, Any]) -> dict:
    tags = {tag["Key"]: tag["Value"] for tag in _stream(context, params).list_tags()["Tags"]}
    start = params.get("ExclusiveStartTagKey")
    keys = sorted(key for key in tags if start is None or key > start)
    limit = params.get("Limit", 50)
    return {
        "Tags": [{"Key": key, "Value": tags[key]} for key in keys[:limit]],
        "HasMoreTags": len(keys) > limit,
    }


# -- enhanced fan-out -------------------------------------------------------------------------


def _named(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "stream_arn": params.get("StreamARN"),
        "consumer_name": params.get("ConsumerName"),
        "consumer_arn": params.get("ConsumerARN"),
    }


@handler("RegisterStreamConsumer")
def register_consumer(context: Any, params: dict[str, Any]) -> dict:
    return context.streams.register_stream_consumer(params["StreamARN"], params["ConsumerName"])


@handler("DeregisterStreamConsumer")
def deregister_consumer(context: Any, params: dict[str, Any]) -> None:
    context.streams.deregister_stream_consumer(**_named(params))


@handler("DescribeStreamConsumer")
def describe_consumer(context: Any, params: dict[str, Any]) -> dict:
    return context.streams.describe_stream_consumer(**_named(params))


@handler("ListStreamConsumers")
def list_consumers(context: Any, params: dict[str, Any]) -> dict:
    consumers = context.streams.list_stream_consumers(params["StreamARN"])["Consumers"]
    start = _untoken(params["NextToken"]).get("after") if "NextToken" in params else None
    consumers = _after(consumers, "ConsumerName", start)
    limit = params.get("MaxResults", 100)
    answer: dict[str, Any] = {"Consumers": consumers[:limit]}
    if len(consumers) > limit:
        answer["NextToken"] = _token(after=consumers[limit - 1]["ConsumerName"])
    return answer


@handler("SubscribeToShard")
def subscribe_to_shard(context: Any, params: dict[str, Any]) -> EventStream:
    # Errors found before the stream opens (unknown consumer or shard, a second subscription
    # within 5 s) are answered as plain HTTP errors, as AWS does.
    subscription = context.streams.subscribe_to_shard(
        params["ConsumerARN"], params["ShardId"], params["StartingPosition"]
    )
    return EventStream(_events(subscription), subscription.close)


def _events(subscription):
    yield event("initial-response", {})
    try:
        for item in subscription:
            yield event("SubscribeToShardEvent", item["SubscribeToShardEvent"])
    except ServiceError as error:  # an open stream reports errors inside it, as AWS does
        yield exception_event(error.code, error.message)
