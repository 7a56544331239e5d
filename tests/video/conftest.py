"""Factories for video tests: a workbench on a simulated clock, cameras, filled streams."""

from __future__ import annotations

import pytest

from workbench import SimulatedClock, Workbench
from workbench.video import SyntheticCamera

START = "2026-03-01T12:00:00Z"


@pytest.fixture
def make_wb(tmp_path):
    """A workbench in a fresh home with a paused simulated clock."""
    made = 0

    def make(clock=None) -> Workbench:
        nonlocal made
        made += 1
        return Workbench(home=tmp_path / f"home{made}", clock=clock or SimulatedClock(start=START))

    return make


@pytest.fixture
def make_stream(make_wb):
    """A stream holding ``seconds`` of a small synthetic camera's video; returns (stream, t0)."""

    def make(seconds=6.0, fps=10, width=160, height=160, name="cam", **put):
        wb = make_wb()
        stream = wb.video.create_stream(name)
        camera = SyntheticCamera(width, height, fps, seed=7)
        t0 = wb.clock.now()
        stream.put_media(camera.frames(seconds, start=t0), **put)
        return stream, t0

    return make
