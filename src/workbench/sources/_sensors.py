"""IoT sensors: fleets of devices reporting temperature, humidity and vibration.

Devices report in turn (the rate is the fleet's total readings per second). Temperature follows
a daily cycle plus a slow per-device drift; humidity moves against it; vibration hovers around
a per-device level. Devices drop out for whole periods (no readings at all), and a few readings
carry injected anomalies labelled in ``anomaly`` / ``anomaly_kind`` so a detector can be scored.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import polars as pl

from workbench.clock import parse_duration
from workbench.sources._knobs import Rate, count, fraction, positive
from workbench.sources._source import seconds_as_datetime

ANOMALY_KINDS = ("temperature_spike", "humidity_drop", "vibration_burst")
_DAY = 86400.0


class SensorsModel:
    """One reading per unit, devices in round-robin order."""

    columns: ClassVar[list[str]] = [
        "device_id", "fleet", "event_time", "temperature", "humidity", "vibration", "anomaly",
        "anomaly_kind",
    ]  # fmt: skip
    time_column: ClassVar[str] = "event_time"
    layouts: ClassVar[list[tuple[pl.Expr | None, list[str]]]] = [(None, columns)]
    defaults: ClassVar[dict[str, Any]] = {
        "devices": 50,
        "fleets": 5,
        "anomaly_rate": 0.002,
        "dropout_rate": 0.01,
        "dropout_for": "5m",
        "max_drift_per_day": 2.0,
    }

    def __init__(
        self, rng: np.random.Generator, options: dict[str, Any], start: float, rate: Rate
    ) -> None:
        o = {**self.defaults, **options}
        devices, fleets = count("devices", o["devices"]), count("fleets", o["fleets"])
        self._rng, self._devices, self._start = rng, devices, start
        self._anomaly_rate = fraction("anomaly_rate", o["anomaly_rate"])
        self._dropout_rate = fraction("dropout_rate", o["dropout_rate"])
        self._dropout_for = positive("dropout_for", parse_duration(o["dropout_for"]))
        self.events_per_unit = max(1.0 - self._dropout_rate, 1e-3)
        self._ids = pl.Series([f"sensor-{i:04d}" for i in range(devices)])
        self._fleet_of = pl.Series([f"fleet-{chr(97 + i % 26)}" for i in range(fleets)]).gather(
            np.arange(devices) % fleets
        )
        self._temperature = rng.uniform(18.0, 26.0, devices)
        self._humidity = rng.uniform(35.0, 60.0, devices)
        self._vibration = rng.lognormal(np.log(0.3), 0.5, devices)
        # Most devices hardly drift; a few drift a lot, which is what recalibration catches.
        self._drift = positive(
            "max_drift_per_day", o["max_drift_per_day"], allow_zero=True
        ) * rng.beta(0.5, 3.0, devices)
        self._outage_salt = int(rng.integers(0, 1 << 62))
        self._reading = 0

    def chunk(self, times: np.ndarray) -> pl.DataFrame:
        rng, count = self._rng, len(times)
        device = (self._reading + np.arange(count)) % self._devices
        self._reading += count
        cycle = np.sin(2 * np.pi * (times / _DAY - 0.375))  # warmest mid-afternoon UTC
        days = (times - self._start) / _DAY
        temperature = (
            self._temperature[device] + 3.0 * cycle + self._drift[device] * days
            + rng.normal(0.0, 0.25, count)
        )  # fmt: skip
        humidity = self._humidity[device] - 8.0 * cycle + rng.normal(0.0, 1.0, count)
        vibration = self._vibration[device] * np.abs(1.0 + 0.1 * rng.normal(size=count))

        kind = np.where(
            rng.random(count) < self._anomaly_rate,
            rng.integers(1, len(ANOMALY_KINDS) + 1, count),
            0,
        )
        size = rng.uniform(1.0, 2.0, count)
        temperature = np.where(kind == 1, temperature + 8.0 * size, temperature)
        humidity = np.where(kind == 2, humidity - 20.0 * size, humidity)
        vibration = np.where(kind == 3, vibration * 5.0 * size, vibration)

        frame = pl.DataFrame(
            {
                "device_id": self._ids.gather(device),
                "fleet": self._fleet_of.gather(device),
                "temperature": np.round(temperature, 2),
                "humidity": np.round(np.clip(humidity, 0.0, 100.0), 1),
                "vibration": np.round(vibration, 3),
                "anomaly": kind > 0,
                "anomaly_kind": pl.Series([None, *ANOMALY_KINDS], dtype=pl.String).gather(kind),
                "_t": times,
            }
        )
        return frame.filter(~self._down(device, times))

    def _down(self, device: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Whether a device is out at a time: whole periods, the same in every chunk."""
        period = np.floor(times / self._dropout_for).astype(np.uint64)
        key = (
            period * np.uint64(0x9E3779B97F4A7C15)
            ^ device.astype(np.uint64)
            ^ np.uint64(self._outage_salt)
        )
        return _unit_hash(key) < self._dropout_rate

    @staticmethod
    def event_time(seconds: np.ndarray) -> pl.Series:
        return seconds_as_datetime(seconds)


def _unit_hash(key: np.ndarray) -> np.ndarray:
    """splitmix64 of each key as a float in [0, 1): an independent coin per key."""
    with np.errstate(over="ignore"):
        z = key + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
