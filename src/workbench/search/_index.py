"""Search indices persisted in the home, on DuckDB: OpenSearch's role in the lab's speed layer.

Each index is a DuckDB table with one typed column per mapped field, the document's ``_id`` as
primary key (so indexing the same ``_id`` again is an upsert) and ``_source`` kept verbatim. A
``_seq`` column numbers every write, so a dashboard can read only what changed since its last
refresh. DuckDB rather than a Lucene-like engine: the work Kibana asks of OpenSearch here is
filtering and aggregating (date histograms, terms, sums), which a columnar engine does best;
relevance ranking is not modelled (every hit scores 1.0).

Writes are visible at once, so ``refresh`` has nothing to do. The database file allows one
writing process at a time: a second process opening the same home's index gets an error.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import orjson
import pyarrow as pa

from workbench.clock import Clock

if TYPE_CHECKING:
    from workbench.search._client import SearchClient
from workbench.errors import ResourceInUseException, ServiceError
from workbench.search._aggregations import Context, aggregate
from workbench.search._mapping import (
    FIELD_TYPES,
    MapperParsingException,
    flatten,
    infer_type,
    resolve_type,
)
from workbench.search._query import (
    Predicate,
    QueryParsingException,
    column,
    compile_query,
    resolve_date,
)


class IndexNotFoundException(ServiceError):
    """No index of that name (OpenSearch: index_not_found_exception, HTTP 404)."""

    status = 404


class InvalidIndexNameException(ServiceError):
    """An index name OpenSearch would refuse."""


class VersionConflictEngineException(ServiceError):
    """A ``create`` of a document whose ``_id`` exists already (HTTP 409)."""

    status = 409


_BAD_NAME = re.compile(r'[\\/*?"<>| ,#:A-Z]')
MAX_RESULT_WINDOW = 10_000


def validate_index_name(name: str) -> None:
    if (
        not name
        or _BAD_NAME.search(name)
        or name[0] in "-_+"
        or name in (".", "..")
        or len(name.encode()) > 255
    ):
        raise InvalidIndexNameException(
            f"Invalid index name [{name}]: must be lowercase, 1-255 bytes, must not start with "
            "'-', '_' or '+', and must not contain '\\', '/', '*', '?', '\"', '<', '>', '|', ' ', "
            "',', '#' or ':'"
        )


def _table(index: str) -> str:
    return column(f"docs_{index}")


class SearchIndices:
    """Every search index of one home: create, index, search, aggregate.

    >>> import tempfile, pathlib
    >>> from workbench.clock import SimulatedClock
    >>> search = SearchIndices(pathlib.Path(tempfile.mkdtemp()), SimulatedClock(start=0))
    >>> docs = [("a1", {"Country": "France", "Quantity": 3})]
    >>> search.index_documents("retail", docs)[0]["result"]
    'created'
    >>> search.count("retail*", {"query": {"match": {"Country": "france"}}})
    1
    """

    def __init__(self, folder: Path, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._in_transaction = False
        path = folder / "search.duckdb"
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as error:
            raise ResourceInUseException(
                f"the search index at {path} is open in another process; one process at a time "
                f"can write it ({error})"
            ) from None
        # Dates without an offset are UTC, as in OpenSearch.
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS __indices (name VARCHAR PRIMARY KEY, next_seq BIGINT);"
            "CREATE TABLE IF NOT EXISTS __fields (index_name VARCHAR, field VARCHAR, "
            "type VARCHAR, PRIMARY KEY (index_name, field));"
            # The earliest time each write touched, per date field (old and new values), so a
            # reader of a time range can tell which part of it changed since it last looked.
            "CREATE TABLE IF NOT EXISTS __changes (index_name VARCHAR, seq BIGINT, "
            "field VARCHAR, earliest TIMESTAMP);"
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """All of a write or none of it, also across a crash; nested uses join the outer one."""
        with self._lock:
            if self._in_transaction:
                yield
                return
            self._in_transaction = True
            self._con.execute("BEGIN")
            try:
                yield
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            finally:
                self._in_transaction = False

    # -- indices ---------------------------------------------------------------------------
    def list_indices(self) -> list[str]:
        with self._lock:
            rows = self._con.execute("SELECT name FROM __indices ORDER BY name").fetchall()
            return [r[0] for r in rows]

    def exists(self, index: str) -> bool:
        return index in self.list_indices()

    def create_index(self, index: str, mappings: dict | None = None) -> None:
        """A new index, optionally with explicit field types (``{"properties": {...}}``)."""
        validate_index_name(index)
        with self._transaction():
            if self.exists(index):
                raise ResourceInUseException(f"index [{index}] already exists")
            self._con.execute("INSERT INTO __indices VALUES (?, 1)", [index])
            self._con.execute(
                # No primary key: an upsert deletes then inserts, which DuckDB does far faster
                # than maintaining a unique index on every insert.
                f"CREATE TABLE {_table(index)} (_id VARCHAR, _seq BIGINT, _source VARCHAR)"
            )
            if mappings:
                self.put_mapping(index, mappings)

    def delete_index(self, index: str) -> None:
        with self._transaction():
            self._require(index)
            self._con.execute(f"DROP TABLE {_table(index)}")
            self._con.execute("DELETE FROM __indices WHERE name = ?", [index])
            self._con.execute("DELETE FROM __fields WHERE index_name = ?", [index])
            self._con.execute("DELETE FROM __changes WHERE index_name = ?", [index])

    def mapping(self, index: str) -> dict[str, str]:
        """Field name → type (boolean, long, double, date, text, keyword)."""
        with self._lock:
            self._require(index)
            rows = self._con.execute(
                "SELECT field, type FROM __fields WHERE index_name = ? ORDER BY field", [index]
            ).fetchall()
        return dict(rows)

    def put_mapping(self, index: str, mappings: dict) -> None:
        """Add fields with explicit types; a field's type cannot change once mapped."""
        current = self.mapping(index)
        wanted = {}
        for field, spec in flatten_properties(mappings.get("properties", mappings)).items():
            field_type = resolve_type(spec)
            if current.get(field, field_type) != field_type:
                raise MapperParsingException(
                    f"mapper [{field}] cannot be changed from type [{current[field]}] to "
                    f"[{field_type}]"
                )
            wanted[field] = field_type
        self._add_fields(index, {f: t for f, t in wanted.items() if f not in current})

    def _add_fields(self, index: str, fields: dict[str, str]) -> None:
        with self._transaction():
            for field, field_type in fields.items():
                self._con.execute(
                    f"ALTER TABLE {_table(index)} ADD COLUMN {column(field)} "
                    f"{FIELD_TYPES[field_type]}"
                )
                self._con.execute(
                    "INSERT INTO __fields VALUES (?, ?, ?)", [index, field, field_type]
                )

    def _require(self, index: str) -> None:
        if not self._con.execute("SELECT 1 FROM __indices WHERE name = ?", [index]).fetchone():
            raise IndexNotFoundException(f"no such index [{index}]")

    def resolve(self, pattern: str | None) -> list[str]:
        """Index names matching a comma-separated list of names or patterns (``retail*``)."""
        names = self.list_indices()
        if pattern in (None, "", "_all", "*"):
            return names
        chosen: list[str] = []
        for part in pattern.split(","):
            if any(c in part for c in "*?"):
                chosen += [n for n in names if fnmatch.fnmatchcase(n, part) and n not in chosen]
            elif part in names:
                chosen.append(part)
            else:
                raise IndexNotFoundException(f"no such index [{part}]")
        return chosen

    # -- documents -------------------------------------------------------------------------
    def index_documents(
        self,
        index: str,
        documents: Iterable[tuple[str, dict]],
        *,
        create_only: bool = False,
    ) -> list[dict]:
        """Index (upsert by ``_id``) documents; one OpenSearch bulk item result per document.

        Python only serialises each document and looks for fields not mapped yet; DuckDB then
        converts every field of the whole batch at once (``from_json`` and ``TRY_CAST``), which
        also finds the documents whose values do not fit their field's type. Those are refused
        alone, with a ``mapper_parsing_exception`` item; the others are indexed.
        """
        with self._transaction():
            if not self.exists(index):
                self.create_index(index)
            fields = self.mapping(index)
            known = set(fields)
            staged: dict[str, bytes] = {}
            results: list[dict] = []
            for doc_id, document in documents:
                if not known.issuperset(document):
                    new = {f: t for f, v in flatten(document).items()
                           if f not in fields and (t := infer_type(v))}  # fmt: skip
                    if new:
                        self._add_fields(index, new)
                        fields.update(new)
                    known.update(document)
                results.append(_item(index, doc_id, 201))
                if doc_id in staged:  # the same _id twice in one bulk: the later one wins
                    results[-1].update(status=200, result="updated")
                    del staged[doc_id]
                staged[doc_id] = orjson.dumps(document)
            refused = self._stage(fields, staged)
            existing = self._existing(index)
            for number, item in enumerate(results):
                doc_id = item["_id"]
                if doc_id in refused:
                    error = MapperParsingException(refused[doc_id])
                    results[number] = _item(index, doc_id, 400, error=error)
                elif create_only and doc_id in existing and item["status"] == 201:
                    conflict = VersionConflictEngineException(
                        f"[{doc_id}]: version conflict, document already exists"
                    )
                    results[number] = _item(index, doc_id, 409, error=conflict)
                elif doc_id in existing and item["status"] == 201:
                    item.update(status=200, result="updated")
            keep = "TRUE" if not create_only else "_id NOT IN (SELECT _id FROM existing)"
            self._write(index, fields, keep)
            return results

    def _stage(self, fields: dict[str, str], documents: dict[str, bytes]) -> dict[str, str]:
        """Convert a batch into the temporary table ``staged``; refused ``_id`` → reason."""
        batch = pa.table(  # noqa: F841 (read by DuckDB)
            {
                "_id": pa.array(list(documents), pa.string()),
                "_source": pa.array([d.decode() for d in documents.values()], pa.string()),
            }
        )
        shape = orjson.dumps(_json_shape(fields)).decode()
        converted = [f"{_convert(f, t)} AS {column(f)}" for f, t in fields.items()]
        checks = [
            f"CASE WHEN {_raw(f)} IS NOT NULL AND {_convert(f, t)} IS NULL THEN "
            f"'failed to parse field [' || {_sql_text(f)} || '] of type [{t}]' END"
            for f, t in fields.items()
        ]
        bad = f"list_filter([{', '.join(checks)}], lambda x: x IS NOT NULL)" if checks else "[]"
        # Documents with no mapped field yet (e.g. only nulls) have no structure to extract.
        parsed = f"from_json(_source, '{shape}')" if fields else "NULL"
        self._con.execute(
            "CREATE OR REPLACE TEMP TABLE staged AS "
            f"SELECT _id, _source, {', '.join([*converted, f'{bad}::VARCHAR[] AS _refused'])} "
            f"FROM (SELECT *, {parsed} AS j FROM batch)"
        )
        rows = self._con.execute(
            "SELECT _id, _refused[1] FROM staged WHERE len(_refused) > 0"
        ).fetchall()
        return dict(rows)

    def _existing(self, index: str) -> set[str]:
        """Which staged ``_id`` are in the index already (kept in the temp table ``existing``)."""
        self._con.execute(
            "CREATE OR REPLACE TEMP TABLE existing AS "
            f"SELECT t._id FROM {_table(index)} t JOIN staged s ON t._id = s._id"
        )
        return {r[0] for r in self._con.execute("SELECT _id FROM existing").fetchall()}

    def _write(self, index: str, fields: dict[str, str], keep: str) -> None:
        """Replace the index's documents with the staged ones that were not refused."""
        rows = f"SELECT * FROM staged WHERE len(_refused) = 0 AND {keep}"
        (count,) = self._con.execute(f"SELECT count(*) FROM ({rows})").fetchone()
        if not count:
            return
        (next_seq,) = self._con.execute(
            "UPDATE __indices SET next_seq = next_seq + ? WHERE name = ? RETURNING next_seq",
            [count, index],
        ).fetchone()
        self._record_change(index, fields, f"SELECT _id FROM ({rows})", rows, next_seq)
        self._con.execute(f"DELETE FROM {_table(index)} WHERE _id IN (SELECT _id FROM ({rows}))")
        names = ", ".join(column(f) for f in fields)
        self._con.execute(
            f"INSERT INTO {_table(index)} (_id, _seq, _source{', ' if names else ''}{names}) "
            f"SELECT _id, {next_seq - count} + row_number() OVER () - 1, _source"
            f"{', ' if names else ''}{names} FROM ({rows})"
        )

    def delete_document(self, index: str, doc_id: str) -> bool:
        with self._transaction():
            self._require(index)
            found = self._con.execute(
                f"SELECT count(*) FROM {_table(index)} WHERE _id = ?", [doc_id]
            ).fetchone()[0]
            if found:  # a deletion is a change too: watchers of changes_token() see it
                (next_seq,) = self._con.execute(
                    "UPDATE __indices SET next_seq = next_seq + 1 WHERE name = ? "
                    "RETURNING next_seq",
                    [index],
                ).fetchone()
                gone = f"SELECT '{doc_id.replace(chr(39), chr(39) * 2)}' AS _id"
                self._record_change(index, self.mapping(index), gone, None, next_seq)
                self._con.execute(f"DELETE FROM {_table(index)} WHERE _id = ?", [doc_id])
            return bool(found)

    def _record_change(
        self, index: str, fields: dict[str, str], ids_sql: str, new_rows: str | None, seq: int
    ) -> None:
        """Note the earliest value of each date field among the rows a write replaces or adds."""
        for field in (f for f, t in fields.items() if t == "date"):
            old = f"SELECT {column(field)} AS v FROM {_table(index)} WHERE _id IN ({ids_sql})"
            new = f" UNION ALL SELECT {column(field)} FROM ({new_rows})" if new_rows else ""
            self._con.execute(
                f"INSERT INTO __changes SELECT ?, ?, ?, min(v) FROM ({old}{new}) "
                "HAVING min(v) IS NOT NULL",
                [index, seq, field],
            )

    def earliest_change(self, index: str, field: str, since: int) -> datetime | None:
        """The earliest ``field`` value among documents written or deleted after the
        :meth:`changes_token` ``since`` (None when no such write touched a dated document)."""
        with self._lock:
            self._require(index)
            row = self._con.execute(
                "SELECT min(earliest) FROM __changes WHERE index_name = ? AND field = ? "
                "AND seq > ?",
                [index, field, since],
            ).fetchone()
        return row[0]

    def changes_token(self, index: str) -> int:
        """A number that grows with every write or deletion in ``index``; cheap to ask."""
        with self._lock:
            self._require(index)
            return self._con.execute(
                "SELECT next_seq FROM __indices WHERE name = ?", [index]
            ).fetchone()[0]

    def get_document(self, index: str, doc_id: str) -> dict | None:
        with self._lock:
            self._require(index)
            row = self._con.execute(
                f"SELECT _source FROM {_table(index)} WHERE _id = ?", [doc_id]
            ).fetchone()
        return orjson.loads(row[0]) if row else None

    # -- search ----------------------------------------------------------------------------
    def _source(self, pattern: str | None, query: dict | None) -> tuple[str, list, dict]:
        indices = self.resolve(pattern)
        fields: dict[str, str] = {}
        for name in indices:
            for field, field_type in self.mapping(name).items():
                fields.setdefault(field, field_type)
        if not indices:
            return "(SELECT NULL::VARCHAR AS _id WHERE FALSE)", [], fields
        union = " UNION ALL BY NAME ".join(
            f"SELECT *, '{name}' AS _index FROM {_table(name)}" for name in indices
        )
        predicate: Predicate = compile_query(query, fields, self.clock.now())
        return f"(SELECT * FROM ({union}) WHERE {predicate.sql})", predicate.params, fields

    def search(self, pattern: str | None, body: dict | None = None) -> dict:
        """An OpenSearch search response: total, hits (``from``/``size``/``sort``), aggregations."""
        body = body or {}
        started = self.clock.now()
        size, offset = int(body.get("size", 10)), int(body.get("from", 0))
        if size + offset > MAX_RESULT_WINDOW:
            raise QueryParsingException(
                f"Result window is too large, from + size must be less than or equal to: "
                f"[{MAX_RESULT_WINDOW}] but was [{size + offset}]"
            )
        with self._lock:
            source, params, fields = self._source(pattern, body.get("query"))
            if not fields and not self.resolve(pattern):
                total, hits = 0, []
            else:
                (total,) = self._con.execute(f"SELECT count(*) FROM {source}", params).fetchone()
                order, sort_columns = _order_by(body.get("sort"), fields)
                extra = "".join(f", {c}" for c in sort_columns)
                rows = self._con.execute(
                    f"SELECT _index, _id, _source{extra} FROM {source} ORDER BY {order} "
                    f"LIMIT {size} OFFSET {offset}",
                    params,
                ).fetchall()
                hits = [_hit(r, bool(sort_columns)) for r in rows]
            response = {
                "took": int((self.clock.now() - started) * 1000),
                "timed_out": False,
                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                "hits": {
                    "total": {"value": total, "relation": "eq"},
                    "max_score": 1.0 if hits and "sort" not in body else None,
                    "hits": hits,
                },
            }
            if aggs := body.get("aggs") or body.get("aggregations"):
                bounds = _time_bounds(body.get("query"), fields, self.clock.now())
                ctx = Context(self._con, source, params, fields, bounds)
                response["aggregations"] = aggregate(ctx, aggs) if fields else {}
            return response

    def count(self, pattern: str | None, body: dict | None = None) -> int:
        with self._lock:
            source, params, _ = self._source(pattern, (body or {}).get("query"))
            return self._con.execute(f"SELECT count(*) FROM {source}", params).fetchone()[0]

    def changes(self, index: str, since_seq: int = 0) -> tuple[pa.Table, int]:
        """Documents written after ``since_seq`` as Arrow, and the sequence to ask from next."""
        with self._lock:
            self._require(index)
            table = (
                self._con.cursor()
                .sql(
                    f"SELECT * FROM {_table(index)} WHERE _seq > ? ORDER BY _seq",
                    params=[since_seq],
                )
                .to_arrow_table()
            )
            (next_seq,) = self._con.execute(
                "SELECT next_seq - 1 FROM __indices WHERE name = ?", [index]
            ).fetchone()
        return table, next_seq

    def client(self) -> SearchClient:
        """A client shaped like opensearch-py's over these indices."""
        from workbench.search._client import SearchClient

        return SearchClient(self)

    def close(self) -> None:
        with self._lock:
            self._con.close()


