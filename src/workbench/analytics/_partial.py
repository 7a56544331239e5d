"""Partial aggregates per pane: a window query's records pre-aggregated as they arrive.

When the per-window aggregate of a query is made of ``COUNT(*)``, ``COUNT(c)``, ``SUM(c)`` of
integers or decimals, ``MIN(c)`` and ``MAX(c)`` over plain columns, grouped by the window and
plain columns, the on-time records of one pane (see ``FixedWindows.pane``: every record of a
pane belongs to the same windows) and one group fold into one row of partial aggregates as soon
as they arrive. An open window then holds a few rows per pane and group instead of every record,
and a hopping window's records are not repeated once per window. The answer is exact: counts,
integer sums, minima and maxima combine exactly (a floating-point sum would not, so it keeps
the records). Any other shape (DISTINCT, FILTER, a WHERE, quantiles, ...) keeps the records too.

The query is read from DuckDB's own parse tree (``json_serialize_sql``), and the rewritten
query must give the same columns and types as the original, or it is not used.

>>> import pyarrow as pa
>>> rows = pa.table({"k": pa.array([], pa.string()), "x": pa.array([], pa.int64())})
>>> plan = plan_partials("SELECT window_start, window_end, k, COUNT(*) AS n, MAX(x) AS top "
...     "FROM __windowed GROUP BY window_start, window_end, k", "__windowed", rows, 1000)
>>> plan.pre.split(" AS __ts, ")[1]  # records fold per pane (a second here) and key
'"k", count(*) AS "__a0", max("x") AS "__a1" FROM __rows GROUP BY ALL'
>>> plan.final.split(" FROM ")[0]
'SELECT window_start, window_end, k, CAST(sum("__a0") AS BIGINT) AS n, max("__a1") AS top'
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from workbench._sql import identifier
from workbench.analytics._duckdb import connection
from workbench.analytics._time import ms_to_timestamps

_WINDOW = {"window_start", "window_end", "window_time"}
# How a partial aggregate of the records combines into the window's: (partial, final).
_COMBINE = {
    "count_star": ("count(*)", 'CAST(sum("{p}") AS BIGINT)'),
    "count": ("count({c})", 'CAST(sum("{p}") AS BIGINT)'),
    "sum": ("sum({c})", 'sum("{p}")'),
    "min": ("min({c})", 'min("{p}")'),
    "max": ("max({c})", 'max("{p}")'),
}


class _NotPartial(Exception):
    """The query's shape does not fold into partial aggregates."""


@dataclass(frozen=True)
class PartialPlan:
    """``pre`` folds records (``__rows`` with ``__ts``) into partial rows whose ``__ts`` is
    their pane's start; ``final`` is the query over partial rows in place of records."""

    pre: str
    final: str


def _nodes(tree: Any) -> Iterator[dict]:
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from _nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _nodes(value)


@functools.cache
def _aggregate_names() -> frozenset[str]:
    """DuckDB's aggregate functions: listing them costs ~20 ms, and they are the same for
    every query of the process."""
    found = connection().sql("SELECT DISTINCT function_name FROM duckdb_functions() "
                             "WHERE function_type = 'aggregate'").fetchall()  # fmt: skip
    return frozenset(name for (name,) in found)


