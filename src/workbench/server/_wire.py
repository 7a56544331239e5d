"""The bytes on the wire: JSON 1.1 and CBOR bodies, and event-stream messages.

AWS JSON 1.1 carries blobs as base64 text and timestamps as epoch seconds; CBOR (what the Java
SDKs send) carries blobs as byte strings and timestamps as tag 1. Handlers see and return plain
Python values (``bytes``, aware ``datetime``); this module alone knows the encodings.

>>> body = {"Data": b"hi", "ApproximateArrivalTimestamp": datetime(2026, 1, 1, tzinfo=UTC)}
>>> JSON.encode(body)
b'{"Data":"aGk=","ApproximateArrivalTimestamp":1767225600.0}'
>>> CBOR.decode(CBOR.encode(body)) == body
True
"""

from __future__ import annotations

import binascii
import io
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cbor2
import numpy as np
import orjson

from workbench.errors import SerializationException
from workbench.streams import PutRecordsAnswer


def _json_default(value: Any) -> Any:
    # Called once per blob (GetRecords answers up to 10,000): plain bytes first, and binascii
    # itself rather than base64's wrapper: GetRecords of 10,000 records encodes in less than half
    # the time.
    if type(value) is bytes or isinstance(value, bytearray | memoryview):
        return binascii.b2a_base64(value, newline=False).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, PutRecordsAnswer):
        return orjson.Fragment(_put_records_json(value))
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _cbor_default(encoder: cbor2.CBOREncoder, value: Any) -> None:
    if not isinstance(value, PutRecordsAnswer):
        raise cbor2.CBOREncodeTypeError(f"cannot encode {type(value).__name__} as CBOR")
    encoder.encode(value.as_dict())


_RECORD_PARTS = (b'{"ShardId":"', b'","SequenceNumber":"', b'"},')


def _put_records_json(answer: PutRecordsAnswer) -> bytes:
    """PutRecords' answer as JSON, made from its columns: every record's object has the same
    width (shard ids are all ``shardId-`` and 12 digits, sequence numbers 56 digits), so the
    objects are the rows of one array, filled a column range at a time.

    >>> from workbench.streams._records import ShardRun
    >>> from workbench.streams._sequence import sequence_numbers, sequence_prefix
    >>> prefix = sequence_prefix(1767225600000, 1)
    >>> run = ShardRun("shardId-000000000001", [1, 0], sequence_numbers(prefix, 7, 2))
    >>> answer = PutRecordsAnswer(2, [run])
    >>> orjson.loads(_put_records_json(answer)) == answer.as_dict()
    True
    """
    shard_ids, shard_of, digits = answer.columns()
    ids = np.frombuffer("".join(shard_ids).encode(), dtype=np.uint8).reshape(len(shard_ids), -1)
    head, middle, tail = (np.frombuffer(part, dtype=np.uint8) for part in _RECORD_PARTS)
    columns = (head, ids[shard_of], middle, digits, tail)
    rows = np.empty((answer.count, sum(c.shape[-1] for c in columns)), dtype=np.uint8)
    start = 0
    for column in columns:
        rows[:, start : start + column.shape[-1]] = column
        start += column.shape[-1]
    records = rows.tobytes()[:-1]  # no comma after the last
    return b'{"FailedRecordCount":0,"Records":[' + records + b'],"EncryptionType":"NONE"}'


@dataclass(frozen=True)
class _Json:
    content_type: str = "application/x-amz-json-1.1"

    def decode(self, body: bytes) -> Any:
        try:
            return orjson.loads(body) if body else {}
        except orjson.JSONDecodeError as error:
            raise SerializationException(f"The request body is not valid JSON: {error}") from None

    def encode(self, value: Any) -> bytes:
        return orjson.dumps(value, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


@dataclass(frozen=True)
class _Cbor:
    content_type: str = "application/x-amz-cbor-1.1"

    def decode(self, body: bytes) -> Any:
        if not body:
            return {}
        stream = io.BytesIO(body)
        try:
            value = cbor2.CBORDecoder(stream).decode()
        except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as error:
            raise SerializationException(f"The request body is not valid CBOR: {error}") from None
        if stream.tell() != len(body):
            raise SerializationException(
                f"The request body has {len(body) - stream.tell()} bytes after its CBOR value."
            )
        return value

    def encode(self, value: Any) -> bytes:
        return cbor2.dumps(value, datetime_as_timestamp=True, timezone=UTC, default=_cbor_default)


JSON = _Json()
CBOR = _Cbor()


def codec_for(content_type: str | None) -> _Json | _Cbor:
    """The codec a request's Content-Type asks for; JSON when the client names none."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if "cbor" in kind:
        return CBOR
    if not kind or "json" in kind:
        return JSON
    raise SerializationException(
        f"Unsupported Content-Type {content_type!r}: use application/x-amz-json-1.1 "
        "or application/x-amz-cbor-1.1."
    )


# botocore ships only the event-stream decoder, so the encoder is written here: a message is a
# prelude (total and header lengths, CRC), headers, the payload and a CRC of all of it.
def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    # Value type 7 is a UTF-8 string with a 2-byte length.
    return (
        struct.pack("!B", len(raw_name))
        + raw_name
        + struct.pack("!BH", 7, len(raw_value))
        + raw_value
    )


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One ``application/vnd.amazon.eventstream`` message.

    >>> from botocore.eventstream import EventStreamBuffer
    >>> buffer = EventStreamBuffer()
    >>> buffer.add_data(event_message({":event-type": "initial-response"}, b"{}"))
    >>> message = next(iter(buffer))
    >>> (message.headers, message.payload)
    ({':event-type': 'initial-response'}, b'{}')
    """
    raw_headers = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    prelude += struct.pack("!I", binascii.crc32(prelude))
    message = prelude + raw_headers + payload
    return message + struct.pack("!I", binascii.crc32(message))


def event(event_type: str, body: dict[str, Any]) -> bytes:
    """An event of a JSON event stream (e.g. ``SubscribeToShardEvent``)."""
    headers = {":event-type": event_type, ":content-type": "application/json"}
    return event_message({**headers, ":message-type": "event"}, JSON.encode(body))


def exception_event(code: str, message: str) -> bytes:
    """An error inside an open event stream, as boto3's ``EventStreamError`` reads it."""
    headers = {
        ":exception-type": code,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return event_message(headers, JSON.encode({"message": message}))
