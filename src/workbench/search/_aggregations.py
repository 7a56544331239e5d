"""The aggregations Kibana asks for, computed by DuckDB in one GROUP BY per bucket level.

Bucket aggregations (date_histogram, histogram, terms) may hold metric aggregations (sum, avg,
min, max, value_count, cardinality) and one more level of buckets. Each bucket level is one SQL
statement grouped by its parents' keys and its own, so a nested aggregation costs one scan per
level rather than one per bucket. Responses have OpenSearch's shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from workbench._sql import identifier
from workbench.search._mapping import NUMERIC
from workbench.search._query import QueryParsingException

METRICS = {
    "sum": "sum({})",
    "avg": "avg({})",
    "min": "min({})",
    "max": "max({})",
    "value_count": "count({})",
    "cardinality": "count(DISTINCT {})",
}
BUCKETS = ("date_histogram", "histogram", "terms")
_CALENDAR = {
    "minute": "minute",
    "1m": "minute",
    "hour": "hour",
    "1h": "hour",
    "day": "day",
    "1d": "day",
    "week": "week",
    "1w": "week",
    "month": "month",
    "1M": "month",
    "quarter": "quarter",
    "1q": "quarter",
    "year": "year",
    "1y": "year",
}
_FIXED = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_FIXED_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
# The intervals Kibana's auto interval rounds to, in milliseconds.
_NICE_MS = [
    1000,
    5000,
    10_000,
    30_000,
    60_000,
    300_000,
    600_000,
    1_800_000,
    3_600_000,
    10_800_000,
    43_200_000,
    86_400_000,
    604_800_000,
    2_592_000_000,
    31_536_000_000,
]
AUTO_BUCKETS = 50


@dataclass
class Context:
    """Where aggregations read from: a FROM clause with its parameters and the mapped fields."""

    con: duckdb.DuckDBPyConnection
    source: str
    params: list
    fields: dict[str, str]
    time_bounds: tuple[datetime | None, datetime | None] = (None, None)


def _field(ctx: Context, spec: dict, kind: str) -> tuple[str, str]:
    name = spec.get("field")
    if not name:
        raise QueryParsingException(f"[{kind}] aggregation needs a [field]")
    base = name[: -len(".keyword")] if name.endswith(".keyword") else name
    if base not in ctx.fields:
        return "NULL", "unmapped"
    return identifier(base), ctx.fields[base]


def _kind(spec: dict) -> tuple[str, dict]:
    kinds = [k for k in spec if k not in ("aggs", "aggregations", "meta")]
    if len(kinds) != 1:
        raise QueryParsingException(f"an aggregation has one type, got {kinds}")
    return kinds[0], spec[kinds[0]]


def auto_interval_ms(span_seconds: float) -> int:
    """The interval Kibana's auto date histogram picks for a time span: about 50 buckets,
    rounded up to a readable length (30 s for 15 minutes).

    >>> auto_interval_ms(15 * 60)
    30000
    """
    return next((n for n in _NICE_MS if n * AUTO_BUCKETS >= span_seconds * 1000), _NICE_MS[-1])


def _auto_interval_ms(ctx: Context, col: str) -> int:
    low, high = ctx.time_bounds
    if low is None or high is None:
        row = ctx.con.execute(
            f"SELECT min({col}), max({col}) FROM {ctx.source}", ctx.params
        ).fetchone()
        low, high = low or row[0], high or row[1]
    if low is None or high is None:
        return _NICE_MS[0]
    return auto_interval_ms((high - low).total_seconds())


def _bucket_key(ctx: Context, kind: str, body: dict) -> tuple[str, dict]:
    """SQL for a bucket's key, and what to remember about it for the response."""
    col, field_type = _field(ctx, body, kind)
    if kind == "terms":
        return col, {"type": field_type}
    if kind == "histogram":
        interval = float(body["interval"])
        return f"floor({col} / {interval}) * {interval}", {"interval": interval, "type": "number"}
    interval = body.get("fixed_interval") or body.get("calendar_interval") or body.get("interval")
    if interval in (None, "auto"):
        step = _auto_interval_ms(ctx, col)
    elif interval in _CALENDAR:
        unit = _CALENDAR[interval]
        return f"epoch_ms(date_trunc('{unit}', {col}))", {"type": "date", "calendar": unit}
    elif match := _FIXED.match(str(interval)):
        step = int(match.group(1)) * _FIXED_MS[match.group(2)]
    else:
        raise QueryParsingException(
            f"unknown date_histogram interval [{interval}]: use fixed intervals such as 30s, 5m, "
            "1h, 1d, a calendar unit (minute, hour, day, week, month, quarter, year) or auto"
        )
    return f"(epoch_ms({col}) // {step}) * {step}", {"type": "date", "step": step}


