"""Factories for Firehose tests: a workbench on simulated time with a bucket."""

from __future__ import annotations

import itertools

import pytest

from workbench import SimulatedClock, Workbench

START = "2026-03-01T10:00:00Z"
_homes = itertools.count()


@pytest.fixture
def make_workbench(tmp_path):
    """Factory: a workbench at a fresh home, simulated clock at START, bucket ``lab``."""
    made = []

    def make(lake=None):
        wb = Workbench(tmp_path / f"home-{next(_homes)}", clock=SimulatedClock(start=START))
        if lake is not None:
            wb.lake = lake
        wb.lake.create_bucket("lab", exist_ok=True)
        made.append(wb)
        return wb

    yield make
    for wb in made:
        if "firehose" in wb.__dict__:
            wb.firehose.close()
