"""Kibana-style time ranges ("last 15 minutes") resolved against the workbench clock.

>>> from workbench.clock import SimulatedClock
>>> clock = SimulatedClock(start="2026-01-01T00:15:00Z")
>>> TimeRange.parse("last 15 minutes").resolve(clock)
(datetime.datetime(2026, 1, 1, 0, 0), datetime.datetime(2026, 1, 1, 0, 15))
>>> TimeRange.parse("1h").seconds
3600.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from workbench.clock import Clock, parse_duration

_LAST = re.compile(r"^(?:last\s+)?(\d+(?:\.\d+)?)\s*(seconds?|minutes?|hours?|days?|[smhd])$", re.I)
_UNIT = {"s": "s", "m": "m", "h": "h", "d": "d"}


@dataclass(frozen=True)
class TimeRange:
    """The last ``seconds`` up to the clock's now, as Kibana's quick ranges mean it."""

    seconds: float

    @classmethod
    def parse(cls, text: str | float | TimeRange) -> TimeRange:
        if isinstance(text, TimeRange):
            return text
        if isinstance(text, (int, float)):
            return cls(float(text))
        match = _LAST.match(text.strip())
        if match is None:
            try:
                return cls(parse_duration(text))
            except ValueError:
                raise ValueError(
                    f"cannot read {text!r} as a time range: use text such as 'last 15 minutes', "
                    "'last 1 hour', '15m' or a number of seconds"
                ) from None
        return cls(parse_duration(match.group(1) + _UNIT[match.group(2)[0].lower()]))

    def resolve(self, clock: Clock) -> tuple[datetime, datetime]:
        """(start, end) as naive UTC datetimes, end being the clock's now."""
        end = datetime.fromtimestamp(clock.now(), UTC).replace(tzinfo=None)
        start = datetime.fromtimestamp(clock.now() - self.seconds, UTC).replace(tzinfo=None)
        return start, end

    def label(self) -> str:
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if self.seconds % size == 0:
                count = int(self.seconds // size)
                return f"last {count} {unit}{'s' if count != 1 else ''}"
        return f"last {self.seconds:g} seconds"
