"""Realism knobs shared by every source: rate, disorder, lateness, duplicates, malformed records.

Defaults are clean: a constant rate, events in order, no late events, no duplicates, every record
well formed. Each knob is a keyword argument of a source (``retail(out_of_order=0.1)``).

>>> knobs = Knobs(out_of_order=0.1, max_delay="5s", late=0.01, late_after="1m")
>>> knobs.max_delay, knobs.late_after
(5.0, 60.0)
>>> Rate(100, shape="daily").multiplier(12 * 3600) > Rate(100, shape="daily").multiplier(3 * 3600)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from workbench.clock import parse_duration
from workbench.errors import InvalidArgumentException

MALFORMED_KINDS = ("bad_json", "missing_field", "wrong_type")

# Relative traffic per hour of day (UTC): quiet nights, a late-morning peak and an evening peak.
# Normalised to a mean of 1 so ``per_second`` stays the daily average.
_DAILY = np.array(
    [0.25, 0.18, 0.14, 0.12, 0.12, 0.18, 0.35, 0.65, 0.95, 1.2, 1.4, 1.5,
     1.55, 1.45, 1.35, 1.3, 1.3, 1.35, 1.5, 1.7, 1.8, 1.6, 1.05, 0.55]
)  # fmt: skip
_DAILY = _DAILY / _DAILY.mean()


def _number(name: str, value: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentException(f"{name} must be a number, got {value!r}") from None


def positive(name: str, value: float, allow_zero: bool = False) -> float:
    """A finite number above zero (or zero too), or a clear error naming the setting."""
    number = _number(name, value)
    if not (number >= 0 if allow_zero else number > 0) or not np.isfinite(number):
        allowed = "zero or more" if allow_zero else "more than zero"
        raise InvalidArgumentException(f"{name} must be a finite number {allowed}, got {value!r}")
    return number


def count(name: str, value: int) -> int:
    """A whole number of things, at least one."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidArgumentException(
            f"{name} must be a whole number of at least 1, got {value!r}"
        )
    return int(value)


def fraction(name: str, value: float) -> float:
    """A fraction between 0 and 1, or a clear error naming the setting."""
    number = _number(name, value)
    if not 0.0 <= number <= 1.0:
        raise InvalidArgumentException(f"{name} is a fraction between 0 and 1, got {value!r}")
    return number


