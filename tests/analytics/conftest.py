"""Factories for analytics tests: a workbench on a paused simulated clock in a fresh home."""

from __future__ import annotations

import itertools
import tempfile

import pytest

from workbench import SimulatedClock, Workbench

_homes = itertools.count()


@pytest.fixture
def make_workbench(tmp_path):
    """A new workbench per call (hypothesis examples each need their own home)."""

    def make() -> Workbench:
        home = tempfile.mkdtemp(dir=tmp_path, prefix=f"home{next(_homes)}-")
        wb = Workbench(home=home, clock=SimulatedClock(start="2026-01-01T00:00:00Z"))
        wb.analytics.fsync = False  # durability has its own tests; these make many commits
        return wb

    return make
