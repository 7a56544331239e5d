"""The Flink SQL front end: window TVFs read by a small grammar; DuckDB runs the rest.

Only the window TVF call needs reading (``TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size))`` and
HOP, CUMULATE, SESSION); it becomes the relation ``__windowed`` that holds each row once per
window with ``window_start``, ``window_end`` and ``window_time``. Everything around it (any
aggregate, ``COUNT(DISTINCT ...)``, quantiles, a top-N per window) is DuckDB SQL over the rows of
the windows being made final. A query without a TVF but with an ``OVER (... RANGE INTERVAL ...
PRECEDING)`` is a per-row sliding window. A small grammar rather than a full SQL parser: the TVF
call is the only Flink-specific syntax, and DuckDB reports errors in the rest precisely.

>>> spec = parse_window_sql(
...     "SELECT window_start, SUM(Quantity) FROM TABLE(TUMBLE(TABLE retail, "
...     "DESCRIPTOR(InvoiceDate), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end")
>>> spec.table, spec.time_column, spec.windows.kind, spec.windows.size
('retail', 'InvoiceDate', 'TUMBLE', 60000)
>>> spec.sql
'SELECT window_start, SUM(Quantity) FROM __windowed GROUP BY window_start, window_end'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from workbench.analytics._duckdb import connection
from workbench.analytics._partial import PartialPlan, plan_partials
from workbench.analytics._time import ms_to_timestamps, parse_interval
from workbench.analytics._windows import (
    WINDOW_COLUMNS,
    FixedWindows,
    Windows,
    cumulate,
    hop,
    session,
    sliding,
    tumble,
)
from workbench.errors import ValidationException

WINDOWED = "__windowed"
_TVF = re.compile(r"\bTABLE\s*\(\s*(TUMBLE|HOP|CUMULATE|SESSION)\s*\(", re.IGNORECASE)
_NAMED = re.compile(r"^\s*(\w+)\s*=>\s*(.*)$", re.DOTALL)
_TABLE_ARG = re.compile(r"^TABLE\s+(\w+)(?:\s+PARTITION\s+BY\s+(.+))?$", re.IGNORECASE | re.DOTALL)
_DESCRIPTOR = re.compile(r"^DESCRIPTOR\s*\(\s*(\w+)\s*\)$", re.IGNORECASE)
_OVER_RANGE = re.compile(
    r"\bOVER\s*\((?P<body>[^()]*?RANGE\s+(?:BETWEEN\s+)?(?P<range>INTERVAL\s+'[^']+'\s+\w+)"
    r"\s+PRECEDING[^()]*)\)",
    re.IGNORECASE,
)
_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)
_PARTITION = re.compile(r"PARTITION\s+BY\s+(.+?)\s+ORDER\s+BY", re.IGNORECASE | re.DOTALL)
_ORDER = re.compile(r"ORDER\s+BY\s+(\w+)", re.IGNORECASE)
_PER_WINDOW = re.compile(r"\b(GROUP|PARTITION)\s+BY\b[^;]*\bwindow_(start|end)\b", re.IGNORECASE)
_GROUP_WINDOW = re.compile(
    r"\bGROUP\s+BY\s+window_start\s*,\s*window_end\b(?!\s*,\s*window_time)", re.IGNORECASE
)
_SIZES = {
    "TUMBLE": ("SIZE",),
    "HOP": ("SLIDE", "SIZE"),
    "CUMULATE": ("STEP", "SIZE"),
    "SESSION": ("GAP",),
}
FORMS = (
    "TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size)), TABLE(HOP(TABLE t, DESCRIPTOR(ts), slide, "
    "size)), TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), step, size)), TABLE(SESSION(TABLE t "
    "PARTITION BY k, DESCRIPTOR(ts), gap)), or an OVER (PARTITION BY k ORDER BY ts RANGE "
    "INTERVAL '1' MINUTE PRECEDING) aggregate"
)


@dataclass(frozen=True)
class WindowSql:
    """A parsed query: its source table, time column, windows and the SQL DuckDB runs."""

    table: str
    time_column: str
    windows: Windows
    sql: str
    relation: str


def _scan(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, char, depth after it) of each character outside quotes."""
    depth, quoted = 0, False
    for i in range(start, len(text)):
        char = text[i]
        if char == "'":
            quoted = not quoted
        elif not quoted:
            depth += (char == "(") - (char == ")")
            yield i, char, depth


def split_arguments(text: str) -> list[str]:
    """The comma-separated arguments of a call, commas inside parentheses or quotes kept."""
    args, start = [], 0
    for i, char, depth in _scan(text):
        if depth == 0 and char == ",":
            args.append(text[start:i].strip())
            start = i + 1
    args.append(text[start:].strip())
    return args


