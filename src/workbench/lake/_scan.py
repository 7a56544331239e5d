"""How a catalog table becomes a DuckDB relation: its partitions, pruned, then its objects read.

A JSON table is read with ``read_json`` given the declared column types and
``case_insensitive_keys`` (the OpenX SerDe's behaviour: ``Customer_ID`` fills ``customer_id``);
a Parquet table with ``read_parquet``. Partition values come from Hive-style ``key=value``
folders when a partition's location has them (the usual case, and what MSCK REPAIR finds), read
with the declared types so ``month=03`` is the int 3; a partition elsewhere gets its values as
constants. Files whose name starts with ``_`` or ``.`` are skipped, as Hive does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from sqlglot import exp

from workbench._sql import identifier, literal
from workbench.lake._catalog import Partition, Table
from workbench.lake._lake import ObjectInfo
from workbench.lake._sql_dialect import duckdb_type, to_duckdb

_LIST_EACH_UP_TO = 16


@dataclass(frozen=True)
class Scan:
    """A SELECT over the table's objects, and which objects (and bytes) it reads."""

    sql: str
    uris: tuple[str, ...]
    bytes: int


def folder(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def _hidden(relative_key: str) -> bool:
    return any(part[:1] in ("_", ".") for part in relative_key.split("/"))


def list_objects(lake, table: Table, partitions: Sequence[Partition]) -> dict[int, list]:
    """Objects of each partition (by index), or of the whole table under key -1."""
    if not table.partition_keys:
        root = folder(table.location)
        return {-1: [o for o in lake.list(root) if not _hidden(o.uri[len(root) :])]}
    root = folder(table.location)
    by_location: dict[str, int] = {}
    for index, partition in enumerate(partitions):
        by_location.setdefault(folder(partition.location), index)
    found: dict[int, list] = {i: [] for i in range(len(partitions))}
    # A few partitions (a pruned query) are listed one by one; many, with one listing of the
    # table's folder, which is cheaper than a listing per partition on S3 and on disk.
    if len(by_location) <= _LIST_EACH_UP_TO:
        listed = [o for location in by_location for o in lake.list(location)]
    else:
        listed = lake.list(root) if any(loc.startswith(root) for loc in by_location) else []
        for location in by_location:
            if not location.startswith(root):
                listed.extend(lake.list(location))
    unique = {o.uri: o for o in listed}  # nested partition folders list some objects twice
    for obj in unique.values():
        parts = obj.uri.split("/")
        for cut in range(len(parts) - 1, 2, -1):
            prefix = "/".join(parts[:cut]) + "/"
            index = by_location.get(prefix)
            if index is not None:
                if not _hidden(obj.uri[len(prefix) :]):
                    found[index].append(obj)
                break
    return found


def _hive_values(location: str) -> dict[str, str]:
    values = {}
    for part in location.split("/"):
        key, sep, value = part.partition("=")
        if sep:
            values[key.lower()] = value
    return values


def _same_value(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return int(a) == int(b)
    except ValueError:
        return False


def _in_hive_folder(table: Table, partition: Partition) -> bool:
    found = _hive_values(partition.location)
    return all(
        key.name in found and _same_value(found[key.name], value)
        for key, value in zip(table.partition_keys, partition.values, strict=True)
    )


def _struct(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in pairs) + "}"


def _reader(table: Table, files: Sequence[str], hive: bool) -> str:
    files = "[" + ", ".join(literal(f) for f in files) + "]"
    hive_args = ""
    if hive and table.partition_keys:
        types = _struct([(k.name, duckdb_type(k.type)) for k in table.partition_keys])
        hive_args = f", hive_partitioning=true, hive_types={types}"
    else:
        hive_args = ", hive_partitioning=false"
    if table.format == "json":
        options = table.serde_properties
        columns = [
            (options.get(f"mapping.{c.name}", c.name), duckdb_type(c.type)) for c in table.columns
        ]
        insensitive = options.get("case.insensitive", "true").lower() != "false"
        ignore = options.get("ignore.malformed.json", "false").lower() == "true"
        return (
            f"read_json({files}, format='newline_delimited', columns={_struct(columns)}, "
            f"case_insensitive_keys={str(insensitive).lower()}, "
            f"ignore_errors={str(ignore).lower()}{hive_args})"
        )
    return f"read_parquet({files}, union_by_name=true{hive_args})"


def _select_list(table: Table, constants: Sequence[str] | None) -> str:
    items = []
    for column in table.columns:
        source = column.name
        if table.format == "json":
            source = table.serde_properties.get(f"mapping.{column.name}", column.name)
        items.append(
            f"CAST({identifier(source)} AS {duckdb_type(column.type)}) AS {identifier(column.name)}"
        )
    for i, key in enumerate(table.partition_keys):
        source = identifier(key.name) if constants is None else literal(constants[i])
        items.append(f"CAST({source} AS {duckdb_type(key.type)}) AS {identifier(key.name)}")
    return ", ".join(items)


def _empty(table: Table) -> str:
    items = [
        f"CAST(NULL AS {duckdb_type(c.type)}) AS {identifier(c.name)}" for c in table.all_columns
    ]
    return f"SELECT {', '.join(items)} WHERE false"


def whole_object(obj: ObjectInfo) -> int:
    """The bytes a read of the whole object scans: its size."""
    return obj.size


def build_scan(
    table: Table,
    partitions: Sequence[Partition],
    objects: dict[int, list],
    locate: Callable[[str], str] = str,
    measure: Callable[[ObjectInfo], int] = whole_object,
) -> Scan:
    """The SELECT that reads ``table`` restricted to ``partitions`` (objects from list_objects);
    ``locate`` turns an object's URI into what DuckDB reads (see ``LakeFiles.path``), ``measure``
    gives the bytes the read scans in an object (all of it, unless told otherwise)."""
    parts: list[str] = []
    uris: list[str] = []
    size = 0
    if not table.partition_keys:
        found = objects.get(-1, [])
        if found:
            reader = _reader(table, [locate(o.uri) for o in found], False)
            parts.append(f"SELECT {_select_list(table, None)} FROM {reader}")
    else:
        hive_files = []
        for index, partition in enumerate(partitions):
            found = objects.get(index, [])
            if not found:
                continue
            if _in_hive_folder(table, partition):
                hive_files.extend(locate(o.uri) for o in found)
            else:
                reader = _reader(table, [locate(o.uri) for o in found], False)
                parts.append(f"SELECT {_select_list(table, partition.values)} FROM {reader}")
        if hive_files:
            reader = _reader(table, hive_files, True)
            parts.insert(0, f"SELECT {_select_list(table, None)} FROM {reader}")
    for found in objects.values():
        uris.extend(o.uri for o in found)
        size += sum(measure(o) for o in found)
    sql = " UNION ALL ".join(parts) if parts else _empty(table)
    return Scan(sql, tuple(uris), size)


def prune(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    partitions: Sequence[Partition],
    conditions: Sequence[exp.Expression],
) -> list[Partition]:
    """The partitions whose key values can satisfy every one of ``conditions``.

    The conditions (from the query's WHERE, naming partition keys only) are evaluated by DuckDB
    on a small table of the partitions' typed values, so any predicate the query can hold
    (=, IN, BETWEEN, OR, functions) prunes. Pruning only narrows the scan: the query still
    applies its whole WHERE, so a condition DuckDB cannot evaluate here prunes nothing.
    """
    if not conditions or not partitions:
        return list(partitions)
    columns = {"__index": pa.array(range(len(partitions)), pa.int64())}
    for i in range(len(table.partition_keys)):
        columns[f"__raw_{i}"] = pa.array([p.values[i] for p in partitions], pa.string())
    con.register("__partitions", pa.table(columns))
    typed = ", ".join(
        f"TRY_CAST(__raw_{i} AS {duckdb_type(k.type)}) AS {identifier(k.name)}"
        for i, k in enumerate(table.partition_keys)
    )
    where = " AND ".join(f"({to_duckdb(_unqualified(c), copy=False)})" for c in conditions)
    try:
        rows = con.execute(
            f"SELECT __index FROM (SELECT __index, {typed} FROM __partitions) WHERE {where}"
        ).fetchall()
    except duckdb.Error:
        return list(partitions)
    finally:
        con.unregister("__partitions")
    return [partitions[r[0]] for r in rows]


def _unqualified(condition: exp.Expression) -> exp.Expression:
    copy = condition.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", None)
        column.set("db", None)
        column.set("catalog", None)
    return copy