class _Rewriter:
    """Walks the aggregating SELECT over the window relation and collects the rewrite."""

    def __init__(self, rows: pa.Table, groups: set[str], aggregates: frozenset[str]) -> None:
        self.rows = rows
        self.groups = groups
        self.aggregates = aggregates
        self.partials: list[str] = []
        self.spans: list[tuple[int, int, str]] = []

    def expression(self, node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                self.expression(item)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("class")
        if kind == "COLUMN_REF":
            if node["column_names"][-1].lower() not in self.groups:
                raise _NotPartial("a column outside an aggregate that is not a group key")
            return
        if kind in ("SUBQUERY", "WINDOW", "STAR", "LAMBDA"):
            raise _NotPartial(kind)
        if kind == "FUNCTION" and node["function_name"].lower() in self.aggregates:
            self.aggregate(node)
            return
        for value in node.values():
            self.expression(value)

    def aggregate(self, node: dict) -> None:
        name = node["function_name"].lower()
        args = [a["expression"] for a in node.get("arguments", [])]
        plain = not node.get("distinct") and node.get("filter") is None
        if name not in _COMBINE or not plain or node.get("order_bys", {}).get("orders"):
            raise _NotPartial(f"the aggregate {name}")
        column = None
        if name != "count_star":
            if len(args) != 1 or args[0].get("class") != "COLUMN_REF":
                raise _NotPartial(f"{name} of an expression")
            column = args[0]["column_names"][-1]
            if column not in self.rows.column_names:
                raise _NotPartial(f"{column} is not a column of the records")
            kind = self.rows.schema.field(column).type
            if name == "sum" and not (pa.types.is_integer(kind) or pa.types.is_decimal(kind)):
                raise _NotPartial("a sum that is not of integers or decimals")
        partial_sql, final_sql = _COMBINE[name]
        label = f"__a{len(self.partials)}"
        self.partials.append(f'{partial_sql.format(c=identifier(column or ""))} AS "{label}"')
        start = node["query_location"]
        self.spans.append((start, start + node["query_location_length"], final_sql.format(p=label)))


def plan_partials(sql: str, relation: str, rows: pa.Table, pane: int) -> PartialPlan | None:
    """The partial-aggregate plan of ``sql`` over records shaped as ``rows`` (no window
    columns), or None when its shape does not allow one."""
    if not sql.isascii():  # parse-tree locations are positions in the text
        return None
    con = connection()
    try:
        tree = json.loads(con.sql("SELECT json_serialize_sql($1)", params=[sql]).fetchall()[0][0])
        if tree.get("error") or len(tree["statements"]) != 1:
            return None
        reads = [
            n
            for n in _nodes(tree)
            if n.get("type") == "BASE_TABLE" and n.get("table_name", "").lower() == relation
        ]
        if len(reads) != 1:
            return None
        selects = [n for n in _nodes(tree) if n.get("from_table") is reads[0]]
        if len(selects) != 1:
            return None
        plan = _plan(sql, selects[0], rows, pane, _aggregate_names())
        return plan if _same_columns(con, sql, plan, relation, rows) else None
    except (_NotPartial, duckdb.Error, KeyError, TypeError, IndexError, ValueError):
        return None
    finally:
        con.close()


def _plan(
    sql: str, node: dict, rows: pa.Table, pane: int, aggregates: frozenset[str]
) -> PartialPlan:
    if node.get("type") != "SELECT_NODE" or node.get("aggregate_handling") != "STANDARD_HANDLING":
        raise _NotPartial("not a plain GROUP BY")
    if any(node.get(k) is not None for k in ("where_clause", "having", "qualify", "sample")):
        raise _NotPartial("WHERE, HAVING, QUALIFY or SAMPLE")
    groups = node["group_expressions"]
    if any(g.get("class") != "COLUMN_REF" for g in groups) or len(node["group_sets"]) != 1:
        raise _NotPartial("a group that is not a column")
    names = [g["column_names"][-1] for g in groups]
    if not {"window_start", "window_end"} <= {n.lower() for n in names}:
        raise _NotPartial("not grouped per window")
    keys = [n for n in names if n.lower() not in _WINDOW]
    if any(k not in rows.column_names for k in keys):
        raise _NotPartial("a group key that is not a column of the records")
    rewriter = _Rewriter(rows, {n.lower() for n in names}, aggregates)
    rewriter.expression(node["select_list"])
    rewriter.expression(node.get("modifiers", []))
    if not rewriter.partials:
        raise _NotPartial("no aggregate")
    final = sql
    for start, end, text in sorted(rewriter.spans, reverse=True):
        final = final[:start] + text + final[end:]
    pane_start = f"(__ts - ((__ts % {pane}) + {pane}) % {pane})"
    columns = ", ".join([f"{pane_start} AS __ts", *map(identifier, keys), *rewriter.partials])
    return PartialPlan(f"SELECT {columns} FROM __rows GROUP BY ALL", final)


def _same_columns(
    con: duckdb.DuckDBPyConnection, sql: str, plan: PartialPlan, relation: str, rows: pa.Table
) -> bool:
    """Whether the rewritten query answers with the original's columns and types."""
    stamps = ms_to_timestamps(pa.array([], pa.int64()).to_numpy())

    def windowed(table: pa.Table) -> pa.Table:
        for column in ("window_start", "window_end", "window_time"):
            table = table.append_column(column, stamps)
        return table

    records = rows.append_column("__ts", pa.array([], pa.int64()))
    con.register("__rows", records)
    partial = con.sql(plan.pre).to_arrow_table().drop_columns(["__ts"])
    con.register(relation, windowed(rows))
    original = con.sql(sql).to_arrow_table().schema
    con.unregister(relation)
    con.register(relation, windowed(partial))
    rewritten = con.sql(plan.final).to_arrow_table().schema
    return original.equals(rewritten)
