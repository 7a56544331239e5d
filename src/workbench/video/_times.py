"""Timestamps and page tokens as the Kinesis Video APIs take and return them."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import orjson

from workbench.clock import parse_instant
from workbench.errors import InvalidArgumentException

TIMESTAMP_TYPES = ("PRODUCER_TIMESTAMP", "SERVER_TIMESTAMP")


def to_datetime(epoch: float) -> datetime:
    """An aware UTC datetime, as boto3 returns timestamps."""
    return datetime.fromtimestamp(epoch, UTC)


def instant(value: object, what: str) -> float:
    """Epoch seconds of a timestamp argument, or InvalidArgumentException naming it."""
    try:
        return parse_instant(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise InvalidArgumentException(f"{what}: {error}") from None


def time_range(start: object, end: object, timestamp_type: str) -> tuple[float, float, str]:
    """A validated (start, end, column) for a timestamp range on producer or server time."""
    if timestamp_type not in TIMESTAMP_TYPES:
        raise InvalidArgumentException(
            f"selector type {timestamp_type!r} is not one of {', '.join(TIMESTAMP_TYPES)}"
        )
    low, high = instant(start, "StartTimestamp"), instant(end, "EndTimestamp")
    if high < low:
        raise InvalidArgumentException(
            f"EndTimestamp {to_datetime(high).isoformat()} is before StartTimestamp "
            f"{to_datetime(low).isoformat()}"
        )
    column = "producer_ts" if timestamp_type == "PRODUCER_TIMESTAMP" else "server_ts"
    return low, high, column


def check_max_results(value: int, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidArgumentException(f"MaxResults must be an integer {low}-{high}, got {value!r}")
    return value


def encode_token(state: dict) -> str:
    """An opaque NextToken carrying where the next page starts and the request it belongs to."""
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode()


def decode_token(token: str, request: dict) -> dict:
    """The state in ``token``; it must come from the same request (same stream and range)."""
    try:
        state = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, AttributeError):
        raise InvalidArgumentException(
            f"NextToken {token!r} is not a token this API returned"
        ) from None
    if not isinstance(state, dict) or state.get("request") != request:
        raise InvalidArgumentException(
            "NextToken belongs to a different request: pass the same stream, selector and range "
            "as the call that returned it"
        )
    return state