def _metric_sql(ctx: Context, kind: str, body: dict) -> str:
    col, field_type = _field(ctx, body, kind)
    sql = METRICS[kind].format(col)
    # OpenSearch reports numeric metrics as doubles, also over long fields.
    numeric_metric = field_type in NUMERIC and kind in ("sum", "avg", "min", "max")
    return f"CAST({sql} AS DOUBLE)" if numeric_metric else sql


def _metric_value(kind: str, value: object, field_type: str) -> dict:
    if kind in ("value_count", "cardinality"):
        return {"value": int(value or 0)}
    result = {"value": value}
    if isinstance(value, datetime):
        epoch_ms = value.replace(tzinfo=UTC).timestamp() * 1000
        result = {"value": epoch_ms, "value_as_string": _iso(epoch_ms)}
    return result


def _iso(epoch_ms: float) -> str:
    instant = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def aggregate(ctx: Context, aggs: dict) -> dict:
    """OpenSearch's ``aggregations`` response for a request's ``aggs``."""
    return _level(ctx, aggs, parents=[])[()]


def _level(ctx: Context, aggs: dict, parents: list[str]) -> dict[tuple, dict]:
    """Each parent bucket's key tuple mapped to the results of ``aggs`` inside that bucket."""
    results: dict[tuple, dict] = {}
    metrics = {n: _kind(s) for n, s in aggs.items() if _kind(s)[0] in METRICS}
    for name, spec in aggs.items():
        kind, body = _kind(spec)
        if kind in METRICS:
            continue
        if kind not in BUCKETS:
            raise QueryParsingException(
                f"aggregation type [{kind}] is not supported: use {', '.join(BUCKETS)} or "
                f"{', '.join(METRICS)}"
            )
        for parent, value in _buckets(ctx, kind, body, spec, parents).items():
            results.setdefault(parent, {})[name] = value
    if metrics:
        keys = [f"{p} AS p{i}" for i, p in enumerate(parents)]
        select = keys + [_metric_sql(ctx, k, b) for k, b in metrics.values()]
        group = " GROUP BY ALL" if parents else ""
        rows = ctx.con.execute(f"SELECT {', '.join(select)} FROM {ctx.source}{group}", ctx.params)
        for row in rows.fetchall():
            parent = tuple(row[: len(parents)])
            for (name, (kind, body)), value in zip(
                metrics.items(), row[len(parents) :], strict=True
            ):
                field_type = _field(ctx, body, kind)[1]
                results.setdefault(parent, {})[name] = _metric_value(kind, value, field_type)
    if not parents:
        results.setdefault((), {})
    return results