@dataclass(frozen=True)
class Rate:
    """How many events per second a source emits, and how that varies over time.

    - ``per_second``: the average rate (events per second of event time).
    - ``shape``: ``"constant"``, ``"daily"`` (a day/night curve by UTC hour, averaging 1) or 24
      hourly multipliers of your own.
    - ``burst_every``/``burst_for``/``burst_factor``: every ``burst_every`` the rate is
      multiplied by ``burst_factor`` for ``burst_for`` (both durations, e.g. ``"10m"``, ``"30s"``).

    >>> Rate(10).multiplier(0.0)
    1.0
    >>> burst = Rate(10, burst_every="1m", burst_for="10s", burst_factor=5)
    >>> float(burst.multiplier(5.0)), float(burst.multiplier(30.0))
    (5.0, 1.0)
    """

    per_second: float = 1000.0
    shape: str | Sequence[float] = "constant"
    burst_every: float | str | None = None
    burst_for: float | str = "30s"
    burst_factor: float = 5.0
    _hourly: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_second", positive("rate", self.per_second))
        if isinstance(self.shape, str):
            if self.shape not in ("constant", "daily"):
                raise InvalidArgumentException(
                    f"rate shape {self.shape!r} is unknown: use 'constant', 'daily' or a list of "
                    "24 hourly multipliers"
                )
            hourly = _DAILY if self.shape == "daily" else None
        else:
            hourly = np.asarray(self.shape, dtype=float)
            if hourly.shape != (24,) or (hourly <= 0).any():
                raise InvalidArgumentException(
                    "a rate shape given as numbers needs 24 positive hourly multipliers"
                )
            hourly = hourly / hourly.mean()
        object.__setattr__(self, "_hourly", hourly)
        if self.burst_every is not None:
            every = positive("burst_every", parse_duration(self.burst_every))
            length = positive("burst_for", parse_duration(self.burst_for))
            if length >= every:
                raise InvalidArgumentException(
                    f"burst_for ({length:g} s) must be shorter than burst_every ({every:g} s)"
                )
            object.__setattr__(self, "burst_every", every)
            object.__setattr__(self, "burst_for", length)
            object.__setattr__(self, "burst_factor", positive("burst_factor", self.burst_factor))

    @property
    def constant(self) -> bool:
        """True when the rate never changes, so arrival times need no intensity table."""
        return self._hourly is None and self.burst_every is None

    def multiplier(self, t: np.ndarray | float) -> np.ndarray | float:
        """The factor applied to ``per_second`` at epoch seconds ``t`` (vectorised)."""
        t = np.asarray(t, dtype=float)
        factor = np.ones_like(t)
        if self._hourly is not None:
            factor = factor * self._hourly[((t // 3600) % 24).astype(np.int64)]
        if self.burst_every is not None:
            in_burst = (t % self.burst_every) < self.burst_for
            factor = np.where(in_burst, factor * self.burst_factor, factor)
        return factor if factor.ndim else float(factor)


@dataclass(frozen=True)
class Knobs:
    """The realism knobs of a source; every default is clean.

    - ``rate``: events per second (a number) or a :class:`Rate` with a daily shape or bursts.
    - ``out_of_order``: fraction of events whose event time lies up to ``max_delay`` before
      their arrival, so they arrive after events that happened later.
    - ``max_delay``: the bound of that disorder (a duration); keep it within a query's
      watermark delay and no event is dropped as late.
    - ``late``: fraction of events arriving between ``late_after`` and twice ``late_after``
      after their event time: beyond the bound, for allowed-lateness and side-output lessons.
    - ``duplicates``: fraction of records that repeat an earlier record (same content and event
      time) a few records later, as an at-least-once producer would.
    - ``malformed``: fraction of records broken in one of ``malformed_kinds`` (``"bad_json"``:
      text that does not parse; ``"missing_field"``: a field removed; ``"wrong_type"``: a value
      of the wrong JSON type). Malformed records exist in ``records()``, ``json_lines()`` and
      producers, not in typed frames.

    Each knob on a source (event times move back from arrival; ``arrival=True`` shows both):

    >>> from workbench.sources import sensors
    >>> frame = sensors(out_of_order=0.3, max_delay="2s").frame(1000, arrival=True)
    >>> lag = (frame["arrival_time"] - frame["event_time"]).dt.total_milliseconds()
    >>> 0.2 < (lag > 0).mean() < 0.4, lag.max() <= 2000
    (True, True)
    >>> late = sensors(late=0.1, late_after="30s").frame(1000, arrival=True)
    >>> lag = (late["arrival_time"] - late["event_time"]).dt.total_milliseconds()
    >>> bool(lag.filter(lag > 0).min() > 30_000)
    True
    >>> sensors(duplicates=0.1).frame(1000).is_duplicated().any()
    True
    >>> lines = list(sensors(malformed=0.2, malformed_kinds=["bad_json"]).json_lines(50))
    >>> sum(not line.endswith("}") or "'" in line for line in lines) > 0
    True
    >>> sensors(rate=Rate(10)).frame(101)["event_time"].dt.epoch("s").max() - 1767225600 > 5
    True

    Bad values are refused with what is allowed:

    >>> Knobs(out_of_order=1.5)
    Traceback (most recent call last):
    ...
    workbench.errors.InvalidArgumentException: out_of_order is a fraction between 0 and 1, got 1.5
    >>> Knobs(malformed=0.1, malformed_kinds=["bad_json"]).malformed_kinds
    ('bad_json',)
    """

    rate: float | Rate = 1000.0
    out_of_order: float = 0.0
    max_delay: float | str = "5s"
    late: float = 0.0
    late_after: float | str = "60s"
    duplicates: float = 0.0
    malformed: float = 0.0
    malformed_kinds: Sequence[str] = MALFORMED_KINDS

    def __post_init__(self) -> None:
        rate = self.rate if isinstance(self.rate, Rate) else Rate(self.rate)
        object.__setattr__(self, "rate", rate)
        for name in ("out_of_order", "late", "duplicates", "malformed"):
            object.__setattr__(self, name, fraction(name, getattr(self, name)))
        if self.out_of_order + self.late > 1:
            raise InvalidArgumentException("out_of_order + late cannot exceed 1")
        for name in ("max_delay", "late_after"):
            object.__setattr__(self, name, positive(name, parse_duration(getattr(self, name))))
        kinds = (
            (self.malformed_kinds,)
            if isinstance(self.malformed_kinds, str)
            else self.malformed_kinds
        )
        kinds = tuple(kinds)
        unknown = [k for k in kinds if k not in MALFORMED_KINDS]
        if unknown or not kinds:
            raise InvalidArgumentException(
                f"malformed_kinds {list(kinds)!r} must be a non-empty subset of "
                f"{list(MALFORMED_KINDS)}"
            )
        object.__setattr__(self, "malformed_kinds", kinds)
