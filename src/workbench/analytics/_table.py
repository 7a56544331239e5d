"""A source table: a source of records, how to read them, and the watermark declared on them.

Flink declares the watermark on the table (``WATERMARK FOR ts AS ts - INTERVAL '5' SECOND``);
so does this. Records that are JSON documents (the ``data`` column of a data stream) are turned
into typed columns by DuckDB's ``json_transform`` over the whole batch, the fastest reader here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from workbench.analytics._duckdb import connection
from workbench.analytics._sources import Source
from workbench.analytics._time import event_time_ms, ms_to_timestamps
from workbench.errors import ValidationException

TS = "__ts"
# The record text beside rows decoded for some fields only: late and error outputs show records
# whole.
RAW = "__raw"


@dataclass
class EventTable:
    """Records of ``source`` with an event-time column and a bounded out-of-orderness.

    ``schema`` maps JSON field names to DuckDB types when records arrive as JSON bytes in a
    ``data`` column (as from a data stream); without it the source's columns are used as they are.
    """

    name: str
    source: Source
    event_time: str
    watermark_delay: int = 0
    schema: dict[str, str] | None = None
    time_format: str | None = None
    _con: duckdb.DuckDBPyConnection = field(default_factory=connection, repr=False)

    def __post_init__(self) -> None:
        if self.watermark_delay < 0:
            raise ValidationException("a watermark delay must not be negative")
        if self.schema is not None and self.event_time not in self.schema:
            raise ValidationException(
                f"the event-time column {self.event_time!r} is not in the schema "
                f"{sorted(self.schema)}"
            )
        self._spec = orjson.dumps(self.schema).decode() if self.schema else None
        self._specs: dict[frozenset[str], str] = {}

    def __repr__(self) -> str:
        return (
            f"EventTable({self.name!r}, event_time={self.event_time!r}, "
            f"watermark='{self.watermark_delay}ms')"
        )

    def decode(
        self, batch: pa.Table, fields: frozenset[str] | None = None
    ) -> tuple[pa.Table, np.ndarray, pa.Table | None]:
        """(typed rows with the event time as TIMESTAMP(3), its epoch ms, unreadable records).

        ``fields`` names the JSON fields a query reads (None: all of the schema); the others are
        not decoded, and each row then carries its record's text in :data:`RAW`.
        """
        errors = None
        if self._spec is not None and "data" in batch.column_names:
            spec = self._spec_of(fields)
            batch, text, errors = self._parse_json(batch, spec)
            if spec != self._spec:
                batch = batch.append_column(RAW, text)
        if self.event_time not in batch.column_names:
            raise ValidationException(
                f"records of table {self.name!r} have no event-time column {self.event_time!r}; "
                f"columns: {batch.column_names}"
            )
        column = batch[self.event_time]
        if column.null_count:
            missing = pc.is_null(column)
            errors = _concat(errors, _unreadable(batch.filter(missing), "no event time"))
            batch = batch.filter(pc.invert(missing))
            column = batch[self.event_time]
        ts = event_time_ms(column, self.time_format)
        index = batch.column_names.index(self.event_time)
        return batch.set_column(index, self.event_time, ms_to_timestamps(ts)), ts, errors

    def _spec_of(self, fields: frozenset[str] | None) -> str:
        """The json_transform spec of ``fields`` (and the event time): a JSON document is read
        whole either way, but fewer fields are converted and kept."""
        assert self.schema is not None and self._spec is not None
        if fields is None:
            return self._spec
        if fields not in self._specs:
            keep = {k: t for k, t in self.schema.items() if k in fields or k == self.event_time}
            same = len(keep) == len(self.schema)
            self._specs[fields] = self._spec if same else orjson.dumps(keep).decode()
        return self._specs[fields]

    def _parse_json(
        self, batch: pa.Table, spec: str
    ) -> tuple[pa.Table, pa.Array | pa.ChunkedArray, pa.Table | None]:
        """(rows, the text of each row's record, unreadable records)."""
        data = batch["data"]
        text = pc.cast(data, pa.string(), safe=False) if not pa.types.is_string(data.type) else data
        select = "SELECT unnest(READER(data, '" + spec + "')) FROM records"
        self._con.register("records", pa.table({"data": text}))
        try:
            # Strict is the faster reader; it fails the whole batch on any bad record.
            strict = select.replace("READER", "json_transform_strict")
            return self._con.sql(strict).to_arrow_table(), text, None
        except duckdb.Error:
            # Some record is not JSON or has a field of another type: split the batch so the
            # readable ones go on (a mistyped field reads as null).
            valid = self._con.sql("SELECT json_valid(data) FROM records").to_arrow_table()
            ok = valid.column(0).fill_null(False)
            text = text.filter(ok)
            self._con.register("records", pa.table({"data": text}))
            rows = self._con.sql(select.replace("READER", "json_transform")).to_arrow_table()
            return rows, text, _unreadable(batch.filter(pc.invert(ok)), "not a JSON object")
        finally:
            self._con.unregister("records")


def _unreadable(rows: pa.Table, reason: str) -> pa.Table:
    """Records that cannot take part, kept as text with the reason (an error output)."""
    if "data" in rows.column_names:
        text = pc.cast(rows["data"], pa.string())
    elif RAW in rows.column_names:
        text = rows[RAW]
    else:
        text = pa.array([orjson.dumps(r, default=str).decode() for r in rows.to_pylist()])
    return pa.table({"record": text, "reason": pa.array([reason] * rows.num_rows, pa.string())})


def _concat(first: pa.Table | None, second: pa.Table) -> pa.Table:
    return second if first is None else pa.concat_tables([first, second])
