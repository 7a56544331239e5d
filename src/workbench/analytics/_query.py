"""The engine: a continuous query over an event table, stepped batch by batch, checkpointed.

One step reads a batch, decides per record which records are late (:mod:`._watermark`), keeps
the on-time rows of windows that are still open, and makes final every window whose end the
watermark (minus the allowed lateness) has passed: its rows are aggregated in one statement by
the query's aggregate (DuckDB SQL or polars expressions) and the results committed with the
state and the source position, then delivered to the sinks.

Because an on-time record is never older than the closing point of the step before it, a window
made final can never receive another row: each window's final result is emitted once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from workbench.analytics._checkpoint import CheckpointStore
from workbench.analytics._sinks import Sink
from workbench.analytics._sources import PARTITIONS
from workbench.analytics._table import RAW, TS, EventTable
from workbench.analytics._time import ms_to_timestamps
from workbench.analytics._watermark import END_OF_TIME, NO_TIME, late_records
from workbench.analytics._windows import (
    WINDOW_COLUMNS,
    FixedWindows,
    RecordWindows,
    SessionWindows,
    SlidingWindows,
    Windows,
)
from workbench.clock import Clock
from workbench.errors import ValidationException

Aggregate = Callable[[pa.Table], pa.Table]
EMIT_MODES = ("final", "updates")
_COMPACT_CHUNKS = 32
_FOLD_ROWS = 4096


class Query:
    """A continuous windowed query; see :class:`workbench.analytics.Analytics` to create one."""

    def __init__(
        self,
        name: str,
        table: EventTable,
        windows: Windows,
        aggregate: Aggregate,
        *,
        store: CheckpointStore,
        clock: Clock,
        definition: str,
        allowed_lateness: int = 0,
        emit: str = "final",
        sinks: Sequence[Sink] = (),
        late_sinks: Sequence[Sink] = (),
        checkpoint_interval: float = 1.0,
        batch_limit: int = 100_000,
        idle_timeout: float | None = None,
        fields: frozenset[str] | None = None,
    ) -> None:
        if emit not in EMIT_MODES:
            raise ValidationException(f"emit must be one of {EMIT_MODES}, got {emit!r}")
        if emit == "updates" and not isinstance(windows, FixedWindows):
            raise ValidationException(
                "early (updating) results are made for TUMBLE, HOP and CUMULATE windows; "
                "session and sliding windows emit final results only"
            )
        if allowed_lateness < 0:
            raise ValidationException("allowed lateness must not be negative")
        self.name = name
        self.table = table
        self.windows = windows
        self.aggregate = aggregate
        self.allowed_lateness = allowed_lateness
        self.emit = emit
        self.sinks = list(sinks)
        self.late_sinks = list(late_sinks)
        self.checkpoint_interval = checkpoint_interval
        self.batch_limit = batch_limit
        self.idle_timeout = idle_timeout
        # The record fields the aggregate reads (None: all): only these are decoded and kept.
        self.fields = fields
        self.clock = clock
        self.definition = definition
        self._store = store
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._rates: deque[tuple[float, int]] = deque(maxlen=20)
        self._pending_out: list[pa.Table] = []
        self._pending_late: list[pa.Table] = []
        self._pending_errors: list[pa.Table] = []
        self._last_checkpoint = clock.now()
        self._last_input = clock.now()
        self._dirty = False
        self._restore()

    # ----------------------------------------------------------------- state
    def _restore(self) -> None:
        manifest = self._store.manifest
        if manifest and manifest.get("definition") != self.definition:
            raise ValidationException(
                f"query {self.name!r} has a checkpoint of another definition:\n"
                f"  {manifest.get('definition')}\nnot\n  {self.definition}\n"
                "delete the query first to start it afresh"
            )
        manifest = manifest or {}
        # Max event time per partition of the input (a stream's shards; "" for one).
        self._seen: dict[str, int] = {k: int(v) for k, v in manifest.get("seen", {}).items()}
        self._closed = int(manifest.get("closed", NO_TIME))
        self._ended = bool(manifest.get("ended", False))
        self.counters: dict[str, int] = dict(
            manifest.get("counters", {"records": 0, "late": 0, "errors": 0, "results": 0})
        )
        state = self._store.state()
        self._chunks: list[pa.Table] = [state] if state is not None and state.num_rows else []
        # Records waiting to be folded into partial aggregates: folding costs a DuckDB call, so
        # small batches wait until enough arrive or a window they belong to closes.
        self._folds = getattr(self.aggregate, "partials", None) is not None
        self._unfolded: list[pa.Table] = []
        model = self._store.state("model")
        if model is not None and hasattr(self.aggregate, "restore"):
            self.aggregate.restore(model)
        if "position" in manifest:
            self.table.source.seek(manifest["position"])

    def checkpoint(self) -> None:
        """Commit state, source position, results and late records as one generation, then
        deliver the results to the sinks."""
        with self._lock:
            self._fold()
            self._compact(force=True)
            state = self._chunks[0] if self._chunks else None
            results = _concat(self._pending_out)
            late = _concat(self._pending_late)
            manifest = {
                "definition": self.definition,
                "position": self.table.source.position(),
                "seen": self._seen,
                "closed": self._closed,
                "ended": self._ended,
                "counters": self.counters,
                "committed_at": self.clock.now(),
            }
            learnt = self.aggregate.learnt() if hasattr(self.aggregate, "learnt") else None
            errors = _concat(self._pending_errors)
            self._store.commit(manifest, state, results, late, errors, learnt)
            self._pending_out, self._pending_late, self._pending_errors = [], [], []
            self._last_checkpoint = self.clock.now()
            self._dirty = False
        for sinks, table in ((self.sinks, results), (self.late_sinks, late)):
            if table is not None and table.num_rows:
                for sink in sinks:
                    sink.write(table)

    def _compact(self, force: bool = False) -> None:
        if len(self._chunks) > 1 and (force or len(self._chunks) > _COMPACT_CHUNKS):
            self._chunks = [pa.concat_tables(self._chunks, promote_options="permissive")]

    # ------------------------------------------------------------------ step
    def step(self) -> int:
        """Read one batch, close what the watermark allows; returns the records read."""
        with self._lock:
            batch = self.table.source.read(self.batch_limit)
            now = self.clock.now()
            closing = self._closed
            count = 0 if batch is None else batch.num_rows
            if count:
                self._last_input = now
                self.counters["records"] += count
                new = [self._take(part, key) for part, key in _partitions(batch)]
                self._new_windows = _concat(new)
                behind = self.table.watermark_delay + self.allowed_lateness
                closing = max(self._closed, self._max_seen() - behind)
            elif self.table.source.exhausted and not self._ended:
                self._ended, closing = True, END_OF_TIME
            elif self.idle_timeout is not None and now - self._last_input >= self.idle_timeout:
                # An idle input would hold every window open: let event time follow the clock.
                follow = round((now - self.idle_timeout) * 1000)
                self._seen = {p: max(v, follow) for p, v in (self._seen or {"": NO_TIME}).items()}
                closing = self._max_seen() - self.table.watermark_delay - self.allowed_lateness
            self._rates.append((now, self.counters["records"]))
            per_record = isinstance(self.windows, RecordWindows) and bool(self._chunks)
            fired = closing > self._closed or per_record
            if fired:
                self._close(self._closed, closing)
                self._closed = max(self._closed, closing)
            if self.emit == "updates" and count:
                self._early(self._new_windows)
            # Final results are committed (then delivered) in the step that makes them; other
            # progress (position, open-window rows, late records) every checkpoint_interval.
            self._dirty = self._dirty or bool(count) or fired
            due = now - self._last_checkpoint >= self.checkpoint_interval
            if self._pending_out or (self._dirty and due):
                self.checkpoint()
            return count

    def run_until_idle(self, max_steps: int | None = None) -> int:
        """Step until a step reads nothing and closes nothing; returns the records read."""
        total, steps = 0, 0
        while max_steps is None or steps < max_steps:
            closed_before = self._closed
            count = self.step()
            total += count
            steps += 1
            if count == 0 and self._closed == closed_before:
                break
        if self._dirty:
            self.checkpoint()
        return total

    def _max_seen(self) -> int:
        """The event time the watermark follows: the least of the partitions' maxima.

        Partitions the source has read to their end (a closed shard) no longer hold it back.
        """
        done = getattr(self.table.source, "finished_partitions", ())
        live = [v for k, v in self._seen.items() if k not in done]
        return min(live) if live else max(self._seen.values(), default=NO_TIME)

    def _take(self, batch: pa.Table, partition: str) -> pa.Table:
        """Take one partition's records; returns its on-time rows (with their times)."""
        rows, ts, errors = self.table.decode(batch, self.fields)
        if errors is not None and errors.num_rows:
            self.counters["errors"] += errors.num_rows
            self._pending_errors.append(errors)
        behind = self.table.watermark_delay + self.allowed_lateness
        done = getattr(self.table.source, "finished_partitions", ())
        others = [v for k, v in self._seen.items() if k != partition and k not in done]
        cap = min(others) if others else END_OF_TIME
        late, self._seen[partition], before = late_records(
            ts, self._seen.get(partition, NO_TIME), behind, cap
        )
        if isinstance(self.windows, RecordWindows):
            late[:] = False  # taken in arrival order, as Kinesis SQL's ROWTIME
        if late.any():
            self._late(rows, before, late)
            keep = ~late
            rows, ts = rows.filter(pa.array(keep)), ts[keep]
        if RAW in rows.column_names:
            rows = rows.drop_columns([RAW])
        taken = rows.append_column(TS, pa.array(ts, pa.int64()))
        if self._folds and taken.num_rows:
            self._unfolded.append(taken)
            if sum(t.num_rows for t in self._unfolded) >= _FOLD_ROWS:
                self._fold()
        elif taken.num_rows:
            self._chunks.append(taken)
            self._compact()
        return taken

    def _fold(self) -> None:
        """Fold the records taken so far into partial aggregates (see :mod:`._partial`)."""
        records = _concat(self._unfolded)
        self._unfolded = []
        if records is not None:
            folded = self.aggregate.pre_aggregate(records)
            if folded.num_rows:
                self._chunks.append(folded)
                self._compact()

    def _late(self, rows: pa.Table, before: np.ndarray, late: np.ndarray) -> None:
        watermark = ms_to_timestamps((before - self.table.watermark_delay)[late])
        out = rows.filter(pa.array(late))
        if RAW in out.column_names:  # decoded for the query's fields only: decode them whole
            out = self.table.decode(pa.table({"data": out[RAW]}))[0]
        out = out.append_column("watermark", watermark)
        self.counters["late"] += out.num_rows
        self._pending_late.append(out)

    # --------------------------------------------------------------- closing
    def _close(self, after: int, until: int) -> None:
        """Make final every window with ``after < end <= until``."""
        if not self._chunks and not self._unfolded:
            return
        windows = self.windows
        if isinstance(windows, FixedWindows):
            rows = self._fixed(after, until)
            if rows is None:
                return
            over_windows = getattr(self.aggregate, "over_windows", None)
            if over_windows is not None:
                self._emit(over_windows(rows, windows, after, until), final=True)
                return
            ready = _assign(rows, windows, lambda ends: (ends > after) & (ends <= until))
        elif isinstance(windows, SessionWindows):
            ready = self._sessions(until)
        elif isinstance(windows, RecordWindows):
            ready = _concat(self._chunks)
            self._chunks = []
            ready = ready.drop_columns([TS]) if ready is not None else None
        else:
            ready = self._sliding(after, until)
        if ready is not None and ready.num_rows:
            self._emit(self._run(ready), final=True)

    def _fixed(self, after: int, until: int) -> pa.Table | None:
        windows: FixedWindows = self.windows  # type: ignore[assignment]
        if self._unfolded:
            waiting = np.concatenate([t[TS].to_numpy() for t in self._unfolded])
            if (windows.first_end(waiting) <= until).any():
                self._fold()
        parts, kept = [], []
        for chunk in self._chunks:
            ts = chunk[TS].to_numpy()
            last = windows.last_end(ts)
            touched = (windows.first_end(ts) <= until) & (last > after)
            if touched.all():
                parts.append(chunk)
            elif touched.any():
                parts.append(chunk.filter(pa.array(touched)))
            remain = last > until
            if remain.all():
                kept.append(chunk)
            elif remain.any():
                kept.append(chunk.filter(pa.array(remain)))
        self._chunks = kept
        return pa.concat_tables(parts) if parts else None

    def _sessions(self, until: int) -> pa.Table | None:
        windows: SessionWindows = self.windows  # type: ignore[assignment]
        self._compact(force=True)
        frame = pl.from_arrow(self._chunks[0])
        keys = list(windows.partition_by)
        frame = frame.sort([*keys, TS])
        step = pl.col(TS).diff().over(keys) if keys else pl.col(TS).diff()
        gap = step.fill_null(windows.gap + 1) > windows.gap
        frame = frame.with_columns(__session=gap.cum_sum())
        frame = frame.with_columns(
            __start=pl.col(TS).min().over("__session"),
            __end=pl.col(TS).max().over("__session") + windows.gap,
        )
        # A session ends at its last event plus the gap; an on-time record can join it only
        # while it is within the gap, so it is final once that end is behind the closing point.
        done = pl.col("__end") < until
        self._chunks = [frame.filter(~done).drop("__session", "__start", "__end").to_arrow()]
        ready = frame.filter(done)
        if ready.is_empty():
            return None
        table = ready.drop("__session", "__start", "__end").to_arrow()
        return _with_windows(table, ready["__start"].to_numpy(), ready["__end"].to_numpy())

    def _sliding(self, after: int, until: int) -> pa.Table | None:
        windows: SlidingWindows = self.windows  # type: ignore[assignment]
        self._compact(force=True)
        rows = self._chunks[0]
        ts = rows[TS].to_numpy()
        self._chunks = [rows.filter(pa.array(ts >= until - windows.range))]
        # A row is final once no on-time row can share its instant: ts < until. Rows before it
        # within the range are its context.
        context = rows.filter(pa.array(ts >= max(after, NO_TIME) - windows.range))
        if not ((ts >= after) & (ts < until)).any():
            return None
        self._ready_range = (after, until)
        return context.drop_columns([TS])

    def _run(self, rows: pa.Table) -> pa.Table:
        out = self.aggregate(rows)
        if isinstance(self.windows, SlidingWindows):
            column = self.table.event_time
            if column not in out.column_names:
                raise ValidationException(
                    f"a sliding-window query must select its event-time column {column!r} "
                    "so each input row's result can be told apart"
                )
            after, until = self._ready_range
            ms = pc.cast(pc.cast(out[column], pa.timestamp("ms")), pa.int64())
            out = out.filter(pc.and_(pc.greater_equal(ms, after), pc.less(ms, until)))
        return out

    def _early(self, new_rows: pa.Table) -> None:
        """Current results of windows that received rows in this step and are still open."""
        windows: FixedWindows = self.windows  # type: ignore[assignment]
        self._fold()
        fresh = _assign(new_rows, windows, lambda ends: ends > self._closed)
        if fresh.num_rows == 0:
            return
        touched = set(pc.cast(fresh["window_end"], pa.int64()).to_pylist())
        touched_ends = np.fromiter(touched, dtype=np.int64)
        rows = _concat(self._chunks)
        assert rows is not None
        windowed = _assign(rows, windows, lambda ends: np.isin(ends, touched_ends))
        self._emit(self.aggregate(windowed), final=False)

    def _emit(self, out: pa.Table, *, final: bool) -> None:
        if self.emit == "updates":
            out = out.append_column("is_final", pa.array([final] * out.num_rows, pa.bool_()))
        self.counters["results"] += out.num_rows
        self._pending_out.append(out)

    # -------------------------------------------------------------- outputs
    def results(self) -> pl.DataFrame:
        """Every committed result so far, in emission order."""
        return _frame(self._store.read("results"))

    def late(self) -> pl.DataFrame:
        """Every committed late record, with the watermark it was behind."""
        return _frame(self._store.read("late"))

    def errors(self) -> pl.DataFrame:
        """Records that could not be read (not JSON, no event time), with the reason."""
        return _frame(self._store.read("errors"))

    @property
    def folder(self) -> Path:
        """Where the query keeps its checkpoint, results, late and error records."""
        return self._store.folder

    @property
    def watermark(self) -> datetime | None:
        """The current watermark: max event time seen minus the delay (None before any)."""
        if self._max_seen() == NO_TIME:
            return None
        ms = self._max_seen() - self.table.watermark_delay
        return datetime.fromtimestamp(ms / 1000, UTC)

    def open_windows(self) -> int:
        """Windows holding rows that are not final yet."""
        with self._lock:
            self._fold()
            rows = _concat(self._chunks)
            if rows is None or rows.num_rows == 0:
                return 0
            ts = rows[TS].to_numpy()
            if isinstance(self.windows, FixedWindows):
                _, _, ends = self.windows.windows_of(ts)
                return int(np.unique(ends[ends > self._closed]).size)
            if isinstance(self.windows, SessionWindows):
                keys = list(self.windows.partition_by)
                return pl.from_arrow(rows.select(keys)).n_unique() if keys else 1
            return rows.num_rows

    def metrics(self) -> dict[str, Any]:
        """Input rate, lag, watermark, open windows, late records and counters."""
        (t0, n0), (t1, n1) = (
            self._rates[0] if self._rates else (0, 0),
            (self._rates[-1] if self._rates else (0, 0)),
        )
        watermark = self.watermark
        lag = getattr(self.table.source, "millis_behind_latest", None)
        return {
            "query": self.name,
            "records_in": self.counters["records"],
            "input_rate_per_s": (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0,
            "millis_behind_latest": lag,
            "watermark": watermark.isoformat() if watermark else None,
            "event_time_lag_s": (self.clock.now() - watermark.timestamp() if watermark else None),
            "open_windows": self.open_windows(),
            "late_records": self.counters["late"],
            "error_records": self.counters["errors"],
            "results": self.counters["results"],
            "generation": self._store.generation,
        }

    # ------------------------------------------------------------ background
    def start(self, poll_interval: float = 0.05) -> None:
        """Run in a background thread, polling the source on the workbench clock."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._loop, args=(poll_interval,), name=f"query-{self.name}", daemon=True
        )
        self._thread.start()

    def _loop(self, poll_interval: float) -> None:
        try:
            while not self._stop.is_set():
                if self.step() == 0 and not self.clock.sleep(poll_interval, cancel=self._stop):
                    break
        except BaseException as error:  # kept for status(): a background error must show
            self._error = error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background thread and checkpoint."""
        self._stop.set()
        if self._thread:
            deadline = time.monotonic() + timeout
            self._thread.join(max(0.0, deadline - time.monotonic()))
            self._thread = None
        self.checkpoint()

    def status(self) -> str:
        """RUNNING, READY (stopped or stepwise) or FAILED: <error>."""
        if self._error is not None:
            return f"FAILED: {self._error!r}"
        return "RUNNING" if self._thread and self._thread.is_alive() else "READY"

    def __repr__(self) -> str:
        return f"Query({self.name!r}, {self.windows.kind}, {self.status()})"


def _assign(rows: pa.Table, windows: FixedWindows, keep: Callable[[np.ndarray], np.ndarray]):
    """One row per (row, window) pair whose window end passes ``keep``."""
    index, starts, ends = windows.windows_of(rows[TS].to_numpy())
    mask = keep(ends)
    return _with_windows(rows.take(pa.array(index[mask])), starts[mask], ends[mask])


def _with_windows(rows: pa.Table, starts: np.ndarray, ends: np.ndarray) -> pa.Table:
    # Input from another window query brings its own window columns: these replace them.
    replaced = [c for c in (TS, *WINDOW_COLUMNS) if c in rows.column_names]
    return (
        rows.drop_columns(replaced)
        .append_column("window_start", ms_to_timestamps(starts))
        .append_column("window_end", ms_to_timestamps(ends))
        .append_column("window_time", ms_to_timestamps(ends - 1))
    )


def _partitions(batch: pa.Table) -> list[tuple[pa.Table, str]]:
    """The batch cut into its runs of one partition, as the source listed them."""
    runs = json.loads((batch.schema.metadata or {}).get(PARTITIONS, b"[]"))
    if not runs:
        return [(batch, "")]
    parts, offset = [], 0
    for partition, rows in runs:
        parts.append((batch.slice(offset, rows), str(partition)))
        offset += rows
    return parts


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    tables = [t for t in tables if t is not None]
    if not tables:
        return None
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")


def _frame(found: list[tuple[int, pa.Table]]) -> pl.DataFrame:
    table = _concat([t for _, t in found])
    return pl.DataFrame() if table is None else pl.from_arrow(table)