def _buckets(ctx: Context, kind: str, body: dict, spec: dict, parents: list[str]) -> dict:
    key_sql, meta = _bucket_key(ctx, kind, body)
    sub_aggs = spec.get("aggs") or spec.get("aggregations") or {}
    partition = f"PARTITION BY {', '.join(f'p{i}' for i in range(len(parents)))}" if parents else ""
    select = [f"{p} AS p{i}" for i, p in enumerate(parents)] + [
        f"{key_sql} AS bucket_key",
        "count(*) AS doc_count",
        f"sum(count(*)) OVER ({partition}) AS parent_count",
    ]
    group = ", ".join([*(f"p{i}" for i in range(len(parents))), "bucket_key"])
    sql = f"SELECT {', '.join(select)} FROM {ctx.source} GROUP BY {group}"
    if kind == "terms":
        order = body.get("order", {"_count": "desc"})
        ((by, direction),) = (order if isinstance(order, dict) else order[0]).items()
        direction = "ASC" if str(direction).lower() == "asc" else "DESC"
        order_sql = {"_count": "count(*)", "_key": "bucket_key"}.get(by)
        if order_sql is None:
            raise QueryParsingException(f"terms order by [{by}]: use _count or _key")
        size = int(body.get("size", 10))
        sql += f" QUALIFY row_number() OVER ({partition} ORDER BY {order_sql} {direction}, "
        sql += f"bucket_key) <= {size} ORDER BY {order_sql} {direction}, bucket_key"
    else:
        sql += " HAVING bucket_key IS NOT NULL ORDER BY bucket_key"
    rows = ctx.con.execute(sql, ctx.params).fetchall()
    inner = _level(ctx, sub_aggs, [*parents, key_sql]) if sub_aggs else {}
    grouped: dict[tuple, list[dict]] = {}
    totals: dict[tuple, int] = {}
    for row in rows:
        parent = tuple(row[: len(parents)])
        key, count, parent_count = row[len(parents) :]
        bucket = _bucket(key, int(count), meta)
        bucket.update(inner.get((*parent, key), {}))
        grouped.setdefault(parent, []).append(bucket)
        totals[parent] = int(parent_count)
    out = {}
    for parent, buckets in grouped.items():
        if "step" in meta and int(body.get("min_doc_count", 0)) == 0:
            buckets = _fill_gaps(buckets, meta["step"], body, sub_aggs)
        result: dict = {"buckets": buckets}
        if kind == "terms":
            shown = sum(b["doc_count"] for b in buckets)
            result = {
                "doc_count_error_upper_bound": 0,
                "sum_other_doc_count": totals[parent] - shown,
                "buckets": buckets,
            }
        out[parent] = result
    if not parents and () not in out:
        bounds = body.get("extended_bounds") or {}
        fill = "step" in meta and {"min", "max"} <= set(bounds)
        out[()] = {"buckets": _fill_gaps([], meta["step"], body, sub_aggs) if fill else []}
    return out


def _bucket(key: object, count: int, meta: dict) -> dict:
    if meta["type"] == "date":
        return {"key_as_string": _iso(key), "key": int(key), "doc_count": count}
    return {"key": key, "doc_count": count}


def _fill_gaps(buckets: list[dict], step: int, body: dict, sub_aggs: dict) -> list[dict]:
    """Empty buckets between the first and last (and extended_bounds), as OpenSearch returns."""
    keys = [b["key"] for b in buckets]
    bounds = body.get("extended_bounds") or {}
    low = min([*keys, *([int(bounds["min"])] if "min" in bounds else [])])
    high = max([*keys, *([int(bounds["max"])] if "max" in bounds else [])])
    by_key = {b["key"]: b for b in buckets}
    filled = []
    for key in range(low - low % step, high + 1, step):
        filled.append(by_key.get(key) or _empty_bucket(key, sub_aggs))
    return filled


def _empty_bucket(key: int, sub_aggs: dict) -> dict:
    bucket = _bucket(key, 0, {"type": "date"})
    for name, spec in sub_aggs.items():
        kind, _ = _kind(spec)
        bucket[name] = {"value": {"value_count": 0, "cardinality": 0, "sum": 0.0}.get(kind)}
        if kind in BUCKETS:
            bucket[name] = {"buckets": []}
    return bucket
