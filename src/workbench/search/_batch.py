"""A bulk batch on its way into an index: its documents as rows of the index's typed columns.

Each mapped field becomes a column of its type. When every value in the batch already has its
field's type (numbers in numeric fields, strings in text fields, ``...T...Z`` text in date
fields, as producers such as the lab's send them), the columns are built straight from the
parsed documents. Otherwise DuckDB converts the batch's JSON (``from_json`` and ``TRY_CAST``):
text holding a number fits a numeric field, a decimal given to a long keeps its integer part,
dates may also be epoch milliseconds or carry an offset, and a value that does not convert
refuses its document. Both ways give the same rows for what the first accepts; it exists
because DuckDB's JSON parsing was most of a bulk request's time.

>>> import duckdb
>>> batch = Batch(["a", "b"], [{"Quantity": 2, "Country": "France"}, {"Quantity": "many"}])
>>> fields = {"Quantity": "long", "Country": "text"}
>>> batch.converted(duckdb.connect(), fields).select("_id", "Quantity", "__refused").rows()
[('a', 2, None), ('b', None, 'failed to parse field [Quantity] of type [long]')]
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat

import duckdb
import orjson
import polars as pl
import pyarrow as pa

from workbench._sql import identifier, literal

# The date form a typed column is built from directly (``strict_date_optional_time`` in UTC,
# whole seconds): what the lab's function writes. Other forms go through DuckDB.
_PLAIN_DATE = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
_NO_VALUE = type(None)
# Each field type's column, and the Python types its values may have where polars' strict
# construction takes more (booleans as numbers); boolean and string columns refuse every other
# type themselves, so their values are not looked at one by one.
_TYPED: dict[str, tuple[set[type] | None, pl.DataType]] = {
    "long": ({int, _NO_VALUE}, pl.Int64()),
    "double": ({int, float, _NO_VALUE}, pl.Float64()),
    "boolean": (None, pl.Boolean()),
    "text": (None, pl.String()),
    "keyword": (None, pl.String()),
    "date": (None, pl.String()),
}


class _NotTyped(Exception):
    """A value in the batch that needs DuckDB's conversion."""


class Batch:
    """Documents to index, with their ``_id``; each document's JSON text is its ``_source``."""

    def __init__(self, ids: list[str], documents: list[dict]) -> None:
        self.ids = ids
        self.documents = documents

    def converted(self, con: duckdb.DuckDBPyConnection, fields: dict[str, str]) -> pl.DataFrame:
        """``__n`` (the document's number in the batch), ``_id``, ``_source``, one column per
        field, and ``__refused``: why the document does not fit the mapping, or null."""
        try:
            typed = {field: self._typed(field, field_type) for field, field_type in fields.items()}
        except _NotTyped:
            return self.converted_by_duckdb(con, fields)
        refused = pl.Series("__refused", [None] * len(self.ids), dtype=pl.String)
        return pl.DataFrame([*self._columns(), *typed.values(), refused])

    def _columns(self) -> list[pl.Series]:
        # Through polars: pyarrow's own constructors import pandas on first use (a third of a
        # second, paid by the first bulk request) and build these columns more slowly.
        # Each step a builtin mapped over the batch: no Python bytecode runs per document.
        sources = list(map(bytes.decode, map(orjson.dumps, self.documents)))
        return [
            pl.Series("__n", range(len(self.ids)), dtype=pl.Int64),
            pl.Series("_id", self.ids, dtype=pl.String),
            pl.Series("_source", sources, dtype=pl.String),
        ]

    def _typed(self, field: str, field_type: str) -> pl.Series:
        if "." in field:
            values = [_value(d, field) for d in self.documents]
        else:
            values = list(map(dict.get, self.documents, repeat(field)))
        allowed, dtype = _TYPED[field_type]
        if allowed is not None and not allowed.issuperset(map(type, values)):
            raise _NotTyped(field)
        try:
            series = pl.Series(field, values, dtype=dtype, strict=True)
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            raise _NotTyped(field) from None
        if field_type == "date":
            if not series.drop_nulls().str.contains(_PLAIN_DATE).all():
                raise _NotTyped(field)
            try:
                series = series.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%SZ")
            except pl.exceptions.PolarsError:  # a day that no month has, an hour 24...
                raise _NotTyped(field) from None
        return series

    def converted_by_duckdb(
        self, con: duckdb.DuckDBPyConnection, fields: dict[str, str]
    ) -> pl.DataFrame:
        """:meth:`converted`, always through DuckDB's conversion of the JSON text."""
        batch = for_duckdb(pl.DataFrame(self._columns()))  # noqa: F841 (read by DuckDB)
        converted = [f"{_convert(f, t)} AS {identifier(f)}" for f, t in fields.items()]
        checks = [
            f"CASE WHEN {_raw(f)} IS NOT NULL AND {identifier(f)} IS NULL THEN "
            f"'failed to parse field [' || {literal(f)} || '] of type [{t}]' END"
            for f, t in fields.items()
        ]
        refused = f"COALESCE({', '.join(checks)})" if checks else "NULL"
        # Documents with no mapped field yet (e.g. only nulls) have no structure to extract.
        shape = orjson.dumps(_json_shape(fields)).decode()
        parsed = f"from_json(_source, {literal(shape)})" if fields else "NULL"
        names = "".join(f", {identifier(f)}" for f in fields)
        return con.sql(
            f"SELECT __n, _id, _source{names}, {refused}::VARCHAR AS __refused FROM "
            f"(SELECT {', '.join(['*', *converted])} FROM "
            f"(SELECT *, {parsed} AS __json FROM batch)) ORDER BY __n"
        ).pl()