def closing_parenthesis(text: str, open_at: int) -> int:
    """Index of the parenthesis closing the one at ``open_at``."""
    for i, char, depth in _scan(text, open_at):
        if char == ")" and depth == 0:
            return i
    raise ValidationException(f"unbalanced parentheses in: {text[open_at : open_at + 80]}...")


def parse_window_sql(sql: str) -> WindowSql:
    """Read the window TVF (or OVER RANGE window) of ``sql``; see the module docstring."""
    text = sql.strip().rstrip(";")
    found = list(_TVF.finditer(text))
    if len(found) > 1:
        raise ValidationException("a query may use one window TVF; chain queries for more")
    if not found:
        return _parse_over(text)
    match = found[0]
    kind = match[1].upper()
    inner_open = match.end() - 1
    inner_close = closing_parenthesis(text, inner_open)
    outer_close = closing_parenthesis(text, text.index("(", match.start()))
    args = split_arguments(text[inner_open + 1 : inner_close])
    named = [_NAMED.match(a) for a in args]
    if all(named):
        by_name = {m[1].upper(): m[2].strip() for m in named if m}
        order = ("DATA", "TIMECOL", *_SIZES[kind])
        missing = [n for n in order if n not in by_name]
        if missing:
            raise ValidationException(f"{kind} needs the named arguments {', '.join(missing)}")
        args = [by_name[n] for n in order]
    elif any(named):
        raise ValidationException(f"{kind} takes all arguments by position or all by name")
    # PARTITION BY a, b splits at its comma: join the pieces back up to DESCRIPTOR.
    at = next((i for i, a in enumerate(args) if _DESCRIPTOR.match(a)), None)
    if at is None:
        raise ValidationException(f"{kind} needs DESCRIPTOR(time column); forms: {FORMS}")
    table_arg, descriptor, sizes = ", ".join(args[:at]), args[at], args[at + 1 :]
    table_match = _TABLE_ARG.match(table_arg)
    if not table_match:
        raise ValidationException(f"{kind}'s first argument must be TABLE name, got {table_arg!r}")
    if len(sizes) != len(_SIZES[kind]):
        raise ValidationException(
            f"{kind} takes {len(_SIZES[kind])} interval(s) ({', '.join(_SIZES[kind]).lower()}) "
            f"after DESCRIPTOR, got {len(sizes)}"
        )
    keys = table_match[2]
    if keys and kind != "SESSION":
        raise ValidationException(f"PARTITION BY belongs to SESSION windows, not {kind}")
    partition = [k.strip() for k in keys.strip().strip("()").split(",")] if keys else []
    intervals = [parse_interval(s) for s in sizes]
    windows = {
        "TUMBLE": lambda: tumble(f"{intervals[0]}ms"),
        "HOP": lambda: hop(f"{intervals[0]}ms", f"{intervals[1]}ms"),
        "CUMULATE": lambda: cumulate(f"{intervals[0]}ms", f"{intervals[1]}ms"),
        "SESSION": lambda: session(f"{intervals[0]}ms", partition),
    }[kind]()
    rewritten = f"{text[: match.start()]}{WINDOWED}{text[outer_close + 1 :]}"
    if not _PER_WINDOW.search(rewritten):
        raise ValidationException(
            "a window query must aggregate per window: GROUP BY window_start, window_end[, keys] "
            "(or PARTITION BY window_start, window_end for a top-N per window)"
        )
    if re.search(r"\bwindow_time\b", rewritten, re.IGNORECASE):
        # Flink lets window_time be selected when grouping by start and end (it follows from
        # them); DuckDB wants it named in the GROUP BY.
        rewritten = _GROUP_WINDOW.sub(r"\g<0>, window_time", rewritten)
    time_column = _DESCRIPTOR.match(descriptor)[1]  # type: ignore[index]
    return WindowSql(table_match[1], time_column, windows, rewritten, WINDOWED)


def _parse_over(text: str) -> WindowSql:
    over = _OVER_RANGE.search(text)
    source = _FROM.search(text)
    if not over or not source:
        raise ValidationException(f"no window in the query; use one of: {FORMS}")
    body = over["body"]
    order = _ORDER.search(body)
    if not order:
        raise ValidationException("an OVER RANGE window needs ORDER BY its event-time column")
    partition = _PARTITION.search(body)
    keys = [k.strip() for k in partition[1].split(",")] if partition else []
    windows = sliding(parse_interval(over["range"]), keys)
    return WindowSql(source[1], order[1], windows, text, source[1])


