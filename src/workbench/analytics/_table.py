"""A source table: a source of records, how to read them, and the watermark declared on them.

Flink declares the watermark on the table (``WATERMARK FOR ts AS ts - INTERVAL '5' SECOND``);
so does this. Records that are JSON documents (the ``data`` column of a data stream) are turned
into typed columns by DuckDB over the whole batch: each field is taken as text by
``json_extract_string`` and CAST to its type (so a field reads as its text would in SQL: 12.5 into
BIGINT is 13), nested types by ``json_transform`` of the field's JSON. A mistyped field reads as
null, a missing one too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.sqltypes import DuckDBPyType

from workbench._sql import identifier, literal
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
        self._types = _duckdb_types(self.schema) if self.schema else None
        self._readers: dict[frozenset[str] | None, _JsonReader] = {}

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
        if self._types is not None and "data" in batch.column_names:
            reader = self._reader_of(fields)
            batch, text, errors = self._parse_json(batch, reader)
            if not reader.whole:
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

    def _reader_of(self, fields: frozenset[str] | None) -> _JsonReader:
        """The reader of ``fields`` (and the event time; None: all of the schema). A JSON
        document is parsed whole either way, but fewer fields are converted and kept."""
        assert self._types is not None
        if fields not in self._readers:
            keep = {
                k: t
                for k, t in self._types.items()
                if fields is None or k in fields or k == self.event_time
            }
            self._readers[fields] = _JsonReader.of(keep, whole=len(keep) == len(self._types))
        return self._readers[fields]

    def _parse_json(
        self, batch: pa.Table, reader: _JsonReader
    ) -> tuple[pa.Table, pa.Array | pa.ChunkedArray, pa.Table | None]:
        """(rows, the text of each row's record, unreadable records)."""
        data = batch["data"]
        text = pc.cast(data, pa.string(), safe=False) if not pa.types.is_string(data.type) else data
        self._con.register("records", pa.table({"data": text}))
        try:
            # The strict reader is the faster; it fails the whole batch on any bad record.
            return self._con.sql(reader.strict).to_arrow_table(), text, None
        except duckdb.Error:
            # Some record is not JSON or has a field of another type: split the batch so the
            # readable ones go on (a mistyped field reads as null).
            valid = self._con.sql("SELECT json_valid(data) FROM records").to_arrow_table()
            ok = valid.column(0).fill_null(False)
            text = text.filter(ok)
            self._con.register("records", pa.table({"data": text}))
            rows = self._con.sql(reader.careful).to_arrow_table()
            return rows, text, _unreadable(batch.filter(pc.invert(ok)), "not a JSON object")
        finally:
            self._con.unregister("records")


_NESTED = frozenset({"struct", "list", "map", "array", "union"})


def _duckdb_types(schema: dict[str, str]) -> dict[str, DuckDBPyType]:
    types = {}
    for name, kind in schema.items():
        try:
            types[name] = duckdb.sqltype(kind)
        except duckdb.Error as error:
            raise ValidationException(
                f"field {name!r} has type {kind!r}, which is not a DuckDB type ({error})"
            ) from None
    return types


@dataclass(frozen=True)
class _JsonReader:
    """Two statements over a ``records`` table of JSON text, giving a column per field.

    ``strict`` fails on a record that is not JSON or a field its type cannot hold; ``careful``
    (for records known to be JSON) reads such a field as null. ``whole``: every field of the
    schema is read.
    """

    strict: str
    careful: str
    whole: bool

    @classmethod
    def of(cls, types: dict[str, DuckDBPyType], whole: bool) -> _JsonReader:
        # DuckDB's json_extract over a list of paths parses each document once for them all;
        # JSON Pointers ("/name", ~ and / escaped) take any field name as it is. Reading text and
        # casting it beat json_transform on flat records by about a tenth; json_transform still
        # reads nested values, whose rules (unknown keys ignored) a CAST of JSON does not share.
        flat = [k for k, t in types.items() if t.id not in _NESTED and str(t) != "JSON"]
        nested = [k for k in types if k not in flat]

        def paths(names: list[str]) -> str:
            pointers = ("/" + n.replace("~", "~0").replace("/", "~1") for n in names)
            return "[" + ", ".join(literal(p) for p in pointers) + "]"

        def statement(cast: str, transform: str) -> str:
            columns = []
            for name, kind in types.items():
                if name in flat:
                    value = f"{cast}(__text[{flat.index(name) + 1}] AS {kind})"
                else:
                    spec = literal(orjson.dumps(str(kind)).decode())
                    value = f"{transform}(__json[{nested.index(name) + 1}], {spec})"
                columns.append(f"{value} AS {identifier(name)}")
            taken = [f"json_extract_string(data, {paths(flat)}) AS __text"] if flat else []
            taken += [f"json_extract(data, {paths(nested)}) AS __json"] if nested else []
            return f"SELECT {', '.join(columns)} FROM (SELECT {', '.join(taken)} FROM records)"

        return cls(
            strict=statement("CAST", "json_transform_strict"),
            careful=statement("TRY_CAST", "json_transform"),
            whole=whole,
        )


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
