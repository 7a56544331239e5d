"""The workbench clock: the one source of time for every service.

Every time-dependent part of the workbench (arrival timestamps, iterator expiry, buffering,
windows, retention, schedules) asks a clock for the time instead of calling :func:`time.time`.
A notebook can therefore swap wall time for a :class:`SimulatedClock` and show an hour of
hourly partitions, or a 60-second Firehose buffer, in a fraction of a second.

>>> clock = SimulatedClock(start="2026-01-01T00:00:00Z")
>>> clock.now()
1767225600.0
>>> clock.advance("90s")
>>> clock.isoformat()
'2026-01-01T00:01:30.000Z'
>>> parse_duration("1h30m")
5400.0
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = [
    "Clock",
    "SimulatedClock",
    "WallClock",
    "parse_duration",
    "parse_instant",
]

_CANCEL_POLL_S = 0.02
_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d)", re.IGNORECASE)


def parse_duration(value: str | float | int | timedelta) -> float:
    """Seconds in a duration given as a number of seconds, a timedelta or text like ``"1h30m"``.

    >>> parse_duration("250ms"), parse_duration(2), parse_duration("1d")
    (0.25, 2.0, 86400.0)
    """
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool):
        raise TypeError("a duration is a number of seconds, a timedelta or text such as '60s'")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace(" ", "")
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts).lower() != text.lower():
        raise ValueError(
            f"cannot read {value!r} as a duration: use a number of seconds or text such as "
            "'250ms', '60s', '5m', '1h30m' or '2d'"
        )
    return sum(float(n) * _UNITS[u.lower()] for n, u in parts)


def parse_instant(value: str | float | int | datetime) -> float:
    """Epoch seconds of an instant: epoch seconds, a datetime or ISO-8601 text (UTC if naive).

    >>> parse_instant("2026-01-01 00:00:00")
    1767225600.0
    """
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_instant(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            pass
    raise ValueError(
        f"cannot read {value!r} as an instant: use epoch seconds, a datetime or ISO-8601 text "
        "such as '2026-01-01T00:00:00Z'"
    )


@runtime_checkable
class Clock(Protocol):
    """What services need of time: the current instant and a way to wait on it."""

    def now(self) -> float:
        """Epoch seconds."""

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        """Block until ``seconds`` have passed on this clock or ``cancel`` is set.

        Returns True when the time passed, False when cancelled first.
        """


class _ClockMixin:
    def now_ms(self) -> int:
        """Epoch milliseconds, as Kinesis stamps arrival times."""
        return int(self.now() * 1000)

    def datetime(self) -> datetime:
        """The current instant as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), UTC)

    def isoformat(self) -> str:
        """The current instant as ISO-8601 text in UTC with milliseconds."""
        return self.datetime().isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WallClock(_ClockMixin):
    """Real time, the default clock."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        if cancel is not None:
            return not cancel.wait(max(seconds, 0.0))
        if seconds > 0:
            time.sleep(seconds)
        return True

    def __repr__(self) -> str:
        return f"WallClock({self.isoformat()})"


class SimulatedClock(_ClockMixin):
    """Time that moves only when told: stepped by :meth:`advance` or run at N times real speed.

    Threads that :meth:`sleep` on a simulated clock wake when simulated time reaches their
    deadline, whichever way it got there, so background services follow the notebook's steps.

    >>> clock = SimulatedClock(start=0)
    >>> clock.run(speed=3600)      # an hour per real second
    >>> clock.pause()
    >>> clock.speed
    0.0
    """

    def __init__(self, start: str | float | datetime | None = None, speed: float = 0.0) -> None:
        self._lock = threading.Condition()
        self._base = parse_instant(start) if start is not None else time.time()
        self._anchor = time.monotonic()
        self._speed = 0.0
        self._deadlines: list[float] = []
        if speed:
            self.run(speed)

    @property
    def speed(self) -> float:
        """How many simulated seconds pass per real second (0 when paused)."""
        return self._speed

    def now(self) -> float:
        with self._lock:
            return self._now_locked()

    @property
    def sleepers(self) -> int:
        """How many threads sleep on this clock waiting for a time still ahead."""
        with self._lock:
            return self._waiting_locked()

    def _waiting_locked(self) -> int:
        now = self._now_locked()
        return sum(deadline > now for deadline in self._deadlines)

    def wait_for_sleepers(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Block (in real time) until ``count`` threads sleep on this clock, so that a test or a
        notebook advances time only once a background service is waiting for it."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._waiting_locked() < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, _CANCEL_POLL_S))
            return True

    def _now_locked(self) -> float:
        return self._base + (time.monotonic() - self._anchor) * self._speed

    def advance(self, by: str | float | timedelta) -> None:
        """Move time forward by a duration (``"60s"``, ``"1h"``, seconds, a timedelta)."""
        seconds = parse_duration(by)
        if seconds < 0:
            raise ValueError(f"a clock only moves forward: cannot advance by {by!r}")
        with self._lock:
            self._rebase()
            self._base += seconds
            self._lock.notify_all()

    def set(self, to: str | float | datetime) -> None:
        """Jump forward to an instant."""
        target = parse_instant(to)
        with self._lock:
            self._rebase()
            if target < self._base:
                raise ValueError(
                    f"a clock only moves forward: {to!r} is before the current time "
                    f"{self.isoformat()}"
                )
            self._base = target
            self._lock.notify_all()

    def run(self, speed: float = 1.0) -> None:
        """Let time run by itself at ``speed`` times real time."""
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed!r}; use pause() to stop time")
        with self._lock:
            self._rebase()
            self._speed = float(speed)
            self._lock.notify_all()

    def pause(self) -> None:
        """Stop time where it is; only :meth:`advance` moves it again."""
        with self._lock:
            self._rebase()
            self._speed = 0.0

    def _rebase(self) -> None:
        self._base = self._now_locked()
        self._anchor = time.monotonic()

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        """Block until simulated time has moved on by ``seconds`` or ``cancel`` is set."""
        with self._lock:
            deadline = self._now_locked() + seconds
            self._deadlines.append(deadline)
            self._lock.notify_all()
            try:
                while (left := deadline - self._now_locked()) > 0:
                    if cancel is not None and cancel.is_set():
                        return False
                    # Running time needs a real timeout to wake on; paused time waits for
                    # advance(). A cancellable sleep also looks at its event now and then, as
                    # Events cannot notify this condition.
                    timeout = left / self._speed if self._speed else None
                    if cancel is not None:
                        timeout = min(timeout or _CANCEL_POLL_S, _CANCEL_POLL_S)
                    self._lock.wait(timeout)
                return True
            finally:
                self._deadlines.remove(deadline)

    def __repr__(self) -> str:
        state = f"speed={self._speed:g}x" if self._speed else "paused"
        return f"SimulatedClock({self.isoformat()}, {state})"
