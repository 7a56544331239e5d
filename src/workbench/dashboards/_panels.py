"""Panels: one chart each, drawn from a data source's frame.

A panel turns its frame into plotly traces once; the same traces fill a live FigureWidget in
the notebook, a figure in the exported HTML and a cell of the exported PNG.

Kinds: ``bar`` (vertical; a date histogram when its keys are times), ``hbar``, ``line``,
``area``, ``pie``, ``funnel`` (stages in the frame's order), ``metric`` (a KPI number),
``table`` (Discover) and ``heatmap`` (e.g. records per shard per second: key, series and
value). Series named in ``marker_series`` are drawn as markers over the lines (anomalies).
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl

from workbench.dashboards._sources import DataSource

KINDS = ("bar", "hbar", "line", "area", "pie", "funnel", "metric", "table", "heatmap")
SPARSE = 30  # series with at most this many points are drawn with markers too
# The plotly subplot type each kind needs when panels share one figure (the PNG export).
SUBPLOT_TYPES = {"pie": "domain", "metric": "domain", "table": "table"}


@dataclass
class Panel:
    """A titled chart bound to a data source.

    >>> import polars as pl
    >>> panel = Panel("Sales", "bar", source=None, x_title="time", y_title="quantity")
    >>> [t.type for t in panel.traces(pl.DataFrame({"key": [1, 2], "value": [3, 4]}))]
    ['bar']
    """

    title: str
    kind: str
    source: DataSource | None
    x_title: str | None = None
    y_title: str | None = None
    number_format: str = ",.0f"
    marker_series: tuple[str, ...] = ()
    stacked: bool = True  # several series of bars: stacked (Kibana) or side by side (QuickSight)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown panel kind {self.kind!r}; choose one of {', '.join(KINDS)}")

    def traces(self, frame: pl.DataFrame) -> list[go.BaseTraceType]:
        if self.kind == "metric":
            value = frame["value"][0] if frame.height and "value" in frame.columns else 0
            return [go.Indicator(mode="number", value=value or 0,
                                 number={"valueformat": self.number_format})]  # fmt: skip
        if self.kind == "table":
            columns = frame.columns
            return [go.Table(header={"values": columns},
                             cells={"values": [frame[c].to_list() for c in columns]})]  # fmt: skip
        if self.kind == "pie":
            return [go.Pie(labels=frame["key"].to_list() if frame.height else [],
                           values=frame["value"].to_list() if frame.height else [],
                           hole=0.4, sort=False, textinfo="label+percent")]  # fmt: skip
        if self.kind == "funnel":
            keys = [str(k) for k in frame["key"]] if frame.height else []
            values = frame["value"].to_list() if frame.height else []
            return [go.Funnel(y=keys, x=values, textinfo="value+percent initial")]
        if self.kind == "heatmap":
            if not frame.height:
                return [go.Heatmap(x=[], y=[], z=[])]
            wide = frame.pivot(on="series", index="key", values="value").sort("key").fill_null(0)
            series = sorted(c for c in wide.columns if c != "key")
            z = [wide[s].to_list() for s in series]
            return [go.Heatmap(x=wide["key"].to_list(), y=series, z=z, colorscale="Blues")]
        groups = (
            [(str(s), g) for (s,), g in frame.group_by("series", maintain_order=True)]
            if "series" in frame.columns
            else [(self.y_title or "value", frame)]
        )
        return [self._series_trace(name, group) for name, group in groups] or [
            self._series_trace(self.y_title or "value", pl.DataFrame({"key": [], "value": []}))
        ]

    def _series_trace(self, name: str, frame: pl.DataFrame) -> go.BaseTraceType:
        keys, values = frame["key"].to_list(), frame["value"].to_list()
        if name in self.marker_series:
            marker = {"symbol": "x", "size": 10, "color": "crimson"}
            return go.Scatter(x=keys, y=values, name=name, mode="markers", marker=marker)
        if self.kind == "bar":
            return go.Bar(x=keys, y=values, name=name)
        if self.kind == "hbar":
            return go.Bar(
                x=values[::-1], y=[str(k) for k in keys[::-1]], name=name, orientation="h"
            )
        stack = "stack" if self.kind == "area" else None
        mode = "lines" if len(keys) > SPARSE else "lines+markers"  # a lone point must show
        return go.Scatter(x=keys, y=values, name=name, mode=mode, stackgroup=stack)

    def layout(self) -> dict:
        layout: dict = {
            "title": {"text": self.title},
            "margin": {"l": 50, "r": 20, "t": 50, "b": 40},
            "height": 320,
            "showlegend": self.kind == "pie",
        }  # fmt: skip
        if self.kind not in SUBPLOT_TYPES and self.kind != "heatmap":
            layout["xaxis"] = {"title": {"text": self.x_title}}
            layout["yaxis"] = {"title": {"text": self.y_title}}
        if self.kind in ("bar", "line", "area"):
            layout["barmode"] = "stack" if self.stacked else "group"
            layout["showlegend"] = True
        return layout

    def figure(self, frame: pl.DataFrame) -> go.Figure:
        return go.Figure(data=self.traces(frame), layout=self.layout())
