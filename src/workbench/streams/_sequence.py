"""Sequence numbers: 56-digit decimal strings, as long as the ones AWS hands out.

A sequence number is ``49`` + the stream's creation instant (15 digits of epoch milliseconds)
+ the shard's index (12 digits) + the record's position in its shard (27 digits). All have the
same length, so they compare correctly as integers and as strings; a number names its stream
incarnation and its shard, so one from another shard or a deleted stream is recognised.

>>> prefix = sequence_prefix(1767225600000, 3)
>>> number = sequence_number(prefix, 42)
>>> len(number), parse_sequence_number(number)
(56, (1767225600000, 3, 42))
"""

from __future__ import annotations

import re

import numpy as np

from workbench.errors import InvalidArgumentException, ValidationException
from workbench.streams._native import speedups

sequence_digits = speedups.sequence_digits if speedups is not None else None

SEQUENCE_WIDTH = 56
_POSITION_DIGITS = 27
_PATTERN = re.compile(r"0|[1-9]\d{0,128}")


def sequence_prefix(stream_created_ms: int, shard_index: int) -> str:
    """The 29 leading digits that every sequence number of one shard shares."""
    return f"49{stream_created_ms:015d}{shard_index:012d}"


def sequence_number(prefix: str, position: int) -> str:
    return f"{prefix}{position:0{_POSITION_DIGITS}d}"


def sequence_numbers(prefix: str, start: int, count: int) -> list[str]:
    """``count`` consecutive sequence numbers from position ``start``.

    >>> sequence_numbers("4", 9, 2) == [sequence_number("4", 9), sequence_number("4", 10)]
    True
    """
    if count == 1:  # PutRecord's case, and a single f-string is quicker than the loop below
        return [sequence_number(prefix, start)]
    numbers: list[str] = []
    stop = start + count
    while start < stop:
        # Positions with the same number of digits share their zero padding, so each number
        # is one str() and one concatenation (C loops), not a formatted f-string.
        digits = len(str(start))
        end = min(stop, 10**digits)
        head = prefix + "0" * (_POSITION_DIGITS - digits)
        numbers.extend([head + p for p in map(str, range(start, end))])
        start = end
    return numbers


_GROUP = 10_000
# "0000".."9999" as one uint32 each: a position's digits are gathered four at a time.
_DIGIT_GROUPS = (
    np.frombuffer("".join(f"{i:04d}" for i in range(_GROUP)).encode(), dtype=np.uint8)
    .view("<u4")
    .copy()
)


def sequence_bytes(prefix: str, start: int, count: int) -> np.ndarray:
    """``count`` consecutive sequence numbers as one (count, 56) array of ASCII digits.

    >>> prefix = sequence_prefix(1767225600000, 1)
    >>> sequence_bytes(prefix, 9, 2).tobytes().decode() == "".join(sequence_numbers(prefix, 9, 2))
    True
    """
    if sequence_digits is not None and start + count < 1 << 64:
        written = sequence_digits(prefix, start, count, SEQUENCE_WIDTH)
        return np.frombuffer(written, dtype=np.uint8).reshape(count, SEQUENCE_WIDTH)
    return sequence_bytes_in_python(prefix, start, count)


def sequence_bytes_in_python(prefix: str, start: int, count: int) -> np.ndarray:
    """What ``_speedups.sequence_digits`` does, by whole-array operations.

    >>> prefix = sequence_prefix(1767225600000, 1)
    >>> all(
    ...     sequence_bytes_in_python(prefix, start, n).tobytes().decode()
    ...     == "".join(sequence_numbers(prefix, start, n))
    ...     for start, n in [(9999, 2), (0, 1), (5, 9995), (12_345_678, 30_000), (10**18 - 3, 5)]
    ... )
    True
    """
    out = np.empty((count, SEQUENCE_WIDTH), dtype=np.uint8)
    # Only the trailing groups of four digits that differ between the first and the last
    # position are computed; the digits before them are the first number's, copied.
    last = start + count - 1
    varying = 1
    while varying < 5 and start // _GROUP**varying != last // _GROUP**varying:
        varying += 1
    head = SEQUENCE_WIDTH - 4 * varying
    out[:, :head] = np.frombuffer(sequence_number(prefix, start)[:head].encode(), dtype=np.uint8)
    if varying == 1:  # the usual batch: its last four digits are consecutive entries of the table
        first = start % _GROUP
        out[:, head:] = _DIGIT_GROUPS[first : first + count].view(np.uint8).reshape(count, 4)
        return out
    rest = np.arange(start, start + count, dtype=np.uint64)
    groups = np.empty((count, varying), dtype="<u4")
    for column in range(varying - 1, -1, -1):
        groups[:, column] = _DIGIT_GROUPS[rest % np.uint64(_GROUP)]
        rest //= np.uint64(_GROUP)
    out[:, head:] = groups.view(np.uint8)
    return out


def sequence_texts(digits: np.ndarray) -> list[str]:
    """Rows of ASCII digits (as :func:`sequence_bytes` makes them) as strings, split out of one
    text by a single C call rather than formatted one by one.

    >>> prefix = sequence_prefix(1767225600000, 1)
    >>> sequence_texts(sequence_bytes(prefix, 9, 2)) == sequence_numbers(prefix, 9, 2)
    True
    """
    spaced = np.empty((len(digits), digits.shape[1] + 1), dtype=np.uint8)
    spaced[:, :-1] = digits
    spaced[:, -1] = ord(" ")
    return spaced.tobytes().decode("ascii").split(" ")[:-1]  # the last space leaves ""


def parse_sequence_number(text: object, field: str = "StartingSequenceNumber") -> tuple:
    """(stream creation ms, shard index, position) of a sequence number; ValidationException
    for what is not a number, InvalidArgumentException for one this workbench never issued."""
    if not isinstance(text, str) or not _PATTERN.fullmatch(text):
        raise ValidationException(
            f"1 validation error detected: Value '{text}' at '{field}' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})"
        )
    if len(text) != SEQUENCE_WIDTH or not text.startswith("49"):
        raise InvalidArgumentException(
            f"Invalid {field}: {text} is not a sequence number issued by this stream."
        )
    return int(text[2:17]), int(text[17:29]), int(text[29:])
