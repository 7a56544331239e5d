"""A source: a model of some world, a timeline, and the realism knobs, in four output modes.

Every mode reads the same deterministic sequence of vectorised chunks, so for one seed and
start ``frame(n)``, ``records(n)``, ``json_lines(n)`` and a producer carry the same events, and
the first k events are the same whatever n is.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import orjson
import polars as pl

from workbench.clock import Clock, parse_instant
from workbench.errors import InvalidArgumentException
from workbench.sources._knobs import MALFORMED_KINDS, Knobs
from workbench.sources._timeline import Timeline

if TYPE_CHECKING:
    from workbench.sources._producer import Producer

DEFAULT_START = "2026-01-01T00:00:00Z"
_FIRST_CHUNK = 1024
_LARGEST_CHUNK = 65536
_DUPLICATE_REACH = 8  # a duplicate repeats one of the previous few records, as retries do
ISO_MS = "%Y-%m-%dT%H:%M:%S%.3fZ"
ARRIVAL = "arrival_time"
_MALFORMED = "_malformed"
_FIELD = "_field"
_ARRIVAL_S = "_arrival"
_EVENT_S = "_t"


class Model(Protocol):
    """What a source's world provides: typed columns for the units a timeline hands it.

    A model class is built as ``Model(rng, options, start, rate)``. A unit is what arrives at one
    instant (an invoice, a session start, a reading, an event); ``events_per_unit`` is how
    many records one unit yields on average. ``layouts`` says which columns a record has, per
    kind of record (a filter, or None for every row).
    """

    columns: ClassVar[list[str]]
    time_column: ClassVar[str]
    layouts: ClassVar[list[tuple[pl.Expr | None, list[str]]]]
    events_per_unit: float

    def chunk(self, times: np.ndarray) -> pl.DataFrame:
        """Records for units arriving at ``times``, in time order, with event seconds in ``_t``."""

    @staticmethod
    def event_time(seconds: np.ndarray) -> pl.Series:
        """The typed event-time column from epoch seconds."""


@dataclass(frozen=True)
class Source:
    """A deterministic generator of one kind of event; call it to change settings.

    ``seed`` fixes every random choice; ``start`` fixes where the simulated timeline begins
    (default: the ``clock``'s now when a clock is given, else 2026-01-01T00:00:00Z). Keyword
    arguments of a call are source settings (``seed``, ``start``, ``clock``), realism knobs
    (see :class:`~workbench.sources.Knobs`) or options of the source's model.

    >>> from workbench.sources import retail
    >>> first = retail(seed=7).frame(5)
    >>> first.equals(retail(seed=7).frame(100).head(5))
    True
    >>> next(retail.records(1))["Invoice"]
    '489434'
    """

    name: str
    model: type[Model] = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    start: float | str | None = None
    clock: Clock | None = field(default=None, repr=False)
    knobs: Knobs = field(default_factory=Knobs)

    def __call__(self, **changes: Any) -> Source:
        """A copy with some settings, knobs or model options changed."""
        mine = {k: changes.pop(k) for k in ("seed", "start", "clock") if k in changes}
        knob_names = {f.name for f in dataclasses.fields(Knobs)}
        knobs = {k: changes.pop(k) for k in list(changes) if k in knob_names}
        unknown = sorted(set(changes) - set(self.options))
        if unknown:
            allowed = sorted({"seed", "start", "clock"} | knob_names | set(self.options))
            raise InvalidArgumentException(
                f"{self.name} has no setting {', '.join(unknown)}; allowed: {', '.join(allowed)}"
            )
        if "start" in mine and mine["start"] is not None:
            mine["start"] = parse_instant(mine["start"])
        return dataclasses.replace(
            self,
            options={**self.options, **changes},
            knobs=dataclasses.replace(self.knobs, **knobs),
            **mine,
        )

    def timeline_start(self) -> float:
        """Epoch seconds where event times begin."""
        if self.start is not None:
            return parse_instant(self.start)
        if self.clock is not None:
            return self.clock.now()
        return parse_instant(DEFAULT_START)

    # -- output modes -------------------------------------------------------------------------

    def frame(self, n: int, *, arrival: bool = False) -> pl.DataFrame:
        """The first ``n`` events as a polars DataFrame (typed columns, arrival order).

        ``arrival=True`` adds ``arrival_time``: when the event reaches the stream, which is
        later than its event time for out-of-order and late events.
        """
        if self.knobs.malformed:
            raise InvalidArgumentException(
                "malformed records have no typed columns: use records(), json_lines() or a "
                "producer, or set malformed=0 for frame()"
            )
        parts = list(self.chunks(self.timeline_start(), n))
        frame = pl.concat(parts) if parts else self._empty()
        keep = [*self.model.columns, *([ARRIVAL] if arrival else [])]
        return frame.with_columns(_seconds_to_datetime(pl.col(_ARRIVAL_S)).alias(ARRIVAL)).select(
            keep
        )

    def records(self, n: int | None = None) -> Iterator[dict[str, Any] | str]:
        """Events as JSON-ready dicts (what ``json.loads`` of :meth:`json_lines` gives).

        A ``bad_json`` malformed record cannot be a dict: it is yielded as its broken text.
        ``n=None`` goes on for ever.
        """
        return self._rendered(n, text=False)

    def json_lines(self, n: int | None = None) -> Iterator[str]:
        """Events as JSON text, one object per line (without the newline)."""
        return self._rendered(n, text=True)  # type: ignore[return-value]

    def producer(
        self,
        sink: Any,
        *,
        max_count: int | None = None,
        fast: bool = False,
        partition_key: str | None = None,
        batch_size: int = 500,
        progress: bool = False,
    ) -> Producer:
        """A background producer writing this source into a stream (or any sink); see Producer."""
        from workbench.sources._producer import Producer

        return Producer(
            self,
            sink,
            max_count=max_count,
            fast=fast,
            partition_key=partition_key,
            batch_size=batch_size,
            progress=progress,
        )

    # -- the shared pipeline ------------------------------------------------------------------

    def _all_chunks(self, start: float) -> Iterator[pl.DataFrame]:
        model_rng, time_rng, knob_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence(self.seed).spawn(3)
        )
        model = self.model(model_rng, self.options, start, self.knobs.rate)
        timeline = Timeline(self.knobs.rate, model.events_per_unit, start, time_rng)
        units = _FIRST_CHUNK
        while True:
            frame = model.chunk(timeline.next(units))
            if frame.height:
                yield self._roughen(frame, model, knob_rng)
            units = min(units * 2, _LARGEST_CHUNK)

    def _roughen(self, frame: pl.DataFrame, model: Model, rng: np.random.Generator) -> pl.DataFrame:
        knobs, n = self.knobs, frame.height
        arrival = frame[_EVENT_S].to_numpy()
        event = arrival
        if knobs.out_of_order or knobs.late:
            roll = rng.random(n)
            delay = np.zeros(n)
            disordered = roll < knobs.out_of_order
            late = (roll >= knobs.out_of_order) & (roll < knobs.out_of_order + knobs.late)
            # (0, bound], not [0, bound): a disordered event really is earlier than it arrives.
            delay[disordered] = (1.0 - rng.random(int(disordered.sum()))) * knobs.max_delay
            delay[late] = (2.0 - rng.random(int(late.sum()))) * knobs.late_after
            event = arrival - delay
        if knobs.duplicates:
            source = np.arange(n)
            repeated = (rng.random(n) < knobs.duplicates) & (source > 0)
            back = rng.integers(1, _DUPLICATE_REACH + 1, int(repeated.sum()))
            source[repeated] = np.maximum(source[repeated] - back, 0)
            frame, event = frame[source], event[source]
        kinds = np.zeros(n, dtype=np.int8)
        fields = kinds
        if knobs.malformed:
            broken = rng.random(n) < knobs.malformed
            allowed = np.array([MALFORMED_KINDS.index(k) + 1 for k in knobs.malformed_kinds])
            kinds[broken] = allowed[rng.integers(0, len(allowed), int(broken.sum()))]
            fields = rng.integers(0, 1 << 30, n)
        return frame.with_columns(
            model.event_time(event).alias(model.time_column),
            pl.Series(_ARRIVAL_S, arrival),
            pl.Series(_MALFORMED, kinds),
            pl.Series(_FIELD, fields),
        )

    def _empty(self) -> pl.DataFrame:
        chunk = next(self._all_chunks(self.timeline_start()))
        return chunk.clear()

    def _rendered(self, n: int | None, text: bool) -> Iterator[Any]:
        # chain() hands out the rendered records from C: a generator would cost a Python
        # frame resume per record.
        return itertools.chain.from_iterable(
            self.render(chunk, text) for chunk in self.chunks(self.timeline_start(), n)
        )

    def chunks(self, start: float, limit: int | None = None) -> Iterator[pl.DataFrame]:
        """Vectorised chunks of the first ``limit`` events (all for None), with private columns
        for the arrival time and malformed kind; what every output mode is made of."""
        left = limit
        for chunk in self._all_chunks(start):
            if left is not None:
                if left <= 0:
                    return
                chunk = chunk.head(left)
                left -= chunk.height
            yield chunk

    def render(self, chunk: pl.DataFrame, text: bool) -> list[Any]:
        """JSON lines (``text``) or dicts for a chunk, malformed records broken as asked."""
        wire = chunk.with_columns(
            pl.col(c).dt.strftime(ISO_MS)
            for c, dtype in chunk.schema.items()
            if isinstance(dtype, pl.Datetime) and not c.startswith("_")
        )
        out: list[Any] = [None] * wire.height
        for where, columns in self.model.layouts:
            part = wire if where is None else wire.with_row_index("_pos").filter(where)
            if text:
                items: list[Any] = part.select(columns).write_ndjson().split("\n")[:-1]
            else:
                values = [s.to_list() for s in part.select(columns).get_columns()]
                items = list(map(_record_maker(tuple(columns)), *values))
            if where is None:
                out = items
            else:
                for position, item in zip(part["_pos"].to_list(), items, strict=True):
                    out[position] = item
        broken = np.flatnonzero(chunk[_MALFORMED].to_numpy())
        if broken.size:
            kinds = chunk[_MALFORMED].to_numpy()[broken]
            fields = chunk[_FIELD].to_numpy()[broken]
            for position, kind, which in zip(broken, kinds, fields, strict=True):
                record = orjson.loads(out[position]) if text else out[position]
                out[position] = break_record(record, MALFORMED_KINDS[kind - 1], int(which), text)
        return out


@functools.cache
def _record_maker(columns: tuple[str, ...]) -> Callable[..., dict[str, Any]]:
    """A function building one record from its column values.

    A dict display compiled for the columns builds records about half again as fast as
    ``dict(zip(...))`` (no tuple per row, no key iteration), as namedtuple does for its class.
    """
    names = [f"v{i}" for i in range(len(columns))]
    body = ", ".join(f"{column!r}: {name}" for column, name in zip(columns, names, strict=True))
    return eval(f"lambda {', '.join(names)}: {{{body}}}")


def _seconds_to_datetime(seconds: pl.Expr) -> pl.Expr:
    return (seconds * 1000).round().cast(pl.Int64).cast(pl.Datetime("ms", "UTC"))


def seconds_as_datetime(seconds: np.ndarray) -> pl.Series:
    """Epoch seconds as a UTC datetime column with millisecond precision."""
    return pl.Series(np.round(seconds * 1000).astype(np.int64)).cast(pl.Datetime("ms", "UTC"))


def seconds_as_text(seconds: np.ndarray, fmt: str) -> pl.Series:
    """Epoch seconds as UTC wall-clock text to the second, e.g. ``"%Y-%m-%d %H:%M:%S"``.

    Many events share a second, so each distinct second is formatted once and looked up.

    >>> seconds_as_text(np.array([0.5, 61.0, 0.9]), "%H:%M:%S").to_list()
    ['00:00:00', '00:01:01', '00:00:00']
    """
    whole = np.floor(seconds).astype(np.int64)
    if not whole.size:
        return pl.Series([], dtype=pl.String)
    first = int(whole.min())
    span = int(whole.max()) - first + 1
    if span > whole.size:
        return pl.Series(whole * 1000).cast(pl.Datetime("ms")).dt.strftime(fmt)
    table = pl.Series(np.arange(first, first + span) * 1000).cast(pl.Datetime("ms"))
    return table.dt.strftime(fmt).gather(whole - first)


def break_record(record: dict[str, Any], kind: str, which: int, text: bool) -> Any:
    """A record broken in one way; ``which`` picks the field or the kind of bad JSON.

    >>> break_record({"a": 1, "b": "x"}, "wrong_type", 0, text=False)
    {'a': '1', 'b': 'x'}
    >>> break_record({"a": 1, "b": "x"}, "missing_field", 1, text=True)
    '{"a":1}'
    >>> break_record({"a": 1}, "bad_json", 2, text=False)
    '{"a":1,}'
    """
    if kind == "bad_json":
        good = orjson.dumps(record).decode()
        return [good[: max(len(good) // 2, 1)], good.replace('"', "'"), good[:-1] + ",}"][which % 3]
    key = list(record)[which % len(record)]
    broken = dict(record)
    if kind == "missing_field":
        del broken[key]
    else:
        broken[key] = _wrong_type(broken[key])
    return orjson.dumps(broken).decode() if text else broken


def _wrong_type(value: Any) -> Any:
    if isinstance(value, str):
        return int(value) if value.isdigit() else len(value)
    if value is None:
        return []
    return str(value)


class Weighted:
    """Draws indices 0..len(weights)-1 in proportion to ``weights``, fast and exactly.

    A guide table sends each draw to the right neighbourhood of the CDF and a short vectorised
    walk finishes it, which beats a binary search per draw (``Generator.choice`` does that).

    >>> table = Weighted(np.array([1.0, 0.0, 3.0]))
    >>> np.bincount(table.sample(np.random.default_rng(0), 4000), minlength=3)[1]
    np.int64(0)
    """

    def __init__(self, weights: np.ndarray) -> None:
        cdf = np.cumsum(np.asarray(weights, dtype=float))
        self._cdf = cdf / cdf[-1]
        self._buckets = max(4 * len(cdf), 1024)
        starts = np.arange(self._buckets) / self._buckets
        self._guide = np.searchsorted(self._cdf, starts, side="right")

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        u = rng.random(count)
        picks = self._guide[(u * self._buckets).astype(np.int64)]
        behind = np.flatnonzero(self._cdf[picks] <= u)
        while behind.size:
            picks[behind] += 1
            behind = behind[self._cdf[picks[behind]] <= u[behind]]
        return picks


def zipf_weights(count: int, exponent: float) -> np.ndarray:
    """Popularity of ranks 1..count falling as rank**-exponent (a few dominate)."""
    return 1.0 / np.arange(1, count + 1, dtype=float) ** exponent
