"""Where a panel's numbers come from: the search index, a lake SQL query, or a live query.

A data source is anything with ``fetch(window) -> polars.DataFrame`` and ``version()``; the
version is a cheap token that changes when the underlying data does, so a dashboard tick skips
every panel whose data has not changed instead of rescanning it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import polars as pl

from workbench.clock import parse_duration
from workbench.search import SearchIndices, auto_interval_ms


@dataclass(frozen=True)
class Window:
    """What the dashboard asks of a source on each refresh: a time range and a query string."""

    start: datetime
    end: datetime
    query: str = ""


@runtime_checkable
class DataSource(Protocol):
    def fetch(self, window: Window) -> pl.DataFrame: ...

    def version(self) -> object: ...


def _index_query(time_field: str | None, window: Window, own_query: str = "") -> dict:
    """The dashboard's time range and query string, and a panel's own filter, as one query."""
    filters: list[dict] = []
    if time_field:
        span = {"gte": window.start.isoformat() + "Z", "lte": window.end.isoformat() + "Z"}
        filters.append({"range": {time_field: span}})
    for text in (window.query, own_query):
        if text.strip():
            filters.append({"query_string": {"query": text}})
    return {"bool": {"filter": filters}}


def _metric(metric: str) -> tuple[str, str | None]:
    """``"sum:Quantity"`` → ("sum", "Quantity"); ``"count"`` → ("count", None)."""
    kind, _, name = metric.partition(":")
    if kind != "count" and not name:
        raise ValueError(
            f"a metric is 'count' or 'kind:field' such as 'sum:Quantity', got {metric!r}"
        )
    return kind, name or None


@dataclass
class IndexAggregation:
    """A Kibana visualisation's request: buckets (date histogram or terms) and a metric.

    ``bucket`` is ``"date_histogram:InvoiceDate"`` (interval ``auto`` or e.g. ``"30s"``) or
    ``"terms:Country"``; ``split`` adds a second terms level (one series per term); ``metric`` is
    ``"count"`` or ``"sum:Quantity"`` (also avg, min, max, cardinality); ``query`` is the
    panel's own filter (a query string), applied on top of the dashboard's.
    """

    search: SearchIndices
    index: str
    bucket: str | None = None
    metric: str = "count"
    time_field: str | None = None
    interval: str = "auto"
    size: int = 10
    split: str | None = None
    split_size: int = 5
    query: str = ""
    _cache: _Histogram | None = field(default=None, repr=False, compare=False)

    def version(self) -> object:
        return tuple(self.search.changes_token(i) for i in self.search.resolve(self.index))

    def fetch(self, window: Window) -> pl.DataFrame:
        """The panel's frame; a date histogram over the time field reads only what changed.

        Such a histogram keeps its buckets between calls. The index notes the earliest time
        each write touched, so a later call asks again only from the earliest changed bucket
        (or the last bucket shown, which may have been still filling) to the window's end, and
        keeps the older buckets. Its first bucket is whole: the time filter starts where the
        bucket holding the window's start begins.
        """
        step_ms = self._step_ms(window)
        if step_ms is None:
            return self._query(window, self.interval)
        first = _floor(window.start, step_ms)
        tokens = {i: self.search.changes_token(i) for i in self.search.resolve(self.index)}
        cache = self._cache
        reuse = cache is not None and (cache.query, cache.step_ms) == (window.query, step_ms)
        if reuse and cache.tokens.keys() == tokens.keys():
            since = _floor(cache.end, step_ms)
            for index, token in cache.tokens.items():
                changed = self.search.earliest_change(index, self.time_field, token)
                if changed is not None:
                    since = min(since, max(first, _floor(changed, step_ms)))
            since = max(since, first)
            kept = cache.frame.filter((pl.col("key") >= first) & (pl.col("key") < since))
            fresh = self._query(Window(since, window.end, window.query), f"{step_ms}ms")
            frame = pl.concat([kept, fresh], how="vertical_relaxed") if kept.height else fresh
        else:
            frame = self._query(Window(first, window.end, window.query), f"{step_ms}ms")
        self._cache = _Histogram(window.query, step_ms, tokens, window.end, frame)
        return frame

    def _step_ms(self, window: Window) -> int | None:
        """The bucket length of a histogram over the time field, or None for other panels."""
        kind, _, field_name = (self.bucket or "").partition(":")
        if kind != "date_histogram" or field_name != self.time_field:
            return None
        if self.interval == "auto":
            return auto_interval_ms((window.end - window.start).total_seconds())
        try:
            return int(parse_duration(self.interval) * 1000)
        except ValueError:  # a calendar interval (month, quarter...): asked for whole each time
            return None

    def _query(self, window: Window, interval: str) -> pl.DataFrame:
        kind, name = _metric(self.metric)
        metric = {} if kind == "count" else {"value": {kind: {"field": name}}}
        aggs: dict = dict(metric)
        if self.split:
            split_field = self.split
            aggs = {"split": {"terms": {"field": split_field, "size": self.split_size},
                              "aggs": metric}}  # fmt: skip
        if self.bucket:
            bucket_kind, _, bucket_field = self.bucket.partition(":")
            spec = {"field": bucket_field}
            if bucket_kind == "date_histogram":
                spec["interval"] = interval
                spec["extended_bounds"] = {"min": _ms(window.start), "max": _ms(window.end)}
            else:
                spec["size"] = self.size
            aggs = {"buckets": {bucket_kind: spec, "aggs": aggs}}
        query = _index_query(self.time_field, window, self.query)
        body = {"size": 0, "query": query, "aggs": aggs}
        response = self.search.search(self.index, body)
        total = response["hits"]["total"]["value"]
        return _flatten(response.get("aggregations", {}), kind, total, bool(self.split))


@dataclass(frozen=True)
class _Histogram:
    """What a histogram source showed last: for which query and buckets, as of which writes."""

    query: str
    step_ms: int
    tokens: dict[str, int]
    end: datetime
    frame: pl.DataFrame


def _ms(instant: datetime) -> int:
    return int(instant.replace(tzinfo=UTC).timestamp() * 1000)


def _floor(instant: datetime, step_ms: int) -> datetime:
    """The start of the bucket of length ``step_ms`` holding ``instant`` (epoch-aligned)."""
    epoch_ms = _ms(instant)
    return datetime.fromtimestamp((epoch_ms - epoch_ms % step_ms) / 1000, UTC).replace(tzinfo=None)


def _value(bucket: dict, kind: str) -> float | None:
    """A bucket's number; None where a metric has no value (an empty bucket's average), which
    charts draw as a gap, as Kibana does."""
    return bucket["doc_count"] if kind == "count" else bucket["value"]["value"]


def _key(bucket: dict) -> object:
    if "key_as_string" in bucket:
        return datetime.fromtimestamp(bucket["key"] / 1000, UTC).replace(tzinfo=None)
    return bucket["key"]


def _flatten(aggregations: dict, kind: str, total: int, split: bool) -> pl.DataFrame:
    """OpenSearch's nested buckets as a long frame: key, [series], value."""
    if "buckets" not in aggregations:
        value = total if kind == "count" else aggregations.get("value", {}).get("value")
        return pl.DataFrame({"value": [value]})
    rows = []
    for bucket in aggregations["buckets"]["buckets"]:
        if split:
            for inner in bucket["split"]["buckets"]:
                rows.append({"key": _key(bucket), "series": str(inner["key"]),
                             "value": _value(inner, kind)})  # fmt: skip
        else:
            rows.append({"key": _key(bucket), "value": _value(bucket, kind)})
    columns = ["key", "series", "value"] if split else ["key", "value"]
    return pl.DataFrame(rows) if rows else pl.DataFrame({c: [] for c in columns})


