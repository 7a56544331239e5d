"""An hourly schedule on the workbench clock (EventBridge's ``cron(5 * * * ? *)``).

It runs a job once for each hour whose due time (minute ``minute`` of the next hour) has passed,
handing it the hour to work on. Stepwise with :meth:`run_due`, or in the background with
:meth:`start` / :meth:`stop`, sleeping on the clock so a simulated clock drives it. The last hour
done is kept in a file, so a restarted schedule neither skips nor repeats an hour.

>>> import tempfile
>>> from pathlib import Path
>>> from workbench import SimulatedClock
>>> clock = SimulatedClock(start="2026-03-01T10:30:00Z")
>>> done = []
>>> schedule = HourlySchedule(clock, done.append, Path(tempfile.mkdtemp()) / "s.json", minute=5)
>>> clock.advance("2h")
>>> [h.isoformat() for h in schedule.run_due()]
['2026-03-01T10:00:00+00:00', '2026-03-01T11:00:00+00:00']
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench._files import atomic_write_json, read_json

_HOUR = 3600


class HourlySchedule:
    """Run ``job(hour)`` at minute ``minute`` of every hour, for the hour that just ended."""

    def __init__(
        self,
        clock,
        job: Callable[[datetime], Any],
        state_path: Path,
        *,
        minute: int = 5,
    ) -> None:
        if not 0 <= minute < 60:
            raise ValueError(f"minute must be 0-59, got {minute!r}")
        self.clock = clock
        self.job = job
        self.minute = minute
        self._path = Path(state_path)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[tuple[datetime, BaseException]] = []
        state = read_json(self._path)
        if isinstance(state, dict) and "next_due" in state:
            self._next_due = float(state["next_due"])
        else:
            now = self.clock.now()
            due = now - now % _HOUR + minute * 60
            self._next_due = due if due >= now else due + _HOUR
            self._save()

    @property
    def next_due(self) -> datetime:
        """When the next run is due."""
        return datetime.fromtimestamp(self._next_due, UTC)

    def _save(self) -> None:
        atomic_write_json(self._path, {"next_due": self._next_due})

    def run_due(self) -> list[datetime]:
        """Run the job for every hour now due; returns those hours (errors kept in ``errors``)."""
        ran = []
        with self._lock:
            while self.clock.now() >= self._next_due:
                hour = datetime.fromtimestamp(self._next_due - self.minute * 60 - _HOUR, UTC)
                try:
                    self.job(hour)
                except Exception as error:  # a failed hour is reported, the schedule goes on
                    self.errors.append((hour, error))
                self._next_due += _HOUR
                self._save()
                ran.append(hour)
        return ran

    def start(self) -> None:
        """Run due hours in a background thread, waking on the workbench clock."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="hourly-schedule", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self._next_due - self.clock.now()
            if wait > 0 and not self.clock.sleep(wait, cancel=self._stop):
                return
            self.run_due()

    def __repr__(self) -> str:
        state = "running" if self._thread is not None else "stopped"
        return f"HourlySchedule(next due {self.next_due.isoformat()}, {state})"
