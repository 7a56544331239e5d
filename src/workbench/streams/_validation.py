"""Declarative checks of request fields, with the messages AWS sends for them.

>>> check_stream_name("retail-trans")
'retail-trans'
>>> check_stream_name("../etc")
Traceback (most recent call last):
...
workbench.errors.ValidationException: 1 validation error detected: Value '../etc' at \
'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: \
[a-zA-Z0-9_.-]+
"""

from __future__ import annotations

import re

from workbench.errors import InvalidArgumentException, ValidationException

ACCOUNT = "000000000000"
REGION = "us-east-1"
_NAME = re.compile(r"[a-zA-Z0-9_.-]+")
_HASH_KEY = re.compile(r"0|[1-9]\d{0,38}")
_SHARD_ID = re.compile(r"shardId-(\d{12})")
_ARN = re.compile(r"arn:aws:kinesis:[a-z0-9-]+:\d{12}:stream/(.+)")


def invalid(value: object, field: str, constraint: str) -> ValidationException:
    shown = value if len(repr(value)) < 200 else f"{repr(value)[:100]}..."
    return ValidationException(
        f"1 validation error detected: Value '{shown}' at '{field}' failed to satisfy "
        f"constraint: Member must {constraint}"
    )


def check_length(value: object, field: str, low: int, high: int) -> None:
    if not isinstance(value, str):
        raise invalid(value, field, "be a string")
    if len(value) < low:
        raise invalid(value, field, f"have length greater than or equal to {low}")
    if len(value) > high:
        raise invalid(value, field, f"have length less than or equal to {high}")


def check_stream_name(name: object, field: str = "streamName") -> str:
    """A stream name that may safely become a folder name, or ValidationException.

    ``.`` and ``..`` match AWS's pattern but name folders of their own, so they are refused too.
    """
    if isinstance(name, str) and (m := _ARN.fullmatch(name)):
        name = m.group(1)
    check_length(name, field, 1, 128)
    assert isinstance(name, str)
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise invalid(name, field, "satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
    return name


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def shard_name(index: int) -> str:
    return f"shardId-{index:012d}"


def shard_index(shard: object, stream: str, field: str = "shardId") -> int:
    """The index in a shard id; ResourceNotFoundException for ids this stream cannot have."""
    from workbench.errors import ResourceNotFoundException

    check_length(shard, field, 1, 128)
    assert isinstance(shard, str)
    if not _NAME.fullmatch(shard):
        raise invalid(shard, field, "satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
    m = _SHARD_ID.fullmatch(shard)
    if m is None:
        raise ResourceNotFoundException(
            f"Shard {shard} in stream {stream} under account {ACCOUNT} does not exist"
        )
    return int(m.group(1))


def check_partition_key(key: object, field: str = "partitionKey") -> str:
    check_length(key, field, 1, 256)
    assert isinstance(key, str)
    return key


def check_hash_key(value: object, field: str = "explicitHashKey") -> int:
    """A decimal hash key in 0..2^128-1."""
    if not isinstance(value, str) or not _HASH_KEY.fullmatch(value):
        raise invalid(value, field, "satisfy regular expression pattern: 0|([1-9]\\d{0,38})")
    key = int(value)
    if key >= 2**128:
        raise InvalidArgumentException(
            f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            f"Specified value was {value}"
        )
    return key


def check_int(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(value, field, "be an integer")
    if value < low:
        raise invalid(value, field, f"have value greater than or equal to {low}")
    if value > high:
        raise invalid(value, field, f"have value less than or equal to {high}")
    return value


def as_bytes(data: object, field: str = "data") -> bytes:
    """Record data: bytes as given, text as UTF-8."""
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise invalid(type(data).__name__, field, "be bytes or a string")
