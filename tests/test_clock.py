import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.clock import SimulatedClock, WallClock, parse_duration, parse_instant


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60), ("250ms", 0.25), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("1.5h", 5400)],
)
def test_durations_read_as_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "60", "1x", "s", "1h 2q", "-5s"])
def test_unreadable_durations_say_what_is_allowed(bad):
    with pytest.raises(ValueError, match="use a number of seconds"):
        parse_duration(bad)


def test_instants_in_every_form_agree():
    expected = datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()
    assert parse_instant("2026-03-01T12:00:00Z") == expected
    assert parse_instant("2026-03-01 12:00:00") == expected
    assert parse_instant(datetime(2026, 3, 1, 12)) == expected
    assert parse_instant(expected) == expected
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_instant("yesterday")


def test_simulated_time_stands_still_until_advanced():
    clock = SimulatedClock(start="2026-01-01")
    before = clock.now()
    time.sleep(0.01)
    assert clock.now() == before
    clock.advance("60s")
    clock.advance(timedelta(minutes=1))
    assert clock.now() == before + 120
    assert clock.isoformat() == "2026-01-01T00:02:00.000Z"


def test_simulated_time_never_goes_back():
    clock = SimulatedClock(start="2026-01-01")
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.set("2025-12-31")
    clock.set("2026-01-02")
    assert clock.datetime() == datetime(2026, 1, 2, tzinfo=UTC)


def test_running_clock_moves_at_its_speed():
    clock = SimulatedClock(start=0)
    clock.run(speed=1000)
    time.sleep(0.05)
    clock.pause()
    elapsed = clock.now()
    assert 40 <= elapsed <= 500
    time.sleep(0.02)
    assert clock.now() == elapsed


def test_sleeper_wakes_when_a_notebook_advances_time():
    clock = SimulatedClock(start=0)
    woke = threading.Event()

    def buffer_waits_sixty_seconds():
        clock.sleep(60)
        woke.set()

    threading.Thread(target=buffer_waits_sixty_seconds, daemon=True).start()
    assert clock.wait_for_sleepers(1)
    clock.advance("59s")
    assert not woke.wait(0.05)
    clock.advance("1s")
    assert woke.wait(2)


def test_cancelled_sleep_returns_false_on_both_clocks():
    for clock in (SimulatedClock(start=0), WallClock()):
        cancel = threading.Event()
        threading.Timer(0.05, cancel.set).start()
        started = time.monotonic()
        assert clock.sleep(30, cancel=cancel) is False
        assert time.monotonic() - started < 5


def test_sleep_on_a_running_clock_takes_scaled_real_time():
    clock = SimulatedClock(start=0, speed=600)
    started = time.monotonic()
    assert clock.sleep(60) is True
    assert 0.05 <= time.monotonic() - started < 2


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=20))
def test_advances_add_up(steps):
    clock = SimulatedClock(start=0)
    for step in steps:
        clock.advance(step)
    assert clock.now() == pytest.approx(sum(steps))


def test_waiting_for_sleepers_times_out_when_nobody_sleeps():
    clock = SimulatedClock(start=0)
    assert clock.sleepers == 0
    assert clock.wait_for_sleepers(1, timeout=0.05) is False
