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
from dataclasses import dataclass
from datetime import datetime
from itertools import filterfalse, repeat
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import orjson
import polars as pl
import pyarrow as pa

from workbench._sql import identifier, literal
from workbench.clock import Clock

if TYPE_CHECKING:
    from workbench.search._client import SearchClient
from workbench.errors import ResourceInUseException, ServiceError
from workbench.search._aggregations import Context, aggregate
from workbench.search._batch import Batch, for_duckdb
from workbench.search._known_ids import KnownIds, id_hashes
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
_CHECKPOINT_MB = 64


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
    return identifier(f"docs_{index}")


@dataclass
class _IndexState:
    """What every write and search asks about an index, kept in memory: its mapped fields (in
    the order their columns were added), the sequence number its next write starts at, and
    (read on the first write) which ``_id`` it may hold."""

    fields: dict[str, str]
    next_seq: int
    known_ids: KnownIds | None = None


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
        self._indices: dict[str, _IndexState] | None = None
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
        # DuckDB moves the write-ahead log into the file when it reaches this size, rewriting
        # the index's newest row group each time: at DuckDB's 16 MB (about 45,000 documents of
        # the lab) those rewrites were a sixth of bulk indexing; after a crash, the log is
        # replayed when the index opens.
        self._con.execute(f"SET checkpoint_threshold = '{_CHECKPOINT_MB}MB'")
        self._con.execute(
            # next_seq: the sequence number an index started at (homes written before __changes
            # noted every write kept it up to date).
            "CREATE TABLE IF NOT EXISTS __indices (name VARCHAR PRIMARY KEY, next_seq BIGINT);"
            "CREATE TABLE IF NOT EXISTS __fields (index_name VARCHAR, field VARCHAR, "
            "type VARCHAR, PRIMARY KEY (index_name, field));"
            # A row per write with the sequence number that follows it: per date field, the
            # earliest time the write touched (old and new values), so a reader of a time range
            # can tell which part of it changed since it last looked; a write without dates
            # leaves field and earliest null.
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
                self._indices = None  # the rolled-back write may have changed it: read again
                raise
            finally:
                self._in_transaction = False

    # -- indices ---------------------------------------------------------------------------
    def _catalog(self) -> dict[str, _IndexState]:
        """Every index's fields and next sequence number. Read from the database once, then
        kept in step by each write: this object is the file's only writer, and asking DuckDB
        on every bulk request and every dashboard panel cost more than the work itself."""
        with self._lock:
            if self._indices is None:
                rows = self._con.execute(
                    "SELECT name, greatest(next_seq, max(seq)) FROM __indices "
                    "LEFT JOIN __changes ON index_name = name GROUP BY name, next_seq"
                ).fetchall()
                indices = {name: _IndexState({}, next_seq) for name, next_seq in rows}
                for index, field, field_type in self._con.execute(
                    "SELECT index_name, field, type FROM __fields ORDER BY rowid"
                ).fetchall():
                    indices[index].fields[field] = field_type
                self._indices = indices
            return self._indices

    def list_indices(self) -> list[str]:
        return sorted(self._catalog())

    def exists(self, index: str) -> bool:
        return index in self._catalog()

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
            self._catalog()[index] = _IndexState({}, 1)
            if mappings:
                self.put_mapping(index, mappings)

    def delete_index(self, index: str) -> None:
        with self._transaction():
            self._require(index)
            self._con.execute(f"DROP TABLE {_table(index)}")
            self._con.execute("DELETE FROM __indices WHERE name = ?", [index])
            self._con.execute("DELETE FROM __fields WHERE index_name = ?", [index])
            self._con.execute("DELETE FROM __changes WHERE index_name = ?", [index])
            del self._catalog()[index]

    def mapping(self, index: str) -> dict[str, str]:
        """Field name → type (boolean, long, double, date, text, keyword)."""
        return dict(sorted(self._state(index).fields.items()))

    def _state(self, index: str) -> _IndexState:
        state = self._catalog().get(index)
        if state is None:
            raise IndexNotFoundException(f"no such index [{index}]")
        return state

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
            mapped = self._state(index).fields
            for field, field_type in fields.items():
                self._con.execute(
                    f"ALTER TABLE {_table(index)} ADD COLUMN {identifier(field)} "
                    f"{FIELD_TYPES[field_type]}"
                )
                self._con.execute(
                    "INSERT INTO __fields VALUES (?, ?, ?)", [index, field, field_type]
                )
                mapped[field] = field_type

    def _require(self, index: str) -> None:
        self._state(index)

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

        Items take effect in order, as in an OpenSearch bulk request: of several documents with
        one ``_id`` the last one indexed wins (with ``create_only``, the first one created).
        Python serialises each document and looks for fields not mapped yet; the batch then
        becomes typed columns all at once (:class:`~workbench.search._batch.Batch`), which also
        finds the documents whose values do not fit their field's type. Those are refused
        alone, with a ``mapper_parsing_exception`` item; the others are indexed.
        """
        pairs = documents if isinstance(documents, list) else list(documents)
        ids, docs = list(map(itemgetter(0), pairs)), list(map(itemgetter(1), pairs))
        return self.index_batch(index, ids, docs, create_only=create_only)

    def index_batch(
        self, index: str, ids: list[str], docs: list, *, create_only: bool = False
    ) -> list[dict]:
        """:meth:`index_documents` of ``docs`` with the ``_id`` of the same position in ``ids``:
        the two lists a bulk request holds, indexed without pairing them up."""
        refusals: dict[int, dict] = {}  # by position: the documents that are not JSON objects
        if not all(map(isinstance, docs, repeat(dict))):
            for position, (doc_id, document) in enumerate(zip(ids, docs, strict=True)):
                if not isinstance(document, dict):
                    reason = f"failed to parse: the document [{doc_id}] is not a JSON object"
                    refusals[position] = _item(index, doc_id, MapperParsingException(reason))
            kept = [p for p, document in enumerate(docs) if isinstance(document, dict)]
            ids, docs = [ids[p] for p in kept], [docs[p] for p in kept]
        with self._transaction():
            if not self.exists(index):
                self.create_index(index)
            known = set(self._state(index).fields)
            new: dict[str, str] = {}
            # Every name in the batch at once first: the usual batch maps no new field, and
            # then no document is looked at alone.
            if not known.issuperset(set().union(*docs)):
                for document in filterfalse(known.issuperset, docs):  # a first value maps it
                    for name, value in flatten(document).items():
                        if name not in known and (field_type := infer_type(value)):
                            new[name] = field_type
                            known.add(name)
            if new:
                self._add_fields(index, new)
            written = self._write(index, Batch(ids, docs), create_only) if ids else []
        if not refusals:
            return written
        items = iter(written)
        return [refusals.get(p) or next(items) for p in range(len(refusals) + len(written))]

    def _write(self, index: str, batch: Batch, create_only: bool) -> list[dict]:
        """Convert a batch, settle each document's result in order, and write what is kept: the
        last document of each ``_id`` that was not refused (the first, when only creating, and
        only if the ``_id`` is new). Three statements and a commit a batch: per-statement costs,
        not rows, are what a bulk request of a thousand documents spends its time on. Returns
        the documents' bulk items, in the batch's order."""
        state = self._state(index)
        staged = batch.converted(self._con, state.fields)
        dates = [f for f, t in state.fields.items() if t == "date"]
        table = _table(index)
        known = self._known_ids(index)
        hashes = id_hashes(staged["_id"])
        candidates = for_duckdb(staged["_id"].filter(known.maybe_held(hashes)).to_frame())
        old = {  # the documents this batch may replace, with their dates
            row[0]: row[1:]
            for row in self._con.execute(
                f"SELECT {', '.join(['_id', *map(identifier, dates)])} FROM {table} "
                "WHERE _id IN (SELECT _id FROM candidates)"
            ).fetchall()
        } if candidates.num_rows else {}  # fmt: skip
        refused: dict[int, str] = {}
        if staged["__refused"].null_count() < staged.height:
            reasons = staged["__refused"].to_list()
            refused = {n: reason for n, reason in enumerate(reasons) if reason is not None}
        if not (refused or old) and len(set(batch.ids)) == len(batch.ids):
            # The usual batch: new documents, each _id once, all fitting the mapping.
            items = _created(index, batch.ids)
            kept_rows, gone, numbers = staged, [], slice(None)
        else:
            items, kept = self._settle(index, batch.ids, refused, set(old), create_only)
            if not kept:
                return items
            numbers = sorted(kept.values())
            kept_rows = staged if len(kept) == len(staged) else staged[numbers]
            gone = [i for i in kept if i in old]
        seq = range(state.next_seq, state.next_seq + len(kept_rows))
        rows = for_duckdb(kept_rows.hstack([pl.Series("_seq", seq, dtype=pl.Int64)]))  # noqa: F841
        replaced = for_duckdb(pl.DataFrame({"_id": gone}, schema={"_id": pl.String}))  # noqa: F841
        names = "".join(f", {identifier(f)}" for f in state.fields)
        statements = [
            f"DELETE FROM {table} WHERE _id IN (SELECT _id FROM replaced)"
        ] if gone else []  # fmt: skip
        statements.append(
            f"INSERT INTO {table} (_id, _seq, _source{names}) "
            f"SELECT _id, _seq, _source{names} FROM rows"
        )
        earliest = {}
        for number, field in enumerate(dates):
            touched = [kept_rows[field].min(), *(old[i][number] for i in gone)]
            earliest[field] = min((t for t in touched if t is not None), default=None)
        statements.append(self._bookkeeping(index, len(kept_rows), earliest))
        self._con.execute(";\n".join(statements))  # reads ``rows`` and ``replaced``
        known.add(hashes[numbers])
        return items

    @staticmethod
    def _settle(
        index: str, ids: list[str], refused: dict[int, str], present: set[str], create_only: bool
    ) -> tuple[list[dict], dict[str, int]]:
        """Each document's item, in order, and which document stays for each ``_id`` kept:
        refused ones are not written, a later document of an ``_id`` replaces an earlier one
        (when only creating, an ``_id`` already present is a conflict)."""
        items: list[dict] = []
        kept: dict[str, int] = {}  # _id → the number of the document that stays
        for number, doc_id in enumerate(ids):
            if number in refused:
                items.append(_item(index, doc_id, MapperParsingException(refused[number])))
            elif doc_id in present and create_only:
                conflict = VersionConflictEngineException(
                    f"[{doc_id}]: version conflict, document already exists"
                )
                items.append(_item(index, doc_id, conflict))
            else:
                items.append(item := _item(index, doc_id))
                if doc_id in present:
                    item.update(status=200, result="updated")
                present.add(doc_id)
                kept[doc_id] = number
        return items, kept

    def _known_ids(self, index: str) -> KnownIds:
        state = self._state(index)
        if state.known_ids is None:
            ids = self._con.sql(f"SELECT _id FROM {_table(index)}").pl()["_id"]
            state.known_ids = KnownIds(id_hashes(ids))
        return state.known_ids

    def _bookkeeping(self, index: str, count: int, earliest: dict[str, datetime | None]) -> str:
        """The statement that goes with a write of ``count`` documents: the index's next
        sequence number and, per date field, the earliest value the write touched (old and new
        values), noted in ``__changes``. One insert rather than also an update of the index's
        row, since each statement costs more than the thousand rows of a bulk request. The
        cached sequence number moves at once; a rollback drops the cache."""
        state = self._state(index)
        state.next_seq += count
        name = literal(index)
        changes = [
            f"({name}, {state.next_seq}, {literal(field)}, TIMESTAMP '{value.isoformat()}')"
            for field, value in earliest.items()
            if value is not None
        ] or [f"({name}, {state.next_seq}, NULL, NULL)"]
        return f"INSERT INTO __changes VALUES {', '.join(changes)}"

    def delete_document(self, index: str, doc_id: str) -> bool:
        with self._transaction():
            state = self._state(index)
            dates = [f for f, t in state.fields.items() if t == "date"]
            found = self._con.execute(
                f"SELECT {', '.join(['_id', *map(identifier, dates)])} FROM {_table(index)} "
                "WHERE _id = ?",
                [doc_id],
            ).fetchone()
            if found:  # a deletion is a change too: watchers of changes_token() see it
                self._con.execute(f"DELETE FROM {_table(index)} WHERE _id = ?", [doc_id])
                earliest = dict(zip(dates, found[1:], strict=True))
                self._con.execute(self._bookkeeping(index, 1, earliest))
            return bool(found)

    def earliest_change(self, index: str, field: str, since: int) -> datetime | None:
        """The earliest ``field`` value among documents written or deleted after the
        :meth:`changes_token` ``since`` (None when no such write touched a dated document)."""
        with self._lock:
            if since >= self._state(index).next_seq:
                return None  # nothing written since: no need to ask
            row = self._con.execute(
                "SELECT min(earliest) FROM __changes WHERE index_name = ? AND field = ? "
                "AND seq > ?",
                [index, field, since],
            ).fetchone()
        return row[0]

    def changes_token(self, index: str) -> int:
        """A number that grows with every write or deletion in ``index``; cheap to ask."""
        return self._state(index).next_seq

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
            next_seq = self._state(index).next_seq - 1
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


def _created(index: str, ids: list[str]) -> list[dict]:
    """The bulk items of documents created, one per ``_id``."""
    return [{"_index": index, "_id": doc_id, "status": 201, "result": "created"} for doc_id in ids]


def _item(index: str, doc_id: str, error: ServiceError | None = None) -> dict:
    """A document's bulk item: created, or refused with ``error`` (and its HTTP status)."""
    if error is None:
        return _created(index, [doc_id])[0]
    kind = re.sub(r"(?<!^)(?=[A-Z])", "_", error.code).lower()
    return {
        "_index": index,
        "_id": doc_id,
        "status": error.status,
        "error": {"type": kind, "reason": error.message},
    }


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
        terms.append(f"{identifier(name)} {direction} NULLS LAST")
        columns.append(identifier(name))
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