class SqlAggregate:
    """Runs the query's SQL on DuckDB over the rows of the windows being made final."""

    def __init__(self, spec: WindowSql) -> None:
        self.spec = spec
        self.partials: PartialPlan | None = None
        self._sql = spec.sql
        self._con = connection()

    def use_partials(self, empty_records: pa.Table) -> bool:
        """Fold records into partial aggregates per pane as they arrive, when the query's
        shape allows it (see :mod:`._partial`); ``empty_records`` has the records' columns."""
        if isinstance(self.spec.windows, FixedWindows):
            pane = self.spec.windows.pane
            self.partials = plan_partials(self.spec.sql, self.spec.relation, empty_records, pane)
        self._sql = self.partials.final if self.partials else self.spec.sql
        return self.partials is not None

    def pre_aggregate(self, records: pa.Table) -> pa.Table:
        """The rows a window keeps for ``records`` (with ``__ts``): partial aggregates per pane
        and group, or the records themselves."""
        if self.partials is None or records.num_rows == 0:
            return records
        self._con.register("__rows", records)
        try:
            return self._con.sql(self.partials.pre).to_arrow_table()
        finally:
            self._con.unregister("__rows")

    def __call__(self, rows: pa.Table) -> pa.Table:
        self._con.register(self.spec.relation, rows)
        try:
            return self._con.sql(self._sql).to_arrow_table()
        except duckdb.Error as error:
            raise ValidationException(f"the query failed on DuckDB: {error}") from error
        finally:
            self._con.unregister(self.spec.relation)

    def over_windows(
        self, rows: pa.Table, windows: FixedWindows, after: int, until: int
    ) -> pa.Table:
        """Assign rows (with their ``__ts``) to windows ending in ``(after, until]`` and
        aggregate them, in one DuckDB statement."""
        columns = [c for c in rows.column_names if c not in ("__ts", *WINDOW_COLUMNS)]
        panes, starts, ends = windows.pane_windows(rows["__ts"].to_numpy(), after, until)
        self._con.register("__rows", rows)
        self._con.register(
            "__panes",
            pa.table(
                {
                    "__pane": panes,
                    "window_start": ms_to_timestamps(starts),
                    "window_end": ms_to_timestamps(ends),
                    "window_time": ms_to_timestamps(ends - 1),
                }
            ),
        )
        try:
            self._con.execute(
                f"CREATE OR REPLACE TEMP VIEW {self.spec.relation} AS "
                + windows.sql("__rows", "__panes", columns)
            )
            return self._con.sql(self._sql).to_arrow_table()
        except duckdb.Error as error:
            raise ValidationException(f"the query failed on DuckDB: {error}") from error
        finally:
            self._con.execute(f"DROP VIEW IF EXISTS {self.spec.relation}")
            self._con.unregister("__rows")
            self._con.unregister("__panes")

    def check(self, empty_rows: pa.Table) -> None:
        """Run the SQL once over no rows, so a mistake shows when the query is created."""
        self(empty_rows)

    def columns_read(self, empty_rows: pa.Table) -> frozenset[str] | None:
        """The columns of the rows the SQL reads (None: all, or unknown), from DuckDB's plan.

        DuckDB's optimizer keeps exactly the columns the answer depends on (all of them for a
        ``SELECT DISTINCT *``); the SQL must bind over those alone, or the answer is None.
        """
        self._con.register(self.spec.relation, empty_rows)
        try:
            plan = self._con.sql("EXPLAIN (FORMAT JSON) " + self.spec.sql).fetchall()[0][1]
            read = _scanned(json.loads(plan))
            if read is None or not read <= set(empty_rows.column_names):
                return None
            self._con.unregister(self.spec.relation)
            kept = [c for c in empty_rows.column_names if c in read]
            self._con.register(self.spec.relation, empty_rows.select(kept))
            self._con.sql(self.spec.sql).to_arrow_table()
            return frozenset(read)
        except (duckdb.Error, ValueError, KeyError, IndexError, TypeError):
            return None
        finally:
            self._con.unregister(self.spec.relation)


def _scanned(nodes: list[dict]) -> set[str] | None:
    """The columns the scans of a JSON query plan project (None when a scan does not say)."""
    read: set[str] = set()
    for node in nodes:
        if node["name"].endswith("_SCAN"):
            projected = node.get("extra_info", {}).get("Projections")
            if not isinstance(projected, list):
                return None
            read.update(projected)
        below = _scanned(node.get("children", []))
        if below is None:
            return None
        read |= below
    return read
