"""Firehose_20150804: one handler per API action, translating the wire to ``context.firehose``.

Input has passed the model's declarative validation (``_model.py``) before a handler runs.
"""

from __future__ import annotations

import threading
from typing import Any

from workbench.errors import InvalidArgumentException
from workbench.server._app import Service
from workbench.server._model import ServiceModel

FIREHOSE = Service(ServiceModel.load("firehose"))
handler = FIREHOSE.handler


def delivering(context: Any, name: str) -> None:
    """Deliver ``name`` in the background, as AWS does by itself, unless it already is; the
    endpoint stops what it started when it stops (see ``stop_deliveries``). Another process
    delivering the stream keeps doing so: this one's loop only notes that it is refused."""
    delivery = context.firehose.delivery_stream(name)
    if not delivery.running:
        delivery.start()
        with _STARTED_LOCK:
            _STARTED.setdefault(id(context.firehose), set()).add(name)


def stop_deliveries(context: Any) -> None:
    """Stop the background deliveries that endpoints started on ``context``'s Firehose."""
    firehose = getattr(context, "__dict__", {}).get("firehose")  # never created: nothing to do
    if firehose is None:
        return
    with _STARTED_LOCK:
        names = _STARTED.pop(id(firehose), set())
    for name in names:
        firehose.delivery_stream(name).stop()


_STARTED_LOCK = threading.Lock()
_STARTED: dict[int, set[str]] = {}

# Destinations the workbench delivers to; the others (Redshift, Splunk, ...) have no substitute.
_S3_DESTINATIONS = ("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration")


@handler("CreateDeliveryStream")
def create_delivery_stream(context: Any, params: dict[str, Any]) -> dict:
    destination = next((params[key] for key in _S3_DESTINATIONS if key in params), None)
    if destination is None:
        unsupported = sorted(key for key in params if key.endswith("DestinationConfiguration"))
        raise InvalidArgumentException(
            f"The workbench delivers to S3 only (ExtendedS3DestinationConfiguration or "
            f"S3DestinationConfiguration); got {unsupported or 'no destination'}."
        )
    tags = {tag["Key"]: tag.get("Value", "") for tag in params.get("Tags", [])}
    created = context.firehose.create_delivery_stream(
        params["DeliveryStreamName"],
        delivery_stream_type=params.get("DeliveryStreamType"),
        kinesis_stream_source_configuration=params.get("KinesisStreamSourceConfiguration"),
        # S3DestinationConfiguration's members are a subset of the extended one's.
        extended_s3_destination_configuration=destination,
        tags=tags or None,
    )
    delivering(context, params["DeliveryStreamName"])
    return created


@handler("DescribeDeliveryStream")
def describe_delivery_stream(context: Any, params: dict[str, Any]) -> dict:
    return context.firehose.describe_delivery_stream(params["DeliveryStreamName"])


@handler("ListDeliveryStreams")
def list_delivery_streams(context: Any, params: dict[str, Any]) -> dict:
    return context.firehose.list_delivery_streams(
        limit=params.get("Limit", 10),
        delivery_stream_type=params.get("DeliveryStreamType"),
        exclusive_start_delivery_stream_name=params.get("ExclusiveStartDeliveryStreamName"),
    )


@handler("DeleteDeliveryStream")
def delete_delivery_stream(context: Any, params: dict[str, Any]) -> None:
    context.firehose.delete_delivery_stream(params["DeliveryStreamName"])
    with _STARTED_LOCK:
        _STARTED.get(id(context.firehose), set()).discard(params["DeliveryStreamName"])


@handler("PutRecord")
def put_record(context: Any, params: dict[str, Any]) -> dict:
    answer = context.firehose.put_record(params["DeliveryStreamName"], params["Record"]["Data"])
    delivering(context, params["DeliveryStreamName"])
    return answer


@handler("PutRecordBatch")
def put_record_batch(context: Any, params: dict[str, Any]) -> dict:
    answer = context.firehose.put_record_batch(
        params["DeliveryStreamName"], [record["Data"] for record in params["Records"]]
    )
    delivering(context, params["DeliveryStreamName"])
    return answer
