"""Data transformation by a Python function that follows the Firehose Lambda contract.

The function receives the invocation event AWS sends and returns the response AWS expects, so a
handler written here runs unchanged as a Lambda:

>>> import base64
>>> def upper(event, context=None):
...     return {"records": [
...         {"recordId": r["recordId"], "result": "Ok",
...          "data": base64.b64encode(base64.b64decode(r["data"]).upper()).decode()}
...         for r in event["records"]]}
>>> out = invoke(upper, [Incoming(b"abc", 0)], "arn:firehose", None, retries=3, now_ms=lambda: 1)
>>> out[0].result, out[0].data
('Ok', b'ABC')
"""

from __future__ import annotations

import base64
import binascii
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.firehose._config import REGION

RESULTS = ("Ok", "Dropped", "ProcessingFailed")


@dataclass
class Incoming:
    """A source record as the transform sees it."""

    data: bytes
    arrival_ms: int
    kinesis: dict[str, Any] | None = None


@dataclass
class Outcome:
    """What became of one record: Ok (with new data and partition keys), Dropped or failed."""

    result: str
    data: bytes = b""
    partition_keys: dict[str, str] = field(default_factory=dict)
    error_code: str = ""
    error_message: str = ""
    attempts: int = 1


def _call(function: Callable[..., Any], event: dict[str, Any]) -> Any:
    # Lambda handlers take (event, context); plain one-argument functions are welcome too.
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return function(event, None)
    positional = [
        p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params.values())
    return function(event, None) if varargs or len(positional) >= 2 else function(event)


def invoke(
    function: Callable[..., Any],
    records: list[Incoming],
    delivery_stream_arn: str,
    source_stream_arn: str | None,
    *,
    retries: int,
    now_ms: Callable[[], int],
) -> list[Outcome]:
    """Run ``function`` on one invocation's records, retrying on errors; one Outcome each.

    An exception or an unusable response is retried ``retries`` times; then every record of the
    invocation fails with that error. A record whose recordId is missing from a usable response
    fails with ``Lambda.MissingRecordId``.
    """
    ids = [f"{uuid.uuid4()}-{i}" for i in range(len(records))]
    event: dict[str, Any] = {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": delivery_stream_arn,
        "region": REGION,
        "records": [],
    }
    if source_stream_arn:
        event["sourceKinesisStreamArn"] = source_stream_arn
    for record_id, record in zip(ids, records, strict=True):
        entry = {
            "recordId": record_id,
            "approximateArrivalTimestamp": record.arrival_ms,
            "data": base64.b64encode(record.data).decode(),
        }
        if record.kinesis is not None:
            entry["kinesisRecordMetadata"] = record.kinesis
        event["records"].append(entry)
    attempts = 0
    code = message = ""
    while attempts <= retries:
        attempts += 1
        try:
            response = _call(function, event)
        except Exception as error:
            code, message = "Lambda.FunctionError", f"{type(error).__name__}: {error}"
            continue
        try:
            by_id = _read_response(response)
        except ValueError as error:
            code, message = "Lambda.InvalidReturnValue", str(error)
            continue
        return [_outcome(by_id.get(record_id), attempts) for record_id in ids]
    return [Outcome("ProcessingFailed", error_code=code, error_message=message, attempts=attempts)
            for _ in records]  # fmt: skip


def _read_response(response: Any) -> dict[str, Outcome]:
    if not isinstance(response, dict) or not isinstance(response.get("records"), list):
        raise ValueError(
            "The function returned no 'records' list: return {'records': [{'recordId', "
            "'result', 'data'}, ...]}."
        )
    by_id: dict[str, Outcome] = {}
    for entry in response["records"]:
        if not isinstance(entry, dict) or "recordId" not in entry:
            continue
        result = entry.get("result")
        if result not in RESULTS:
            raise ValueError(
                f"Record {entry['recordId']} has result {result!r}; use one of {RESULTS}."
            )
        outcome = Outcome(result)
        if result == "Ok":
            try:
                outcome.data = base64.b64decode(entry.get("data", ""), validate=True)
            except (binascii.Error, TypeError) as error:
                raise ValueError(f"Record {entry['recordId']} has data that is not base64.") from (
                    error
                )
            keys = (entry.get("metadata") or {}).get("partitionKeys") or {}
            outcome.partition_keys = {str(k): v for k, v in keys.items()}
        elif result == "ProcessingFailed":
            outcome.error_code = "Lambda.ProcessingFailedStatus"
            outcome.error_message = "The function returned result ProcessingFailed."
        by_id[entry["recordId"]] = outcome
    return by_id


def _outcome(found: Outcome | None, attempts: int) -> Outcome:
    if found is None:
        return Outcome(
            "ProcessingFailed",
            error_code="Lambda.MissingRecordId",
            error_message="The function's response has no record with this recordId.",
            attempts=attempts,
        )
    found.attempts = attempts
    return found