def flatten_properties(properties: dict, prefix: str = "") -> dict[str, dict]:
    """``{"a": {"properties": {"b": {"type": "long"}}}}`` as ``{"a.b": {"type": "long"}}``."""
    flat: dict[str, dict] = {}
    for name, spec in properties.items():
        if "properties" in spec:
            flat.update(flatten_properties(spec["properties"], f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = spec
    return flat


def _item(index: str, doc_id: str, status: int, error: ServiceError | None = None) -> dict:
    item: dict = {"_index": index, "_id": doc_id, "status": status}
    if error is None:
        item["result"] = "created"
    else:
        kind = re.sub(r"(?<!^)(?=[A-Z])", "_", error.code).lower()
        item["error"] = {"type": kind, "reason": error.message}
    return item


def _hit(row: tuple, sorted_: bool) -> dict:
    hit = {
        "_index": row[0],
        "_id": row[1],
        "_score": None if sorted_ else 1.0,
        "_source": orjson.loads(row[2]),
    }
    if sorted_:
        hit["sort"] = [int(v.timestamp() * 1000) if isinstance(v, datetime) else v for v in row[3:]]
    return hit


def _order_by(sort: object, fields: dict[str, str]) -> tuple[str, list[str]]:
    """An ORDER BY clause for OpenSearch's ``sort``, and the columns to report in ``sort``."""
    if not sort:
        return "_seq", []
    terms, columns = [], []
    for entry in sort if isinstance(sort, list) else [sort]:
        name, direction = entry, "asc"
        if isinstance(entry, dict):
            ((name, spec),) = entry.items()
            direction = spec.get("order", "asc") if isinstance(spec, dict) else spec
        if name in ("_score", "_doc"):
            name = "_seq"
        elif name.removesuffix(".keyword") in fields:
            name = name.removesuffix(".keyword")
        else:
            raise QueryParsingException(f"No mapping found for [{name}] in order to sort on")
        direction = "DESC" if str(direction).lower() == "desc" else "ASC"
        terms.append(f"{column(name)} {direction} NULLS LAST")
        columns.append(column(name))
    return ", ".join(terms), columns


def _time_bounds(
    query: dict | None, fields: dict[str, str], now: float
) -> tuple[datetime | None, datetime | None]:
    """The date range a query filters on, which an ``auto`` date histogram divides."""
    if not isinstance(query, dict):
        return None, None
    if "range" in query:
        ((name, bounds),) = query["range"].items()
        if fields.get(name) == "date":
            low = bounds.get("gte", bounds.get("gt"))
            high = bounds.get("lte", bounds.get("lt"))
            return (
                resolve_date(low, now) if low is not None else None,
                resolve_date(high, now) if high is not None else None,
            )
    for clause in ("filter", "must"):
        parts = query.get("bool", {}).get(clause) or []
        for part in parts if isinstance(parts, list) else [parts]:
            low, high = _time_bounds(part, fields, now)
            if low is not None or high is not None:
                return low, high
    return None, None


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
    return "j." + ".".join(column(part) for part in field.split("."))


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _convert(field: str, field_type: str) -> str:
    """SQL turning a field's JSON text into its column's type; NULL when it does not fit."""
    raw = _raw(field)
    if field_type == "long":  # OpenSearch keeps the integer part of a decimal given to a long
        return f"CAST(trunc(TRY_CAST({raw} AS DOUBLE)) AS BIGINT)"
    if field_type == "double":
        return f"TRY_CAST({raw} AS DOUBLE)"
    if field_type == "boolean":
        return f"CASE lower({raw}) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END"
    if field_type == "date":  # ISO text, or epoch milliseconds as OpenSearch also accepts
        return (
            f"COALESCE(TRY_CAST({raw} AS TIMESTAMPTZ) AT TIME ZONE 'UTC', "
            f"make_timestamp(TRY_CAST({raw} AS BIGINT) * 1000))"
        )
    return raw
