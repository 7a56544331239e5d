"""The realism knobs, the same on every source: rate, disorder, lateness, duplicates, malformed."""

import json

import numpy as np
import polars as pl
import pytest

from workbench.errors import InvalidArgumentException
from workbench.sources import MALFORMED_KINDS, SOURCES, Knobs, Rate, nexmark, retail, sensors

ALL = list(SOURCES.values())


def delays(frame: pl.DataFrame, time_column: str) -> np.ndarray:
    event = frame[time_column]
    if event.dtype == pl.String:
        event = event.str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="UTC")
    return (frame["arrival_time"] - event).dt.total_milliseconds().to_numpy() / 1000


@pytest.mark.parametrize("source", ALL, ids=lambda s: s.name)
def test_defaults_are_clean(source):
    frame = source.frame(20_000, arrival=True)
    time_column = source.model.time_column
    lag = delays(frame, time_column)
    assert lag.max() < 1.0  # retail stamps whole seconds, the rest are exact to the ms
    assert not any(isinstance(r, str) for r in source.records(3000))


@pytest.mark.parametrize("source", ALL, ids=lambda s: s.name)
def test_out_of_order_fraction_and_maximum_delay(source):
    frame = source(out_of_order=0.2, max_delay="8s").frame(40_000, arrival=True)
    lag = delays(frame, source.model.time_column)
    if source.name == "retail":  # whole seconds: compare at that resolution
        assert lag.max() <= 9 and 0.15 <= (lag >= 1).mean() <= 0.2
    else:
        assert lag.max() <= 8.0 and abs((lag > 0).mean() - 0.2) < 0.015
    assert frame["arrival_time"].is_sorted()


@pytest.mark.parametrize("source", [nexmark, sensors], ids=lambda s: s.name)
def test_late_events_fall_beyond_the_bound(source):
    frame = source(late=0.05, late_after="30s").frame(40_000, arrival=True)
    lag = delays(frame, source.model.time_column)
    late = lag[lag > 0]
    assert abs(late.size / lag.size - 0.05) < 0.006
    assert late.min() > 30 and late.max() <= 60


def test_duplicates_repeat_an_earlier_record_shortly_after():
    frame = nexmark(duplicates=0.03).frame(50_000)
    repeated = (frame.height - frame.n_unique()) / frame.height
    assert abs(repeated - 0.03) < 0.005
    assert not nexmark.frame(50_000).is_duplicated().any()


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformed_kind_appears_when_asked_and_only_then(kind):
    source = retail(malformed=0.05, malformed_kinds=[kind])
    clean = list(retail.json_lines(4000))
    broken = 0
    for good, line in zip(clean, source.json_lines(4000), strict=True):
        if good == line:
            continue
        broken += 1
        if kind == "bad_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
            continue
        record, expected = json.loads(line), json.loads(good)
        if kind == "missing_field":
            assert len(record) == len(expected) - 1 and set(record) < set(expected)
        else:
            assert set(record) == set(expected)
            changed = [k for k in record if record[k] != expected[k]]
            assert len(changed) == 1 and type(record[changed[0]]) is not type(expected[changed[0]])
    assert 0.035 <= broken / 4000 <= 0.065


def test_malformed_records_as_dicts_and_not_in_frames():
    records = list(sensors(malformed=0.2).records(2000))
    texts = [r for r in records if isinstance(r, str)]
    assert texts and len(texts) < 300
    assert all(r.keys() <= set(sensors.model.columns) for r in records if isinstance(r, dict))
    with pytest.raises(InvalidArgumentException, match="malformed"):
        sensors(malformed=0.1).frame(10)
    assert all(isinstance(r, dict) for r in sensors.records(2000))


def test_constant_rate_sets_the_event_time_pace():
    frame = sensors(rate=250, dropout_rate=0).frame(25_000)
    span = (frame["event_time"].max() - frame["event_time"].min()).total_seconds()
    assert abs(25_000 / span - 250) < 10


def test_bursts_multiply_the_rate_inside_their_windows():
    rate = Rate(50, burst_every="60s", burst_for="10s", burst_factor=6)
    frame = nexmark(rate=rate).frame(60_000)
    second = frame["date_time"].dt.epoch("ms").to_numpy() / 1000 % 60
    inside = (second < 10).sum() / 10
    outside = (second >= 10).sum() / 50
    assert 5 < inside / outside < 7


def test_daily_shape_sets_busy_and_quiet_hours():
    frame = nexmark(rate=Rate(2, shape="daily")).frame(172_800)
    per_hour = frame.group_by(pl.col("date_time").dt.hour()).len().sort("date_time")["len"]
    assert per_hour[12] > 5 * per_hour[3]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Knobs(out_of_order=1.5), "out_of_order is a fraction"),
        (lambda: Knobs(max_delay="-3s"), "duration"),
        (lambda: Knobs(rate=0), "rate must be"),
        (lambda: Knobs(malformed_kinds=["nonsense"]), "malformed_kinds"),
        (lambda: Rate(1, shape="weekly"), "shape"),
        (lambda: Rate(1, burst_every="10s", burst_for="20s"), "shorter"),
    ],
)
def test_bad_knobs_are_refused_with_what_is_allowed(make, message):
    with pytest.raises((InvalidArgumentException, ValueError), match=message):
        make()