def for_duckdb(frame: pl.DataFrame) -> pa.Table:
    """A frame as Arrow for DuckDB to read: with Arrow's string views, zero-copy (DuckDB's own
    reading of a polars frame converts every string column first, which took longer than
    inserting the rows)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def _value(document: dict, path: str) -> object:
    """A dotted field's value in a document; an object on the way that is something else
    (a string where ``a`` of ``a.b`` should be an object) is left to DuckDB."""
    value: object = document
    for part in path.split("."):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _NotTyped(path)
        value = value.get(part)
    return value


def _json_shape(fields: dict[str, str]) -> dict:
    """The structure ``from_json`` extracts: every mapped field as text, nested as in _source."""
    shape: dict = {}
    for field in fields:
        *parents, leaf = field.split(".")
        level = shape
        for parent in parents:
            level = level.setdefault(parent, {})
        level[leaf] = "VARCHAR"
    return shape


def _raw(field: str) -> str:
    return "__json." + ".".join(identifier(part) for part in field.split("."))


_CONVERSIONS: dict[str, Callable[[str], str]] = {
    # OpenSearch keeps the integer part of a decimal given to a long; whole numbers are read
    # as integers, exactly also beyond a double's 53 bits.
    "long": lambda raw: (
        f"CASE WHEN regexp_full_match({raw}, '-?[0-9]+') THEN TRY_CAST({raw} AS BIGINT) "
        f"ELSE CAST(trunc(TRY_CAST({raw} AS DOUBLE)) AS BIGINT) END"
    ),
    "double": lambda raw: f"TRY_CAST({raw} AS DOUBLE)",
    "boolean": lambda raw: f"CASE lower({raw}) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END",
    # ISO text, or epoch milliseconds as OpenSearch also accepts.
    "date": lambda raw: (
        f"COALESCE(TRY_CAST({raw} AS TIMESTAMPTZ) AT TIME ZONE 'UTC', "
        f"make_timestamp(TRY_CAST({raw} AS BIGINT) * 1000))"
    ),
}


def _convert(field: str, field_type: str) -> str:
    """SQL turning a field's JSON text into its column's type; NULL when it does not fit."""
    raw = _raw(field)
    return _CONVERSIONS.get(field_type, lambda raw: raw)(raw)
