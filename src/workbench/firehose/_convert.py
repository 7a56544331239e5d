"""Record format conversion: JSON records into typed Arrow rows for Parquet, as Firehose's OpenX
JSON deserializer reads them (case-insensitive keys, timestamps in several forms).

The fast path reads a whole batch with pyarrow's JSON reader and casts column by column; a batch
that it cannot read (a malformed record) or a column that does not cast goes value by value
through the same rules, so only the records at fault fail.

>>> import pyarrow as pa
>>> columns = [{"Name": "invoice", "Type": "string"}, {"Name": "quantity", "Type": "int"}]
>>> data = pa.array([b'{"Invoice": "489434", "Quantity": 12}', b'{"Quantity": "many"}'])
>>> table, failures = convert(data, columns, {})
>>> table.to_pylist(), sorted(failures)
([{'invoice': '489434', 'quantity': 12}], [1])
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from workbench.errors import InvalidArgumentException

ERROR_CODE = "DataFormatConversion.MalformedData"
_EPOCH_MS_FROM = 100_000_000_000  # epoch numbers this large are milliseconds (year 5138 in s)
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_SIMPLE_TYPES = {
    "string": pa.string(),
    "varchar": pa.string(),
    "char": pa.string(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("ms"),
    "date": pa.date32(),
}
_TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S.%f",
                      "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S")  # fmt: skip


def arrow_type(glue_type: str) -> pa.DataType:
    """The Arrow type of a Glue / Hive column type (``string``, ``int``, ``decimal(10,2)``...)."""
    name = glue_type.strip().lower()
    base = name.split("(", 1)[0]
    if base in ("varchar", "char"):
        return pa.string()
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name]
    if match := _DECIMAL.match(name):
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    raise InvalidArgumentException(
        f"Column type {glue_type!r} is not supported for conversion; use one of "
        f"{', '.join(_SIMPLE_TYPES)} or decimal(p,s)."
    )


def arrow_schema(columns: list[dict[str, str]]) -> pa.Schema:
    return pa.schema([(c["Name"].lower(), arrow_type(c["Type"])) for c in columns])


def _key_of(options: dict[str, Any]) -> Callable[[str], str]:
    case_insensitive = options.get("CaseInsensitive", True)
    dots = options.get("ConvertDotsInJsonKeysToUnderscores", False)

    def key(name: str) -> str:
        name = name.replace(".", "_") if dots else name
        return name.lower() if case_insensitive else name

    return key


def _sources(columns: list[str], names: list[str], options: dict[str, Any]) -> dict[str, list[str]]:
    """For each column, the JSON keys that feed it (OpenX: case-insensitive unless told)."""
    key = _key_of(options)
    mapping = {c.lower(): k for c, k in (options.get("ColumnToJsonKeyMappings") or {}).items()}
    found: dict[str, list[str]] = {c: [] for c in columns}
    for name in names:
        for column in columns:
            wanted = mapping.get(column)
            if (wanted is not None and name == wanted) or (wanted is None and key(name) == column):
                found[column].append(name)
    return found


def convert(
    data: pa.Array, columns: list[dict[str, str]], options: dict[str, Any]
) -> tuple[pa.Table, dict[int, str]]:
    """Rows of the records that convert, and ``{index: error message}`` of those that fail."""
    schema = arrow_schema(columns)
    fast = _convert_with_duckdb(data, schema, options)
    if fast is not None:
        return fast, {}
    try:
        parsed = _read_batch(data)
    except (pa.ArrowInvalid, ValueError):
        parsed = None
    if parsed is None:
        return _convert_slowly(data, schema, options)
    sources = _sources(schema.names, parsed.column_names, options)
    failed = np.zeros(len(data), dtype=bool)
    messages: dict[int, str] = {}
    arrays = []
    for field in schema:
        names = sources[field.name]
        if not names:
            arrays.append(pa.nulls(len(data), field.type))
            continue
        source = parsed.column(names[0]).combine_chunks()
        for other in names[1:]:
            source = pc.coalesce(source, parsed.column(other).combine_chunks().cast(source.type))
        array, bad = _cast(source, field)
        for i in np.flatnonzero(bad):
            if not failed[i]:
                value = source[int(i)].as_py()
                messages[int(i)] = (
                    f"Column {field.name!r}: cannot convert {value!r} to {field.type}"
                )
        failed |= bad
        arrays.append(array)
    table = pa.Table.from_arrays(arrays, schema=schema)
    if failed.any():
        table = table.filter(pa.array(~failed))
    return table, messages


_DUCK_TYPES = {
    pa.string(): "VARCHAR", pa.int8(): "TINYINT", pa.int16(): "SMALLINT", pa.int32(): "INTEGER",
    pa.int64(): "BIGINT", pa.float32(): "FLOAT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN",
    pa.timestamp("ms"): "TIMESTAMP", pa.date32(): "DATE",
}  # fmt: skip
_duck = threading.local()


def _duck_type(arrow: pa.DataType) -> str:
    if pa.types.is_decimal(arrow):
        return f"DECIMAL({arrow.precision},{arrow.scale})"
    return _DUCK_TYPES[arrow]


def _convert_with_duckdb(
    data: pa.Array, schema: pa.Schema, options: dict[str, Any]
) -> pa.Table | None:
    """The whole batch through DuckDB's strict JSON transform (about twice pyarrow's JSON
    reader), or None when any record needs the general path: its keys are named from the first
    record, and a record without one of them, or with a value that does not cast, makes the
    strict transform refuse the batch."""
    if len(data) == 0:
        return None
    try:
        first = orjson.loads(data[0].as_py())
    except orjson.JSONDecodeError:
        return None
    if not isinstance(first, dict):
        return None
    sources = _sources(schema.names, list(first), options)
    if any(len(keys) != 1 for keys in sources.values()):
        return None
    structure = orjson.dumps({sources[f.name][0]: _duck_type(f.type) for f in schema}).decode()
    connection = getattr(_duck, "connection", None)
    if connection is None:
        connection = _duck.connection = duckdb.connect()
    try:
        connection.register("firehose_records", pa.table({"data": data.cast(pa.string())}))
        result = connection.sql(
            "SELECT unnest(json_transform_strict(data, $structure)) FROM firehose_records",
            params={"structure": structure},
        ).to_arrow_table()
    except (duckdb.Error, pa.ArrowInvalid):
        return None
    finally:
        connection.unregister("firehose_records")
    arrays = [
        result.column(sources[f.name][0]).cast(f.type, safe=not pa.types.is_timestamp(f.type))
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _read_batch(data: pa.Array) -> pa.Table | None:
    if len(data) == 0:
        return None
    lines = pc.binary_join_element_wise(data.cast(pa.binary()), pa.scalar(b""), pa.scalar(b"\n"))
    parsed = pj.read_json(
        io.BytesIO(concat_binary(lines)),
        read_options=pj.ReadOptions(
            block_size=max(1 << 20, 2 * pc.sum(pc.binary_length(lines)).as_py())
        ),
    )
    return parsed if parsed.num_rows == len(data) else None


def concat_binary(array: pa.Array) -> bytes:
    """All values of a binary array back to back, from its data buffer without a copy per value."""
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    if len(array) == 0:
        return b""
    width = np.int64 if pa.types.is_large_binary(array.type) else np.int32
    offsets = np.frombuffer(array.buffers()[1], dtype=width)[
        array.offset : array.offset + len(array) + 1
    ]
    return array.buffers()[2][int(offsets[0]) : int(offsets[-1])].to_pybytes()


def _cast(source: pa.Array, field: pa.Field) -> tuple[pa.Array, np.ndarray]:
    target = field.type
    try:
        if source.type == target:
            return source, np.zeros(len(source), dtype=bool)
        if pa.types.is_timestamp(target) and pa.types.is_string(source.type):
            array = pc.cast(pc.replace_substring_regex(source, "Z$", ""), target)
        elif pa.types.is_timestamp(target) and pa.types.is_integer(source.type):
            millis = pc.if_else(
                pc.greater_equal(pc.abs(source), _EPOCH_MS_FROM), source, pc.multiply(source, 1000)
            )
            array = pc.cast(millis, pa.int64()).cast(target)
        elif pa.types.is_string(target) and not pa.types.is_string(source.type):
            raise pa.ArrowInvalid("values are rendered one by one")
        else:
            array = pc.cast(source, target)
        return array, np.zeros(len(source), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        values = source.to_pylist()
        converter = _converter(target)
        out, bad = [], np.zeros(len(values), dtype=bool)
        for i, value in enumerate(values):
            try:
                out.append(None if value is None else converter(value))
            except (ValueError, TypeError, ArithmeticError):
                out.append(None)
                bad[i] = True
        return pa.array(out, type=target), bad


def _convert_slowly(
    data: pa.Array, schema: pa.Schema, options: dict[str, Any]
) -> tuple[pa.Table, dict[int, str]]:
    converters = {f.name: _converter(f.type) for f in schema}
    rows: list[dict[str, Any]] = []
    messages: dict[int, str] = {}
    for i, raw in enumerate(data.to_pylist()):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            messages[i] = f"The record is not valid JSON: {error}"
            continue
        if not isinstance(record, dict):
            messages[i] = f"The record is a JSON {type(record).__name__}, not an object"
            continue
        sources = _sources(schema.names, list(record), options)
        row: dict[str, Any] = {}
        try:
            for name, keys in sources.items():
                value = next((record[k] for k in keys if record[k] is not None), None)
                try:
                    row[name] = None if value is None else converters[name](value)
                except (ValueError, TypeError, ArithmeticError):
                    raise ValueError(
                        f"Column {name!r}: cannot convert {value!r} to {schema.field(name).type}"
                    ) from None
        except ValueError as error:
            messages[i] = str(error)
            continue
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema), messages


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not an integer")
        return int(value)
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return float(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("not a boolean")


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def to_timestamp(value: Any) -> datetime:
    """A timestamp as OpenX reads it: ``yyyy-MM-dd'T'HH:mm:ss[.S]'Z'``,
    ``yyyy-[M]M-[d]d HH:mm:ss[.S]``, epoch seconds or epoch milliseconds (naive UTC).

    >>> to_timestamp("2010-1-5 07:45:00"), to_timestamp(1262677500000) == to_timestamp(1262677500)
    (datetime.datetime(2010, 1, 5, 7, 45), True)
    """
    if isinstance(value, bool):
        raise TypeError("a boolean is not a timestamp")
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) >= _EPOCH_MS_FROM else value
        return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return to_timestamp(int(text))
    for form in _TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a timestamp")


def _to_date(value: Any) -> date:
    return date.fromisoformat(str(value))


def _to_decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal") from None


def _converter(target: pa.DataType) -> Callable[[Any], Any]:
    if pa.types.is_integer(target):
        return _to_int
    if pa.types.is_floating(target):
        return _to_float
    if pa.types.is_boolean(target):
        return _to_bool
    if pa.types.is_timestamp(target):
        return to_timestamp
    if pa.types.is_date(target):
        return _to_date
    if pa.types.is_decimal(target):
        return _to_decimal
    return _to_string
