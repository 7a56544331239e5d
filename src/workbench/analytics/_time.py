"""Event time: reading an event-time column into epoch milliseconds, and Flink interval text.

Windows and watermarks are computed on int64 milliseconds (Flink's TIMESTAMP(3)), so every
accepted column type (timestamps, epoch numbers, text in a strptime format or ISO-8601) is first
turned into that one representation, vectorised.

>>> parse_interval("INTERVAL '10' SECOND"), parse_interval("2s"), parse_interval(1.5)
(10000, 2000, 1500)
>>> import pyarrow as pa
>>> event_time_ms(pa.array(["2026-01-01 00:00:01"]), "%Y-%m-%d %H:%M:%S").tolist()
[1767225601000]
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.clock import parse_duration
from workbench.errors import ValidationException

_INTERVAL = re.compile(
    r"^\s*INTERVAL\s+'\s*(\d+(?:\.\d+)?)\s*'\s*"
    r"(MILLISECOND|SECOND|MINUTE|HOUR|DAY)S?\s*$",
    re.IGNORECASE,
)
_UNIT_MS = {
    "MILLISECOND": 1,
    "SECOND": 1000,
    "MINUTE": 60_000,
    "HOUR": 3_600_000,
    "DAY": 86_400_000,
}
TIME_FORMATS = ("epoch_ms", "epoch_s", "iso")


def parse_interval(value: object) -> int:
    """Milliseconds in a Flink ``INTERVAL 'n' UNIT``, duration text such as ``"5s"`` or seconds."""
    if isinstance(value, str):
        match = _INTERVAL.match(value)
        if match:
            return round(float(match[1]) * _UNIT_MS[match[2].upper()])
    try:
        return round(parse_duration(value) * 1000)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ValidationException(
            f"cannot read {value!r} as an interval: use INTERVAL '5' SECOND (MILLISECOND, "
            "SECOND, MINUTE, HOUR, DAY), duration text such as '5s' or a number of seconds"
        ) from error


def event_time_ms(column: pa.Array | pa.ChunkedArray, time_format: str | None = None) -> np.ndarray:
    """Epoch milliseconds (int64) of an event-time column.

    ``time_format`` is ``None`` for timestamp columns, ``"epoch_ms"`` / ``"epoch_s"`` for
    numbers, ``"iso"`` for ISO-8601 text, or a strptime pattern such as ``"%Y-%m-%d %H:%M:%S"``.
    """
    kind = column.type
    if pa.types.is_timestamp(kind):
        millis = pc.cast(column, pa.timestamp("ms", kind.tz)).cast(pa.int64())
    elif pa.types.is_date(kind):
        millis = pc.cast(pc.cast(column, pa.timestamp("ms")), pa.int64())
    elif pa.types.is_integer(kind) and time_format != "epoch_s":
        millis = pc.cast(column, pa.int64())
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        scale = 1000 if time_format == "epoch_s" else 1
        millis = pc.cast(pc.multiply(pc.cast(column, pa.float64()), scale), pa.int64())
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        millis = _text_ms(column, time_format)
    else:
        raise ValidationException(
            f"an event-time column of type {kind} cannot be read: use a timestamp, epoch "
            "numbers or text"
        )
    if millis.null_count:
        raise ValidationException(
            f"{millis.null_count} rows have no event time; every row needs one"
        )
    if isinstance(millis, pa.ChunkedArray):
        millis = millis.combine_chunks()
    return millis.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _text_ms(column: pa.Array | pa.ChunkedArray, time_format: str | None) -> pa.Array:
    try:
        if time_format in (None, "iso"):
            # Arrow reads ISO-8601 with 'T' or ' ' and a fraction; text with a zone needs the
            # zone-aware cast, text without one is UTC.
            try:
                parsed = pc.cast(column, pa.timestamp("ms"))
            except pa.ArrowInvalid:
                zoned = pc.replace_substring_regex(column, "Z$", "+00:00")
                parsed = pc.cast(zoned, pa.timestamp("ms", "UTC"))
        elif time_format in ("epoch_ms", "epoch_s"):
            return pc.cast(event_time_ms(pc.cast(column, pa.float64()), time_format), pa.int64())
        else:
            parsed = pc.strptime(column, format=time_format, unit="ms")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ValidationException(
            f"event times do not match the format {time_format or 'iso'!r}: {error}"
        ) from error
    return pc.cast(parsed, pa.int64())


def ms_to_timestamps(millis: np.ndarray) -> pa.Array:
    """Epoch milliseconds as an Arrow TIMESTAMP(3) column (UTC, without a zone, as Flink)."""
    return pa.array(millis, pa.int64()).cast(pa.timestamp("ms"))
