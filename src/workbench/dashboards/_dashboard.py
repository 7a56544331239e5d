"""A dashboard: a grid of panels with Kibana's controls, refreshed in place on the clock."""

from __future__ import annotations

import html
import math
import threading
import time
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.subplots import make_subplots

from workbench.clock import Clock, SimulatedClock, parse_duration
from workbench.dashboards._panels import SUBPLOT_TYPES, Panel
from workbench.dashboards._sources import Window
from workbench.dashboards._time_range import TimeRange

TIME_RANGES = ["last 5 minutes", "last 15 minutes", "last 1 hour", "last 24 hours", "last 7 days"]
REFRESH_CHOICES = {"off": 0.0, "1s": 1.0, "5s": 5.0, "10s": 10.0, "30s": 30.0, "1m": 60.0}


class Dashboard:
    """Panels in a grid, one time range and query string for all, refreshed on a clock.

    In a notebook, displaying the dashboard shows plotly FigureWidgets with ipywidgets controls
    (time range, refresh interval, query string); ``start()`` refreshes them in the background
    without blocking the kernel, ``run(for_="30s")`` refreshes for a bounded time. A refresh
    asks each panel's source for its version first and skips the panels whose data and time
    buckets have not moved.
    """

    def __init__(
        self,
        title: str,
        panels: list[Panel],
        *,
        clock: Clock,
        time_range: str | float = "last 15 minutes",
        refresh_every: str | float = "5s",
        query: str = "",
        columns: int = 2,
    ) -> None:
        self.title = title
        self.panels = panels
        self.clock = clock
        self.time_range = TimeRange.parse(time_range)
        self.refresh_every = parse_duration(refresh_every)
        self.query = query
        self.columns = columns
        self.frames: dict[int, pl.DataFrame] = {}
        self.last_refresh_ms = 0.0
        self._seen: dict[int, object] = {}
        self._widgets: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- data ------------------------------------------------------------------------------
    def window(self) -> Window:
        start, end = self.time_range.resolve(self.clock)
        return Window(start, end, self.query)

    def refresh(self, *, force: bool = False) -> list[str]:
        """Fetch what changed and update the figures in place; the titles of refreshed panels."""
        started = time.perf_counter()
        window = self.window()
        # Time buckets move on only every so often: a tick within the same second of a 30 s
        # bucket shows the same bars, so the window is compared at one-second grain.
        grain = (int(window.start.timestamp()), int(window.end.timestamp()), window.query)
        refreshed = []
        with self._lock:
            for number, panel in enumerate(self.panels):
                if panel.source is None:
                    continue
                seen = (panel.source.version(), grain)
                if not force and self._seen.get(number) == seen and number in self.frames:
                    continue
                self.frames[number] = panel.source.fetch(window)
                self._seen[number] = seen
                refreshed.append(panel.title)
                if self._widgets:
                    _update_widget(self._widgets[number], panel, self.frames[number])
        self.last_refresh_ms = (time.perf_counter() - started) * 1000
        return refreshed

    def frame(self, title: str) -> pl.DataFrame:
        """The data a panel shows now (refreshing first if it was never fetched)."""
        number = next(i for i, p in enumerate(self.panels) if p.title == title)
        if number not in self.frames:
            self.refresh()
        return self.frames[number]

    # -- live runs ---------------------------------------------------------------------------
    def run(self, for_: str | float, *, advance: bool = False) -> int:
        """Refresh every ``refresh_every`` for ``for_`` on the clock; the number of ticks.

        With ``advance=True`` on a simulated clock the dashboard moves time itself, one
        interval per tick, so a test or a notebook replays minutes of live view in no time.
        """
        end = self.clock.now() + parse_duration(for_)
        step = self.refresh_every or 1.0
        ticks = 0
        while self.clock.now() < end:
            self.refresh()
            ticks += 1
            if advance and isinstance(self.clock, SimulatedClock):
                self.clock.advance(min(step, end - self.clock.now()))
            elif not self.clock.sleep(min(step, end - self.clock.now()), cancel=self._stop):
                break
        return ticks

    def start(self) -> None:
        """Refresh in a background thread until :meth:`stop`; the notebook cell returns at once."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                self.refresh()
                if not self.clock.sleep(self.refresh_every or 1.0, cancel=self._stop):
                    break

        self._thread = threading.Thread(target=loop, name=f"dashboard {self.title}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    # -- notebook ----------------------------------------------------------------------------
    def figures(self) -> list[go.Figure]:
        if len(self.frames) < sum(p.source is not None for p in self.panels):
            self.refresh()
        return [p.figure(self.frames.get(i, pl.DataFrame())) for i, p in enumerate(self.panels)]

    def widget(self):
        """The dashboard as ipywidgets: controls above a grid of FigureWidgets."""
        import ipywidgets as w

        if not self._widgets:
            self._widgets = [go.FigureWidget(f) for f in self.figures()]
        time_choice = w.Dropdown(
            options=sorted({*TIME_RANGES, self.time_range.label()}, key=_range_order),
            value=self.time_range.label(),
            description="Time",
        )
        refresh_choice = w.Dropdown(options=list(REFRESH_CHOICES), value=_refresh_label(self),
                                    description="Refresh")  # fmt: skip
        query_box = w.Text(value=self.query, placeholder="Search (e.g. Country:France)",
                           continuous_update=False)  # fmt: skip
        status = w.Label()

        def changed(_: object = None) -> None:
            self.time_range = TimeRange.parse(time_choice.value)
            self.query = query_box.value
            self.refresh_every = REFRESH_CHOICES[refresh_choice.value]
            self.refresh(force=True)
            status.value = f"refreshed in {self.last_refresh_ms:.0f} ms"
            if self.refresh_every and not self.running:
                self.start()
            elif not self.refresh_every:
                self.stop()

        for control in (time_choice, refresh_choice, query_box):
            control.observe(changed, names="value")
        grid = w.GridBox(
            self._widgets,
            layout=w.Layout(grid_template_columns=f"repeat({self.columns}, 1fr)"),
        )
        header = w.HTML(f"<h3>{html.escape(self.title)}</h3>")
        return w.VBox([header, w.HBox([time_choice, refresh_choice, query_box, status]), grid])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())

    # -- export ------------------------------------------------------------------------------
    def to_html(self, path: str | Path) -> Path:
        """One self-contained HTML file (plotly.js inlined) that works offline."""
        parts = [
            pio.to_html(fig, full_html=False, include_plotlyjs=i == 0, config={"responsive": True})
            for i, fig in enumerate(self.figures())
        ]
        cells = "\n".join(f'<div class="panel">{part}</div>' for part in parts)
        page = _PAGE.format(title=html.escape(self.title), columns=self.columns, cells=cells,
                            range=html.escape(self.time_range.label()))  # fmt: skip
        path = Path(path)
        path.write_text(page, encoding="utf-8")
        return path

    def to_png(self, path: str | Path, *, width: int = 1400) -> Path:
        """The whole dashboard as one PNG, drawn by kaleido with the system Chromium."""
        rows = math.ceil(len(self.panels) / self.columns)
        specs = [[None] * self.columns for _ in range(rows)]
        for i, panel in enumerate(self.panels):
            specs[i // self.columns][i % self.columns] = {
                "type": SUBPLOT_TYPES.get(panel.kind, "xy")
            }
        figure = make_subplots(rows=rows, cols=self.columns, specs=specs,
                               subplot_titles=[p.title for p in self.panels],
                               vertical_spacing=0.12)  # fmt: skip
        for i, panel in enumerate(self.panels):
            frame = self.frames.get(i) if i in self.frames else None
            if frame is None:
                self.refresh()
                frame = self.frames.get(i, pl.DataFrame())
            row, col = i // self.columns + 1, i % self.columns + 1
            for trace in panel.traces(frame):
                if trace.type == "heatmap":  # its colour bar beside its own cell, not the page
                    cell = figure.get_subplot(row, col)
                    low, high = cell.yaxis.domain
                    right = cell.xaxis.domain[1]
                    trace.colorbar = {"y": (low + high) / 2, "len": high - low, "x": right + 0.01}
                figure.add_trace(trace, row=row, col=col)
        figure.update_layout(title=self.title, height=360 * rows, width=width, showlegend=False)
        path = Path(path)
        figure.write_image(path)
        return path


def _update_widget(widget: go.FigureWidget, panel: Panel, frame: pl.DataFrame) -> None:
    traces = panel.traces(frame)
    with widget.batch_update():
        if len(widget.data) == len(traces) and all(
            a.type == b.type for a, b in zip(widget.data, traces, strict=True)
        ):
            for shown, new in zip(widget.data, traces, strict=True):
                shown.update(new.to_plotly_json())
        else:
            widget.data = []
            widget.add_traces(traces)


def _range_order(label: str) -> float:
    return TimeRange.parse(label).seconds


def _refresh_label(dashboard: Dashboard) -> str:
    return next((k for k, v in REFRESH_CHOICES.items() if v == dashboard.refresh_every), "5s")


_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 16px; background: #f5f7fa; }}
header {{ display: flex; justify-content: space-between; align-items: baseline; }}
.grid {{ display: grid; grid-template-columns: repeat({columns}, 1fr); gap: 12px; }}
.panel {{ background: white; border: 1px solid #d3dae6; border-radius: 4px; padding: 4px; }}
</style></head>
<body><header><h2>{title}</h2><span>{range} (UTC)</span></header>
<div class="grid">
{cells}
</div></body></html>
"""
