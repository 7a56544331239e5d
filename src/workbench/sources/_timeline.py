"""Arrival times on a simulated timeline: a Poisson process whose intensity follows a Rate."""

from __future__ import annotations

import numpy as np

from workbench.sources._knobs import Rate


class Timeline:
    """Arrival times of ``rate.per_second / per_unit`` units per second, chunk after chunk.

    Arrivals are drawn at unit rate and mapped through the inverse of the cumulative intensity,
    so a daily shape or bursts cost one interpolation per chunk instead of a loop per event.

    >>> line = Timeline(Rate(10), per_unit=1.0, start=0.0, rng=np.random.default_rng(0))
    >>> times = line.next(1000)
    >>> bool(np.all(np.diff(times) >= 0)), bool(80 < times[-1] < 120)
    (True, True)
    """

    def __init__(self, rate: Rate, per_unit: float, start: float, rng: np.random.Generator):
        self._rate = rate
        self._units_per_s = rate.per_second / per_unit
        self._start = start
        self._rng = rng
        self._elapsed = 0.0  # unit-rate time consumed so far
        # Piecewise-linear cumulative intensity: grid instants and units expected by each.
        self._step = 60.0 if rate.burst_every is None else min(60.0, rate.burst_for / 8)
        self._grid_t = np.array([start])
        self._grid_units = np.array([0.0])

    def next(self, count: int) -> np.ndarray:
        """The next ``count`` arrival times, epoch seconds, non-decreasing."""
        units = self._elapsed + np.cumsum(self._rng.exponential(1.0, count))
        if count:
            self._elapsed = float(units[-1])
        if self._rate.constant:
            return self._start + units / self._units_per_s
        self._extend_to(self._elapsed)
        times = np.interp(units, self._grid_units, self._grid_t)
        keep = max(int(np.searchsorted(self._grid_units, self._elapsed)) - 1, 0)
        self._grid_t, self._grid_units = self._grid_t[keep:], self._grid_units[keep:]
        return times

    def _extend_to(self, units: float) -> None:
        while self._grid_units[-1] < units:
            lowest = (
                self._units_per_s
                * self._step
                * float(
                    np.min(
                        self._rate.multiplier(
                            self._grid_t[-1] + self._step * (np.arange(24 * 60) + 0.5)
                        )
                    )
                )
            )
            steps = int(min(max((units - self._grid_units[-1]) / lowest + 2, 64), 1_000_000))
            mids = self._grid_t[-1] + self._step * (np.arange(steps) + 0.5)
            gained = self._units_per_s * self._step * self._rate.multiplier(mids)
            self._grid_t = np.concatenate([self._grid_t, mids + self._step / 2])
            self._grid_units = np.concatenate(
                [self._grid_units, self._grid_units[-1] + np.cumsum(gained)]
            )
