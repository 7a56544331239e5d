"""Kinesis SQL's ``RANDOM_CUT_FOREST``: an ``ANOMALY_SCORE`` per record, written as in a Kinesis
Data Analytics SQL application.

    SELECT STREAM *, ANOMALY_SCORE FROM TABLE(RANDOM_CUT_FOREST(
        CURSOR(SELECT STREAM temperature, humidity FROM sensors), 100, 256, 100000, 1))

The cursor's SELECT runs (as DuckDB SQL) over each batch of the source table's records; the
numeric columns it gives are the point the forest scores, as in Kinesis. The arguments after the
cursor are ``numberOfTrees``, ``subSampleSize``, ``timeDecay`` and ``shingleSize`` (Kinesis'
defaults 100, 256, 100000 and 1 for those left out). The SELECT around the function reads the
cursor's columns and ``ANOMALY_SCORE``. Records are scored in arrival order, each once, and
emitted at once: no window, no watermark wait, nothing late.

>>> spec = parse_forest_sql('''SELECT STREAM *, ANOMALY_SCORE FROM TABLE(RANDOM_CUT_FOREST(
...     CURSOR(SELECT STREAM x, y FROM "points"), 40, 128))''')
>>> spec.table, spec.cursor, spec.parameters
('points', 'SELECT x, y FROM "points"', (40, 128, 100000, 1))
>>> spec.sql
'SELECT *, ANOMALY_SCORE FROM __scored'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.analytics._anomaly import AnomalyScorer
from workbench.analytics._duckdb import connection
from workbench.analytics._sql import closing_parenthesis, split_arguments
from workbench.errors import ValidationException

SCORED = "__scored"
SCORE = "ANOMALY_SCORE"
_CALL = re.compile(r"\bTABLE\s*\(\s*RANDOM_CUT_FOREST\s*\(", re.IGNORECASE)
_CURSOR = re.compile(r"^CURSOR\s*\((.*)\)$", re.IGNORECASE | re.DOTALL)
_STREAM = re.compile(r"\bSELECT\s+STREAM\b", re.IGNORECASE)
_FROM = re.compile(r'\bFROM\s+(?:"([^"]+)"|(\w+))', re.IGNORECASE)
PARAMETERS = ("numberOfTrees", "subSampleSize", "timeDecay", "shingleSize")
DEFAULTS = (100, 256, 100_000, 1)
FORM = (
    "SELECT STREAM *, ANOMALY_SCORE FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM c1, c2 "
    "FROM t)[, numberOfTrees, subSampleSize, timeDecay, shingleSize]))"
)


@dataclass(frozen=True)
class ForestSql:
    """A parsed ``RANDOM_CUT_FOREST`` query: source table, cursor SQL, parameters, outer SQL."""

    table: str
    cursor: str
    parameters: tuple[int, int, int, int]
    sql: str


def parse_forest_sql(sql: str) -> ForestSql | None:
    """The ``RANDOM_CUT_FOREST`` call of ``sql`` read; None when it has none."""
    text = sql.strip().rstrip(";")
    found = list(_CALL.finditer(text))
    if not found:
        return None
    if len(found) > 1:
        raise ValidationException("a query may call RANDOM_CUT_FOREST once; chain queries")
    match = found[0]
    inner_close = closing_parenthesis(text, match.end() - 1)
    outer_close = closing_parenthesis(text, text.index("(", match.start()))
    args = split_arguments(text[match.end() : inner_close])
    cursor = _CURSOR.match(args[0])
    if not cursor or len(args) > 1 + len(PARAMETERS):
        raise ValidationException(f"RANDOM_CUT_FOREST is called as {FORM}")
    try:
        given = [int(a) for a in args[1:]]
    except ValueError:
        raise ValidationException(
            f"RANDOM_CUT_FOREST's {', '.join(PARAMETERS)} are whole numbers, got {args[1:]}"
        ) from None
    parameters = (*given, *DEFAULTS[len(given) :])
    select = _STREAM.sub("SELECT", cursor[1].strip())
    source = _FROM.search(select)
    if not source:
        raise ValidationException(f"the cursor must SELECT ... FROM a table; form: {FORM}")
    outer = _STREAM.sub("SELECT", f"{text[: match.start()]}{SCORED}{text[outer_close + 1 :]}")
    return ForestSql(source[1] or source[2], select, parameters, outer)  # type: ignore[arg-type]


class ForestAggregate:
    """Scores each batch of records with one forest, then runs the SELECT around the call."""

    def __init__(self, spec: ForestSql, seed: int = 0) -> None:
        self.spec = spec
        trees, sample, decay, shingle = spec.parameters
        self.scorer = AnomalyScorer(trees, sample, decay, shingle, seed=seed)
        self._con = connection()

    def __call__(self, rows: pa.Table) -> pa.Table:
        try:
            self._con.register(self.spec.table, rows)
            points = self._con.sql(self.spec.cursor).to_arrow_table()
            numeric = [
                name
                for name, kind in zip(points.column_names, points.schema.types, strict=True)
                if pa.types.is_integer(kind)
                or pa.types.is_floating(kind)
                or pa.types.is_decimal(kind)
            ]
            if not numeric:
                raise ValidationException(
                    "RANDOM_CUT_FOREST scores the numeric columns of its cursor, and "
                    f"{points.column_names} has none"
                )
            values = np.column_stack(
                [pc.fill_null(pc.cast(points[c], pa.float64()), 0.0).to_numpy() for c in numeric]
            ).reshape(points.num_rows, len(numeric))
            scored = points.append_column(SCORE, pa.array(self.scorer.score(values)))
            self._con.register(SCORED, scored)
            out = self._con.sql(self.spec.sql).to_arrow_table()
            # "SELECT *, ANOMALY_SCORE" names the score twice: it is one column.
            firsts = [out.column_names.index(c) for c in dict.fromkeys(out.column_names)]
            return out.select(firsts) if len(firsts) < out.num_columns else out
        except duckdb.Error as error:
            raise ValidationException(f"the query failed on DuckDB: {error}") from error
        finally:
            self._con.unregister(self.spec.table)
            self._con.unregister(SCORED)

    def check(self, empty_rows: pa.Table) -> None:
        """Run the SQL once over no records, so a mistake shows when the query is created."""
        self(empty_rows)

    def learnt(self) -> pa.Table:
        """The forest's sample as a table, for the checkpoint (one list of values per point)."""
        parts = [
            pa.table({"kind": pa.array([kind] * len(points), pa.string()), "point": _lists(points)})
            for kind, points in zip(("sample", "shingle"), self.scorer.sample(), strict=True)
        ]
        return pa.concat_tables(parts)

    def restore(self, learnt: pa.Table) -> None:
        """Go on from a checkpoint's :meth:`learnt` table: the trees regrow from its sample."""
        parts = []
        for kind in ("sample", "shingle"):
            lists = learnt.filter(pc.equal(learnt["kind"], kind))["point"].combine_chunks()
            width = int(pc.max(pc.list_value_length(lists)).as_py() or 0)
            values = lists.flatten().to_numpy(zero_copy_only=False)
            parts.append(values.reshape(len(lists), width) if width else np.empty((0, 0)))
        self.scorer.resume(*parts)


def _lists(points: np.ndarray) -> pa.Array:
    rows, width = points.shape if points.size else (0, 0)
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * width)
    return pa.ListArray.from_arrays(offsets, pa.array(points.ravel(), pa.float64()))
