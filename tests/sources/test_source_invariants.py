"""Invariants of every source under any seed, size and knob setting (hypothesis)."""

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.sources import SOURCES

sources = st.sampled_from(list(SOURCES.values()))
fractions = st.floats(0.0, 0.4)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=sources,
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 3000),
    out_of_order=fractions,
    late=fractions,
    duplicates=fractions,
)
def test_n_events_in_arrival_order_never_after_they_arrive(
    source, seed, n, out_of_order, late, duplicates
):
    rough = source(
        seed=seed, out_of_order=out_of_order, late=late, duplicates=duplicates, max_delay="3s"
    )
    frame = rough.frame(n, arrival=True)
    assert frame.height == n and frame.columns == [*source.model.columns, "arrival_time"]
    assert frame["arrival_time"].is_sorted()
    event = frame[source.model.time_column]
    if event.dtype == pl.String:  # retail's text, whole seconds
        event = event.str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="UTC")
    lag = (frame["arrival_time"] - event).dt.total_milliseconds().to_numpy()
    assert (lag >= 0).all()
    # Disorder stays within max_delay, lateness within twice late_after (60 s by default),
    # and a duplicate keeps its original's time, arriving at most a few records later.
    assert (lag <= 120_000 + 1000).all()
    if not late and not duplicates:
        assert (lag <= 3000 + 1000).all()


@settings(max_examples=15, deadline=None)
@given(source=sources, seed=st.integers(0, 2**32 - 1), k=st.integers(1, 1500))
def test_the_first_k_events_do_not_depend_on_how_many_are_asked_for(source, seed, k):
    longer = source(seed=seed).frame(k + 700)
    assert source(seed=seed).frame(k).equals(longer.head(k))
    assert list(source(seed=seed).json_lines(k)) == list(source(seed=seed).json_lines(k + 700))[:k]
