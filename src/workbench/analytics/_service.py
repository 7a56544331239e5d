"""``wb.analytics``: source tables and continuous queries, kept under ``<home>/analytics/``.

>>> import tempfile, polars as pl
>>> from workbench import Workbench, SimulatedClock
>>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start=0))
>>> clicks = pl.DataFrame({"page": ["a", "b", "a"], "ts": [1_000, 2_500, 1_500]})
>>> wb.analytics.create_table(
...     "clicks", clicks, event_time="ts", time_format="epoch_ms", watermark="1s")
EventTable('clicks', event_time='ts', watermark='1000ms')
>>> q = wb.analytics.create_sql_query("per_page", '''
...     SELECT window_start, page, COUNT(*) AS n
...     FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
...     GROUP BY window_start, window_end, page ORDER BY window_start, page''')
>>> q.run_until_idle()
3
>>> q.results().rows()
[(datetime.datetime(1970, 1, 1, 0, 0, 1), 'a', 2), (datetime.datetime(1970, 1, 1, 0, 0, 2), 'b', 1)]
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from workbench.analytics._checkpoint import CheckpointStore
from workbench.analytics._forest_sql import ForestAggregate, ForestSql, parse_forest_sql
from workbench.analytics._frames import FrameAggregate
from workbench.analytics._query import Query
from workbench.analytics._sinks import Sink
from workbench.analytics._sources import ArraySource, Source, StreamSource
from workbench.analytics._sql import SqlAggregate, parse_window_sql
from workbench.analytics._table import EventTable
from workbench.analytics._time import TIME_FORMATS, ms_to_timestamps, parse_interval
from workbench.analytics._windows import WINDOW_COLUMNS, RecordWindows, SlidingWindows, Windows
from workbench.errors import (
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)

_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
_WATERMARK = re.compile(
    r"^\s*WATERMARK\s+FOR\s+(?P<col>\w+)\s+AS\s+(?P<again>\w+)\s*-\s*(?P<interval>INTERVAL\s+.+?)\s*$",
    re.IGNORECASE,
)


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationException(
            f"{kind} name {name!r} is not valid: 1 to 128 of letters, digits, '_', '.', '-'"
        )
    return name


class Analytics:
    """Kinesis Data Analytics on the workbench: windowed continuous queries on event time."""

    def __init__(self, workbench: Any) -> None:
        self._wb = workbench
        self.folder = workbench.home.service_dir("analytics")
        self._tables: dict[str, EventTable] = {}
        self._queries: dict[str, Query] = {}
        # False skips fsync on commits: still atomic for a process crash, not for power loss
        # (for tests and notebooks that make many small commits).
        self.fsync = True

    # ---------------------------------------------------------------- tables
    def create_table(
        self,
        name: str,
        source: Any,
        *,
        event_time: str | None = None,
        watermark: object = "0s",
        schema: dict[str, str] | None = None,
        time_format: str | None = None,
        batch_size: int = 10_000,
    ) -> EventTable:
        """Declare a source table with its event-time column and watermark delay.

        ``source`` is a data stream (its name or the Stream; records are JSON, typed by
        ``schema``: field -> DuckDB type), a :class:`Source`, a frame (polars, pandas, Arrow;
        read in ``batch_size`` batches), or a :class:`Query` (its results). ``watermark`` is
        the bounded out-of-orderness: ``WATERMARK FOR ts AS ts - INTERVAL '5' SECOND`` is
        ``"5s"``; the Flink clause itself is read too, and then names the event-time column.
        """
        _check_name("table", name)
        if isinstance(watermark, str) and _WATERMARK.match(watermark):
            match = _WATERMARK.match(watermark)
            assert match is not None
            if match["col"] != match["again"] or event_time not in (None, match["col"]):
                raise ValidationException(
                    f"{watermark!r} must be WATERMARK FOR c AS c - INTERVAL ... on the event-time "
                    f"column{f' {event_time!r}' if event_time else ''}"
                )
            event_time, watermark = match["col"], match["interval"]
        if event_time is None:
            raise ValidationException(
                "name the event-time column: event_time='ts' or watermark='WATERMARK FOR ts AS "
                "ts - INTERVAL '5' SECOND'"
            )
        if time_format is not None and time_format not in TIME_FORMATS and "%" not in time_format:
            raise ValidationException(
                f"time_format {time_format!r} is not known: use {', '.join(TIME_FORMATS)} or a "
                "strptime pattern such as '%Y-%m-%d %H:%M:%S'"
            )
        table = EventTable(
            name,
            self._as_source(source, batch_size),
            event_time,
            parse_interval(watermark),
            schema,
            time_format,
        )
        self._tables[name] = table
        return table

    def _as_source(self, source: Any, batch_size: int) -> Source:
        if isinstance(source, Query):
            from workbench.analytics._outputs import QueryOutput

            return QueryOutput(source)
        if isinstance(source, Source):
            return source
        if isinstance(source, str):  # a data stream's name
            return StreamSource(self._wb.streams.stream(source))
        if hasattr(source, "get_records_arrow"):
            return StreamSource(source)
        return ArraySource(source, batch_size=batch_size)

    def table(self, name: str) -> EventTable:
        try:
            return self._tables[name]
        except KeyError:
            raise ResourceNotFoundException(
                f"table {name!r} is not declared; declared: {sorted(self._tables)}"
            ) from None

    # --------------------------------------------------------------- queries
    def create_sql_query(
        self,
        name: str,
        sql: str,
        *,
        allowed_lateness: object = "0s",
        emit: str = "final",
        sinks: Sequence[Sink] = (),
        late_sinks: Sequence[Sink] = (),
        **options: Any,
    ) -> Query:
        """A continuous query written as Flink SQL with a window TVF (see :mod:`._sql`), or as
        Kinesis SQL's ``RANDOM_CUT_FOREST`` for an anomaly score per record (see
        :mod:`._forest_sql`)."""
        _check_name("query", name)
        forest = parse_forest_sql(sql)
        if forest is not None:
            return self._forest_query(
                name, sql, forest, emit=emit, sinks=sinks, late_sinks=late_sinks, **options
            )
        spec = parse_window_sql(sql)
        table = self.table(spec.table)
        if spec.time_column != table.event_time:
            raise ValidationException(
                f"the window's time column {spec.time_column!r} is not the event-time column "
                f"{table.event_time!r} declared on table {table.name!r}"
            )
        aggregate = SqlAggregate(spec)
        empty = _empty_rows(table, spec.windows)
        fields, partial = None, False
        if empty is not None:
            aggregate.check(empty)
            fields = aggregate.columns_read(empty)
            records = empty.drop_columns([c for c in WINDOW_COLUMNS if c in empty.column_names])
            partial = aggregate.use_partials(records)
        definition = (
            f"sql: {' '.join(sql.split())} | {self._describe(table, allowed_lateness, emit)}"
            # Windows keep partial aggregates rather than records: another checkpoint layout.
            + (" | partial aggregates" if partial else "")
        )
        return self._create(
            name, table, spec.windows, aggregate, definition,
            allowed_lateness=allowed_lateness, emit=emit, sinks=sinks, late_sinks=late_sinks,
            fields=fields, **options,
        )  # fmt: skip

    def _forest_query(self, name: str, sql: str, spec: ForestSql, **options: Any) -> Query:
        """A per-record ``RANDOM_CUT_FOREST`` query (see :mod:`._forest_sql`)."""
        table = self.table(spec.table)
        aggregate = ForestAggregate(spec)
        empty = _empty_rows(table, RecordWindows())
        if empty is not None:
            aggregate.check(empty)
        definition = f"sql: {' '.join(sql.split())} | {self._describe(table, '0s', 'final')}"
        return self._create(
            name, table, RecordWindows(), aggregate, definition, allowed_lateness="0s", **options
        )

    def create_query(
        self,
        name: str,
        table: str | EventTable,
        *,
        window: Windows,
        aggregations: Sequence[pl.Expr],
        group_by: Sequence[str] = (),
        allowed_lateness: object = "0s",
        emit: str = "final",
        sinks: Sequence[Sink] = (),
        late_sinks: Sequence[Sink] = (),
        **options: Any,
    ) -> Query:
        """A continuous query built in Python: a window, group keys, polars aggregations.

        ``window`` is :func:`tumble`, :func:`hop`, :func:`cumulate`, :func:`session` or
        :func:`sliding`; session and sliding windows group by their ``partition_by`` keys.
        """
        _check_name("query", name)
        event_table = self.table(table) if isinstance(table, str) else table
        keys = list(group_by) or list(getattr(window, "partition_by", ()))
        aggregate = FrameAggregate(window, keys, aggregations, event_table.event_time)
        definition = (
            f"frame: {window!r} {aggregate!r} | "
            f"{self._describe(event_table, allowed_lateness, emit)}"
        )
        return self._create(
            name, event_table, window, aggregate, definition,
            allowed_lateness=allowed_lateness, emit=emit, sinks=sinks, late_sinks=late_sinks,
            **options,
        )  # fmt: skip

    @staticmethod
    def _describe(table: EventTable, lateness: object, emit: str) -> str:
        return (
            f"table={table.name} time={table.event_time} watermark={table.watermark_delay}ms "
            f"lateness={parse_interval(lateness)}ms emit={emit}"
        )

    def _create(
        self,
        name: str,
        table: EventTable,
        windows: Windows,
        aggregate: Any,
        definition: str,
        *,
        allowed_lateness: object,
        **options: Any,
    ) -> Query:
        _check_name("query", name)
        if name in self._queries and self._queries[name].status() == "RUNNING":
            raise ResourceInUseException(f"query {name!r} is running; stop it first")
        store = CheckpointStore(self.folder / "queries" / name, fsync=self.fsync)
        query = Query(
            name,
            table,
            windows,
            aggregate,
            store=store,
            clock=self._wb.clock,
            definition=definition,
            allowed_lateness=parse_interval(allowed_lateness),
            **options,
        )
        self._queries[name] = query
        return query

    def query(self, name: str) -> Query:
        """A query created in this session."""
        try:
            return self._queries[name]
        except KeyError:
            raise ResourceNotFoundException(
                f"query {name!r} does not exist; queries: {sorted(self._queries)}"
            ) from None

    def list_queries(self) -> list[dict[str, Any]]:
        """Name, window kind and status of each query."""
        return [
            {"name": q.name, "window": q.windows.kind, "status": q.status()}
            for q in self._queries.values()
        ]

    def delete_query(self, name: str) -> None:
        """Stop a query and delete its checkpoint, results and late records."""
        query = self._queries.pop(name, None)
        if query is not None and query.status() == "RUNNING":
            query._stop.set()
        folder = self.folder / "queries" / _check_name("query", name)
        if query is None and not folder.exists():
            raise ResourceNotFoundException(f"query {name!r} does not exist")
        shutil.rmtree(folder, ignore_errors=True)

    def __repr__(self) -> str:
        return f"Analytics(tables={sorted(self._tables)}, queries={sorted(self._queries)})"


def _empty_rows(table: EventTable, windows: Windows) -> pa.Table | None:
    """No rows, with the columns the aggregate will see, to check a query when it is created."""
    if table.schema is not None:
        import duckdb

        columns = ", ".join(f'NULL::{kind} AS "{col}"' for col, kind in table.schema.items())
        schema = duckdb.sql(f"SELECT {columns} LIMIT 0").to_arrow_table().schema
    elif isinstance(table.source, ArraySource):
        schema = table.source.table.schema
    else:
        return None
    at = schema.get_field_index(table.event_time)
    schema = schema.set(at, pa.field(table.event_time, pa.timestamp("ms")))
    empty = schema.empty_table()
    if isinstance(windows, SlidingWindows | RecordWindows):
        return empty
    stamps = ms_to_timestamps(pa.array([], pa.int64()).to_numpy())
    return (
        empty.append_column("window_start", stamps)
        .append_column("window_end", stamps)
        .append_column("window_time", stamps)
    )