@dataclass
class IndexRecords:
    """Discover: the newest matching documents of an index, as a table."""

    search: SearchIndices
    index: str
    time_field: str
    columns: list[str] | None = None
    size: int = 20

    def version(self) -> object:
        return tuple(self.search.changes_token(i) for i in self.search.resolve(self.index))

    def fetch(self, window: Window) -> pl.DataFrame:
        body = {"size": self.size, "query": _index_query(self.time_field, window),
                "sort": [{self.time_field: "desc"}]}  # fmt: skip
        hits = self.search.search(self.index, body)["hits"]["hits"]
        rows = [h["_source"] for h in hits]
        frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
        if self.columns:
            frame = frame.select([c for c in self.columns if c in frame.columns])
        return frame


class LiveResults(Protocol):
    """What a live analytics query's in-memory sink offers (``workbench.analytics.LiveTable``)."""

    written: int

    def frame(self) -> pl.DataFrame: ...


@dataclass
class LiveQuery:
    """A continuous query's results as they are emitted: one row per window (and group).

    ``key`` names the time column shown on the x axis (``window_start`` by default; rows whose
    key falls outside the dashboard's time range are left out), ``value`` the aggregate and
    ``series`` the group column, if any. A refresh reads the table only when the query has
    emitted rows since the last one.
    """

    results: LiveResults
    value: str
    key: str = "window_start"
    series: str | None = None

    def version(self) -> object:
        return self.results.written

    def fetch(self, window: Window) -> pl.DataFrame:
        frame = self.results.frame()
        columns = {"key": self.key, "value": self.value}
        if self.series:
            columns = {"key": self.key, "series": self.series, "value": self.value}
        if not frame.height:
            return pl.DataFrame({name: [] for name in columns})
        frame = frame.select(**{name: pl.col(column) for name, column in columns.items()})
        if frame.schema["key"].is_temporal():
            key = pl.col("key").dt.replace_time_zone(None)
            frame = frame.with_columns(key).filter(key.is_between(window.start, window.end))
        if "series" in frame.columns:
            frame = frame.with_columns(pl.col("series").cast(pl.String))
        return frame.sort("key")


@dataclass
class FrameQuery:
    """Any callable that returns a frame: a lake SQL query, an analytics live table, a counter.

    ``version`` defaults to "always changed"; give one (e.g. a live table's emitted-row count,
    or the lake's object count under a prefix) so ticks skip the query when nothing changed.
    """

    query: Callable[[Window], pl.DataFrame]
    version_of: Callable[[], object] | None = None
    _calls: int = field(default=0, repr=False)

    def version(self) -> object:
        if self.version_of is not None:
            return self.version_of()
        self._calls += 1
        return self._calls

    def fetch(self, window: Window) -> pl.DataFrame:
        frame = self.query(window)
        return frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
