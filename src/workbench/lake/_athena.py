"""Athena on DuckDB: run the lab's SQL (Presto dialect, Hive DDL) over the lake and the catalog.

Each :meth:`Athena.execute` is one query execution, as on AWS: it gets a query id, is kept in the
history with its state, run time and data scanned, and its result is saved in the lake as
``<output location>/<query id>.csv`` (``.txt`` for DDL output).

>>> import tempfile
>>> from workbench import Workbench, SimulatedClock
>>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01"))
>>> _ = wb.lake.create_bucket("lab")
>>> wb.lake.put("s3://lab/t/a.json", b'{"Name": "x", "N": 2}\\n{"name": "y", "n": 3}\\n')
>>> _ = wb.athena.execute("CREATE EXTERNAL TABLE t (`name` string, `n` int) "
...     "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://lab/t/'")
>>> result = wb.athena.execute("SELECT sum(n) AS total FROM t")
>>> result.to_arrow().to_pylist(), result.output_location.endswith(".csv")
([{'total': 5}], True)
"""

from __future__ import annotations

import dataclasses
import functools
import io
import re
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
from sqlglot import exp

from workbench._sql import identifier, literal
from workbench.errors import (
    AlreadyExistsException,
    EntityNotFoundException,
    InvalidRequestException,
    ServiceError,
)
from workbench.lake import _sql_dialect as dialect
from workbench.lake._catalog import (
    DEFAULT_DATABASE,
    PARQUET_INPUT,
    Catalog,
    Column,
    Table,
    format_of_serde,
)
from workbench.lake._duckdb_lake import LakeFiles, connect
from workbench.lake._footers import ParquetFooters
from workbench.lake._scan import (
    build_scan,
    folder,
    list_objects,
    prune,
    whole_object,
)
from workbench.lake._sqlite import Database
from workbench.lake._uri import parse_uri

RESULTS_PREFIX = "athena-query-results/"
_HISTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS query_executions (
    query_id TEXT PRIMARY KEY, query TEXT NOT NULL, statement_type TEXT NOT NULL,
    database TEXT NOT NULL, state TEXT NOT NULL, reason TEXT, submitted REAL NOT NULL,
    completed REAL, engine_ms INTEGER, data_scanned_bytes INTEGER, output_location TEXT
);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_SCAN_MARK = "__lake_scan_"
_SCAN_REFERENCE = re.compile(rf'"?\b{_SCAN_MARK}(\d+)__\b"?')
_AGGREGATES = (exp.AggFunc, exp.Window, exp.Subquery, exp.Select)
_CTAS_FORMATS = {"PARQUET": "parquet", "JSON": "json"}
_SUFFIXES = {"gzip": "gz"}
# Rows per Parquet row group a CTAS writes: DuckDB's own default, small enough that a scan of a
# million rows has row groups for every thread.
ROW_GROUP_ROWS = 122_880
_COMPRESSIONS = {"SNAPPY", "GZIP", "ZSTD", "LZ4", "NONE", "UNCOMPRESSED"}
_DUCKDB_TO_HIVE = {
    "VARCHAR": "string",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "DOUBLE": "double",
    "FLOAT": "float",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "DATE": "date",
    "BLOB": "binary",
    "HUGEINT": "decimal(38,0)",
}


@dataclasses.dataclass
class QueryResult:
    """One finished query: its id, statistics, where its CSV is, and its rows."""

    query_id: str
    query: str
    statement_type: str
    output_location: str | None
    data_scanned_bytes: int
    engine_ms: int
    table: pa.Table

    state = "SUCCEEDED"

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_polars(self):
        import polars as pl

        return pl.from_arrow(self.table)

    def to_pandas(self):
        return self.table.to_pandas()

    def __len__(self) -> int:
        return self.table.num_rows

    def __repr__(self) -> str:
        return (
            f"QueryResult({self.query_id}: {self.table.num_rows} row(s), "
            f"{self.engine_ms} ms, {self.data_scanned_bytes:,} bytes scanned, "
            f"output {self.output_location})"
        )

    def _repr_html_(self) -> str:
        frame = self.to_polars()
        return (
            f"<p>Query {self.query_id} &middot; run time {self.engine_ms / 1000:.3f} s &middot; "
            f"data scanned {self.data_scanned_bytes:,} bytes &middot; results "
            f"<code>{self.output_location}</code></p>" + frame._repr_html_()
        )


@dataclasses.dataclass
class _Run:
    """What executing one statement produced."""

    table: pa.Table
    scanned: int = 0
    bucket: str | None = None


def _text_table(name: str, values: Iterable[str]) -> pa.Table:
    return pa.table({name: pa.array(list(values), pa.string())})


class Athena:
    """Athena's query engine over the catalog and the lake, with a durable query history.

    ``database`` is the current database (the console's Database list): unqualified table
    names resolve in it. ``output_location`` is where results go; when unset, the first query
    that touches a table sets it to ``s3://<that table's bucket>/athena-query-results/``.
    """

    def __init__(self, catalog: Catalog, lake, clock, state_dir: Path) -> None:
        self.catalog = catalog
        self.lake = lake
        self.clock = clock
        self.state_dir = Path(state_dir)
        self._history = Database(self.state_dir / "queries.sqlite", _HISTORY_SCHEMA)
        self._local = threading.local()
        self._base: duckdb.DuckDBPyConnection | None = None
        self._base_lock = threading.Lock()
        self._files = LakeFiles(lake)
        self._footers = ParquetFooters(self._files)
        self.database = DEFAULT_DATABASE

    # -- settings ------------------------------------------------------------------------------
    @property
    def output_location(self) -> str | None:
        with self._history.read() as con:
            row = con.execute("SELECT value FROM settings WHERE name='output_location'").fetchone()
        return row["value"] if row else None

    @output_location.setter
    def output_location(self, uri: str) -> None:
        parse_uri(folder(uri), need_key=False)
        with self._history.write() as con:
            con.execute(
                "INSERT OR REPLACE INTO settings VALUES ('output_location', ?)", (folder(uri),)
            )

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._base_lock:
            if self._base is None:
                self._base = connect(self.lake.filesystem)
        return self._base.cursor()

    # -- execution -----------------------------------------------------------------------------
    def execute(self, sql: str, *, database: str | None = None) -> QueryResult:
        """Run one statement and return its result (the error, naming the problem, on failure).

        Every run, failed or not, is kept in :meth:`history`.
        """
        query_id = str(uuid.uuid4())
        current = (database or self.database).lower()
        submitted = self.clock.now()
        started = time.perf_counter()
        statement_type = "DML"
        try:
            statement = dialect.parse(sql)
            statement_type = {"select": "DML", "ctas": "DDL"}.get(statement.kind, "DDL")
            run = self._run(statement, current, query_id)
            # The engine time is real compute time: a simulated clock would report 0 ms.
            engine_ms = int((time.perf_counter() - started) * 1000)
            location = self._save_result(query_id, statement, run)
        except ServiceError as error:
            self._record(query_id, sql, statement_type, current, "FAILED", str(error), submitted)
            raise
        except duckdb.Error as error:
            failure = _engine_error(error, self._files.as_uris)
            self._record(query_id, sql, statement_type, current, "FAILED", str(failure), submitted)
            raise failure from None
        except Exception as error:  # e.g. the lake's storage failing: kept in the history too
            reason = f"GENERIC_INTERNAL_ERROR: {type(error).__name__}: {error}"
            self._record(query_id, sql, statement_type, current, "FAILED", reason, submitted)
            raise
        self._record(
            query_id,
            sql,
            statement_type,
            current,
            "SUCCEEDED",
            None,
            submitted,
            engine_ms=engine_ms,
            scanned=run.scanned,
            location=location,
        )
        return QueryResult(
            query_id, sql, statement_type, location, run.scanned, engine_ms, run.table
        )

    def _run(self, statement: dialect.Statement, current: str, query_id: str) -> _Run:
        handler = getattr(self, f"_do_{type(statement).__name__}")
        return handler(statement, current, query_id)

    # -- DDL -----------------------------------------------------------------------------------
    def _do_CreateDatabase(self, s: dialect.CreateDatabase, current: str, _: str) -> _Run:
        self.catalog.create_database(
            s.name, description=s.comment, location_uri=s.location, exist_ok=s.if_not_exists
        )
        return _Run(pa.table({}))

    def _do_DropDatabase(self, s: dialect.DropDatabase, current: str, _: str) -> _Run:
        try:
            self.catalog.delete_database(s.name, cascade=s.cascade)
        except EntityNotFoundException:
            if not s.if_exists:
                raise
        return _Run(pa.table({}))

    def _do_CreateExternalTable(self, s: dialect.CreateExternalTable, current: str, _: str) -> _Run:
        database, name = s.table.qualified(current)
        parse_uri(folder(s.location), need_key=False)
        table = Table(
            database=database,
            name=name,
            columns=tuple(Column(*c) for c in s.columns),
            partition_keys=tuple(Column(*c) for c in s.partition_keys),
            location=s.location,
            format=_external_format(s),
            serde=s.serde or "",
            serde_properties={k.lower(): v for k, v in s.serde_properties.items()},
            input_format=s.input_format or "",
            output_format=s.output_format or "",
            properties=s.properties,
            comment=s.comment,
        )
        self.catalog.create_table(table, exist_ok=s.if_not_exists)
        return _Run(pa.table({}), bucket=parse_uri(folder(s.location), need_key=False)[0])

    def _do_DropTable(self, s: dialect.DropTable, current: str, _: str) -> _Run:
        try:
            self.catalog.delete_table(*s.table.qualified(current))
        except EntityNotFoundException:
            if not s.if_exists:
                raise
        return _Run(pa.table({}))

    def _do_MsckRepair(self, s: dialect.MsckRepair, current: str, _: str) -> _Run:
        table = self.catalog.table(*s.table.qualified(current))
        if not table.partition_keys:
            raise InvalidRequestException(
                f"MSCK REPAIR TABLE: {table.database}.{table.name} is not partitioned."
            )
        root = folder(table.location)
        known = {p.values for p in self.catalog.partitions(table.database, table.name)}
        found: dict[tuple[str, ...], str] = {}
        for obj in self.lake.list(root):
            folders = obj.uri[len(root) :].split("/")[:-1]
            if len(folders) < len(table.partition_keys):
                continue
            values = []
            for key, part in zip(table.partition_keys, folders, strict=False):
                name, sep, value = part.partition("=")
                if not sep or name.lower() != key.name:
                    break
                values.append(value)
            else:
                spec = "/".join(folders[: len(table.partition_keys)])
                found.setdefault(tuple(values), f"{root}{spec}/")
        new = {v: loc for v, loc in found.items() if v not in known}
        self.catalog.add_partitions(table.database, table.name, new.items())
        specs = sorted(
            "/".join(f"{k.name}={v}" for k, v in zip(table.partition_keys, values, strict=True))
            for values in new
        )
        lines = []
        if specs:
            lines.append(
                "Partitions not in metastore:\t" + "\t".join(f"{table.name}:{p}" for p in specs)
            )
            lines.extend(f"Repair: Added partition to metastore {table.name}:{p}" for p in specs)
        return _Run(_text_table("result", lines), bucket=_bucket(table))

    def _do_ShowDatabases(self, s: dialect.ShowDatabases, current: str, _: str) -> _Run:
        names = [d["Name"] for d in self.catalog.databases()]
        return _Run(_text_table("database_name", [n for n in names if dialect.like(s.pattern, n)]))

    def _do_ShowTables(self, s: dialect.ShowTables, current: str, _: str) -> _Run:
        tables = self.catalog.tables(s.database or current)
        names = [t.name for t in tables if dialect.like(s.pattern, t.name)]
        return _Run(_text_table("tab_name", names))

    def _do_ShowPartitions(self, s: dialect.ShowPartitions, current: str, _: str) -> _Run:
        table = self.catalog.table(*s.table.qualified(current))
        if not table.partition_keys:
            raise InvalidRequestException(
                f"SHOW PARTITIONS: {table.database}.{table.name} is not partitioned."
            )
        partitions = self.catalog.partitions(table.database, table.name)
        return _Run(
            _text_table("partition", [p.spec(table.partition_keys) for p in partitions]),
            bucket=_bucket(table),
        )

    def _do_Describe(self, s: dialect.Describe, current: str, _: str) -> _Run:
        table = self.catalog.table(*s.table.qualified(current))
        rows = [(c.name, c.type, c.comment) for c in table.all_columns]
        if table.partition_keys:
            rows += [
                ("", "", ""),
                ("# Partition Information", "", ""),
                ("# col_name", "data_type", "comment"),
            ]
            rows += [(c.name, c.type, c.comment) for c in table.partition_keys]
        names = ("col_name", "data_type", "comment")
        return _Run(
            pa.table({n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)}),
            bucket=_bucket(table),
        )

    def _do_ShowCreateTable(self, s: dialect.ShowCreateTable, current: str, _: str) -> _Run:
        table = self.catalog.table(*s.table.qualified(current))
        return _Run(_text_table("createtab_stmt", _create_statement(table).split("\n")))

    def _do_AddPartitions(self, s: dialect.AddPartitions, current: str, _: str) -> _Run:
        table = self.catalog.table(*s.table.qualified(current))
        partitions = []
        for spec, location in s.partitions:
            values = _spec_values(table, spec)
            if location is None:
                location = (
                    folder(table.location)
                    + "/".join(
                        f"{k.name}={v}" for k, v in zip(table.partition_keys, values, strict=True)
                    )
                    + "/"
                )
            parse_uri(folder(location), need_key=False)
            partitions.append((values, location))
        try:
            self.catalog.add_partitions(
                table.database, table.name, partitions, if_not_exists=s.if_not_exists
            )
        except AlreadyExistsException as error:
            raise InvalidRequestException(f"AlreadyExistsException: {error}") from None
        return _Run(pa.table({}), bucket=_bucket(table))

    def _do_DropPartitions(self, s: dialect.DropPartitions, current: str, _: str) -> _Run:
        table = self.catalog.table(*s.table.qualified(current))
        values = [_spec_values(table, spec) for spec in s.partitions]
        self.catalog.delete_partitions(table.database, table.name, values, if_exists=s.if_exists)
        return _Run(pa.table({}), bucket=_bucket(table))

    # -- queries -------------------------------------------------------------------------------
    def _do_Query(self, s: dialect.Query, current: str, _: str) -> _Run:
        con = self._cursor()
        try:
            sql, scanned, bucket = self._prepare(con, s.tree, current)
            relation = con.sql(sql)
            table = _bigint_columns(relation.to_arrow_table(), relation.types)
        finally:
            con.close()
        return _Run(table, scanned, bucket)

    def _prepare(
        self, con: duckdb.DuckDBPyConnection, tree: exp.Expression, current: str
    ) -> tuple[str, int, str | None]:
        """DuckDB SQL for ``tree`` with every catalog table replaced by its pruned scan."""
        tree = tree.copy()
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        references = [
            t
            for t in tree.find_all(exp.Table)
            if not (not t.db and t.name.lower() in ctes) and t.name
        ]
        resolved = {id(t): self._table_for(t, current) for t in references}
        scanned = 0
        bucket = None
        scans: list[str] = []
        for number, node in enumerate(references):
            table = resolved[id(node)]
            partitions = self.catalog.partitions(table.database, table.name)
            if table.partition_keys:
                partitions = prune(
                    con, table, partitions, _partition_conditions(node, table, resolved)
                )
            objects = list_objects(self.lake, table, partitions)
            measure = whole_object  # Athena reads JSON objects whole
            if table.format == "parquet":
                columns = _columns_read(tree, node, table)
                measure = functools.partial(self._footers.scanned, columns=columns)
            scan = build_scan(table, partitions, objects, self._files.path, measure)
            scanned += scan.bytes
            bucket = bucket or _bucket(table)
            scans.append(scan.sql)
            alias = node.alias or table.name
            node.replace(
                exp.Table(
                    this=exp.to_identifier(f"{_SCAN_MARK}{number}__"),
                    alias=exp.TableAlias(this=exp.to_identifier(alias)),
                )
            )
        # Each scan goes in as a subquery rather than a view: DuckDB binds a view when it is
        # created and again in the query, reading its files' schemas twice.
        sql = _SCAN_REFERENCE.sub(
            lambda m: f"({scans[int(m.group(1))]})", dialect.to_duckdb(tree, copy=False)
        )
        return sql, scanned, bucket

    def _table_for(self, node: exp.Table, current: str) -> Table:
        name = dialect._table_name(node)
        database, table = name.qualified(current)
        try:
            return self.catalog.table(database, table)
        except EntityNotFoundException:
            raise InvalidRequestException(
                f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{database}.{table}' does not exist"
            ) from None

    # -- CTAS ----------------------------------------------------------------------------------
    def _do_CreateTableAs(self, s: dialect.CreateTableAs, current: str, query_id: str) -> _Run:
        database, name = s.table.qualified(current)
        self.catalog.database(database)
        try:
            self.catalog.table(database, name)
        except EntityNotFoundException:
            pass
        else:
            if s.if_not_exists:
                return _Run(pa.table({}))
            raise InvalidRequestException(f"Table {database}.{name} already exists.")
        options = dict(s.options)
        fmt = str(options.pop("format", "PARQUET")).upper()
        if fmt not in _CTAS_FORMATS:
            raise InvalidRequestException(
                f"CREATE TABLE AS: format {fmt!r} is not supported; use 'PARQUET' or 'JSON'."
            )
        compression = str(
            options.pop("parquet_compression", options.pop("write_compression", "GZIP"))
        ).upper()
        if compression not in _COMPRESSIONS:
            raise InvalidRequestException(
                f"CREATE TABLE AS: compression {compression!r} is not supported; use one of "
                f"{sorted(_COMPRESSIONS)}."
            )
        partitioned_by = [c.lower() for c in options.pop("partitioned_by", [])]
        location = options.pop("external_location", None)
        if options:
            raise InvalidRequestException(
                f"CREATE TABLE AS: table properties {sorted(options)} are not supported; use "
                "external_location, format, parquet_compression, write_compression and "
                "partitioned_by."
            )
        if location is None:
            results = self._results_folder(None)
            if results is None:
                raise InvalidRequestException(
                    "CREATE TABLE AS needs WITH (external_location='s3://...') or a query result "
                    "location (athena.output_location) to put the table under."
                )
            location = f"{results}tables/{query_id}/"
        location = folder(location)
        parse_uri(location, need_key=False)
        if self.lake.list(location):
            raise InvalidRequestException(
                f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{database}.{name}' "
                f"already exists: {location}. Empty it or choose another external_location."
            )
        con = self._cursor()
        try:
            sql, scanned, _ = self._prepare(con, s.query, current)
            con.execute(f"CREATE OR REPLACE TEMP VIEW __ctas AS {_bigint_sums(con, sql)}")
            described = con.execute("DESCRIBE __ctas").fetchall()
            names = [row[0].lower() for row in described]
            columns = [Column(row[0].lower(), _hive_type(row[1])) for row in described]
            if len(set(names)) != len(names):
                raise InvalidRequestException(
                    f"CREATE TABLE AS: the query's column names must be unique, got {names}."
                )
            if partitioned_by and names[-len(partitioned_by) :] != partitioned_by:
                raise InvalidRequestException(
                    "CREATE TABLE AS: partition columns must be the last columns of the SELECT, "
                    f"in the order of partitioned_by {partitioned_by}; the SELECT ends with "
                    f"{names[-len(partitioned_by) :]}."
                )
            rows, folders = 0, []
            if s.with_data:
                rows, folders = self._write(
                    con, location, _CTAS_FORMATS[fmt], compression, partitioned_by, query_id
                )
            # A partition per folder the COPY wrote (no second run of the query for its keys);
            # a folder is named as Hive names it: values escaped, NULL as the default partition.
            partitions = [
                ([unquote(part.split("=", 1)[1]) for part in spec.split("/")], f"{location}{spec}/")
                for spec in folders
            ]
        finally:
            con.close()
        data_columns = tuple(c for c in columns if c.name not in partitioned_by)
        keys = tuple(next(c for c in columns if c.name == k) for k in partitioned_by)
        table = Table(
            database=database,
            name=name,
            columns=data_columns,
            partition_keys=keys,
            location=location,
            format=_CTAS_FORMATS[fmt],
            properties={"parquet.compression": compression} if fmt == "PARQUET" else {},
        )
        self.catalog.create_table(table)
        self.catalog.add_partitions(database, name, partitions)
        return _Run(pa.table({"rows": pa.array([rows], pa.int64())}), scanned, _bucket(table))

    def _write(
        self,
        con: duckdb.DuckDBPyConnection,
        location: str,
        fmt: str,
        compression: str,
        partitioned_by: list[str],
        query_id: str,
    ) -> tuple[int, list[str]]:
        """Rows written under ``location``, and the folders (relative) that hold them."""
        codec = "uncompressed" if compression in ("NONE", "UNCOMPRESSED") else compression.lower()
        with self._files.writing(location) as output:
            folder, filesystem = output.folder, None
            if fmt == "parquet":
                if output.folder.startswith("s3://"):
                    folder, filesystem = output.folder[len("s3://") :], self._files.arrow()
                rows, files = _write_parquet(
                    con, folder, filesystem, codec, partitioned_by, query_id
                )
            else:
                rows, files = _copy_json(con, folder, codec, partitioned_by, query_id)
            if rows:  # Athena writes no data file for an empty result
                output.publish()
        start = len(folder) + 1
        return rows, sorted({f[start:].rpartition("/")[0] for f in files} - {""}) if rows else []

    # -- results and history ------------------------------------------------------------------
    def _results_folder(self, bucket: str | None) -> str | None:
        configured = self.output_location
        if configured:
            return configured
        if bucket is None:
            return None
        location = f"s3://{bucket}/{RESULTS_PREFIX}"
        self.output_location = location
        return location

    def _save_result(self, query_id: str, statement: dialect.Statement, run: _Run) -> str | None:
        results = self._results_folder(run.bucket)
        if results is None:
            return None
        buffer = io.BytesIO()
        if statement.kind == "ddl":
            lines = [
                "\t".join("" if v is None else str(v) for v in row.values())
                for row in run.table.to_pylist()
            ]
            buffer.write(("\n".join(lines) + ("\n" if lines else "")).encode())
            uri = f"{results}{query_id}.txt"
        else:
            if run.table.num_columns:
                pacsv.write_csv(run.table, buffer, pacsv.WriteOptions(quoting_style="all_valid"))
            uri = f"{results}{query_id}.csv"
        self.lake.put(uri, buffer.getvalue())
        return uri

    def _record(
        self,
        query_id: str,
        sql: str,
        statement_type: str,
        database: str,
        state: str,
        reason: str | None,
        submitted: float,
        *,
        engine_ms: int | None = None,
        scanned: int | None = None,
        location: str | None = None,
    ) -> None:
        with self._history.write() as con:
            con.execute(
                "INSERT INTO query_executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    query_id,
                    sql,
                    statement_type,
                    database,
                    state,
                    reason,
                    submitted,
                    self.clock.now(),
                    engine_ms,
                    scanned,
                    location,
                ),
            )

    def get_query_execution(self, query_id: str) -> dict:
        """The execution as Athena's GetQueryExecution describes it."""
        with self._history.read() as con:
            row = con.execute(
                "SELECT * FROM query_executions WHERE query_id=?", (query_id,)
            ).fetchone()
        if row is None:
            raise InvalidRequestException(f"QueryExecution {query_id} was not found")
        return _execution_dict(row)

    def get_query_results(self, query_id: str):
        """A finished query's saved result, read back from its CSV in the lake (polars)."""
        import polars as pl

        location = self.get_query_execution(query_id)["ResultConfiguration"].get("OutputLocation")
        if not location:
            raise InvalidRequestException(
                f"Query {query_id} has no saved result (it failed, or ran before an output "
                "location was known)."
            )
        data = self.lake.get(location)
        if location.endswith(".txt"):
            return pl.DataFrame({"result": data.decode().splitlines()})
        return pl.read_csv(io.BytesIO(data), try_parse_dates=True) if data else pl.DataFrame()

    def list_query_executions(self) -> list[str]:
        """Query ids, newest first."""
        with self._history.read() as con:
            rows = con.execute(
                "SELECT query_id FROM query_executions ORDER BY submitted DESC, rowid DESC"
            ).fetchall()
        return [r["query_id"] for r in rows]

    def history(self):
        """Every execution as a polars DataFrame, newest first (the console's Recent queries)."""
        import polars as pl

        with self._history.read() as con:
            rows = con.execute(
                "SELECT * FROM query_executions ORDER BY submitted DESC, rowid DESC"
            ).fetchall()
        schema = {
            "query_id": pl.String,
            "query": pl.String,
            "state": pl.String,
            "reason": pl.String,
            "submitted": pl.Datetime("ms", "UTC"),
            "run_time_s": pl.Float64,
            "data_scanned_bytes": pl.Int64,
            "output_location": pl.String,
        }
        return pl.DataFrame(
            [
                {
                    "query_id": r["query_id"],
                    "query": r["query"],
                    "state": r["state"],
                    "reason": r["reason"],
                    "submitted": datetime.fromtimestamp(r["submitted"], UTC),
                    "run_time_s": None if r["engine_ms"] is None else r["engine_ms"] / 1000,
                    "data_scanned_bytes": r["data_scanned_bytes"],
                    "output_location": r["output_location"],
                }
                for r in rows
            ],
            schema=schema,
            orient="row",
        )

    def __repr__(self) -> str:
        return f"Athena(database={self.database!r}, output_location={self.output_location!r})"


def _bigint_sums(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """``sql`` with its HUGEINT columns as BIGINT: DuckDB sums integers into 128 bits where
    Presto gives a bigint, and a notebook should see ints, not Decimals."""
    relation = con.sql(sql)
    wide = [n for n, t in zip(relation.columns, relation.types, strict=True) if str(t) == "HUGEINT"]
    if not wide:
        return sql
    casts = ", ".join(f"CAST({identifier(n)} AS BIGINT) AS {identifier(n)}" for n in wide)
    return f"SELECT * REPLACE ({casts}) FROM ({sql})"


def _bigint_columns(table: pa.Table, types: list) -> pa.Table:
    """``table`` with its HUGEINT columns as int64, as :func:`_bigint_sums` does in SQL; a query
    result is cast after the fact, which spares DuckDB binding the query (listing and reading
    the footers of its files) a second time."""
    for index, kind in enumerate(types):
        if str(kind) == "HUGEINT":
            try:
                column = table.column(index).cast(pa.int64())
            except pa.ArrowInvalid:
                raise InvalidRequestException(
                    f"NUMERIC_VALUE_OUT_OF_RANGE: column {table.column_names[index]!r} holds a "
                    "value beyond bigint's range."
                ) from None
            table = table.set_column(index, table.field(index).with_type(pa.int64()), column)
    return table


def _write_parquet(
    con: duckdb.DuckDBPyConnection,
    folder: str,
    filesystem,
    codec: str,
    partitioned_by: list[str],
    query_id: str,
) -> tuple[int, list[str]]:
    """Write the CTAS rows as Parquet under ``folder``: rows written and the files' paths.

    pyarrow writes the Parquet, streaming DuckDB's result: about twice as fast here as DuckDB's
    own COPY for the same Snappy, dictionary-encoded row groups with statistics, and its Hive
    folders are named alike (values URI-escaped, NULL as ``__HIVE_DEFAULT_PARTITION__``)."""
    reader = con.sql("SELECT * FROM __ctas").to_arrow_reader(ROW_GROUP_ROWS)
    partitioning = None
    if partitioned_by:
        keys = pa.schema([reader.schema.field(k) for k in partitioned_by])
        partitioning = ds.partitioning(keys, flavor="hive")
    written: list[tuple[str, int]] = []
    ds.write_dataset(
        reader,
        folder,
        filesystem=filesystem,
        format="parquet",
        partitioning=partitioning,
        basename_template=f"{query_id}_{{i}}.parquet",
        file_options=ds.ParquetFileFormat().make_write_options(
            compression="none" if codec == "uncompressed" else codec
        ),
        min_rows_per_group=ROW_GROUP_ROWS,
        max_rows_per_group=ROW_GROUP_ROWS,
        existing_data_behavior="overwrite_or_ignore",
        file_visitor=lambda file: written.append((file.path, file.metadata.num_rows)),
    )
    return sum(rows for _, rows in written), [path for path, _ in written]


def _copy_json(
    con: duckdb.DuckDBPyConnection,
    folder: str,
    codec: str,
    partitioned_by: list[str],
    query_id: str,
) -> tuple[int, list[str]]:
    """Write the CTAS rows as JSON lines under ``folder`` with DuckDB's COPY."""
    options = ["FORMAT json", "RETURN_FILES"]
    if codec != "uncompressed":
        options.append(f"COMPRESSION {codec}")
    target = folder
    if partitioned_by:
        keys = ", ".join(identifier(k) for k in partitioned_by)
        options += [
            f"PARTITION_BY ({keys})",
            "OVERWRITE_OR_IGNORE",
            f"FILENAME_PATTERN {literal(query_id + '_{i}')}",
        ]
    else:
        suffix = ".json" + ("" if codec == "uncompressed" else f".{_SUFFIXES.get(codec, codec)}")
        target = f"{folder}/{query_id}_0{suffix}"
    written = con.execute(
        f"COPY (SELECT * FROM __ctas) TO {literal(target)} ({', '.join(options)})"
    ).fetchone()
    return (int(written[0]), written[1] or []) if written else (0, [])


def _quoted_pairs(pairs: dict[str, str]) -> str:
    return ",\n".join(f"  {literal(k)}={literal(v)}" for k, v in pairs.items())


def _create_statement(table: Table) -> str:
    """The CREATE EXTERNAL TABLE that makes ``table`` again, as SHOW CREATE TABLE prints it."""

    def columns(items: tuple[Column, ...]) -> str:
        return ",\n".join(
            f"  `{c.name}` {c.type}" + (f" COMMENT {literal(c.comment)}" if c.comment else "")
            for c in items
        )

    lines = [
        f"CREATE EXTERNAL TABLE `{table.database}`.`{table.name}`(",
        columns(table.columns) + ")",
    ]
    if table.comment:
        lines.append(f"COMMENT {literal(table.comment)}")
    if table.partition_keys:
        lines += ["PARTITIONED BY (", columns(table.partition_keys) + ")"]
    lines += ["ROW FORMAT SERDE", f"  {literal(table.serde)}"]
    if table.serde_properties:
        lines += ["WITH SERDEPROPERTIES (", _quoted_pairs(table.serde_properties) + ")"]
    lines += ["STORED AS INPUTFORMAT", f"  {literal(table.input_format)}"]
    lines += ["OUTPUTFORMAT", f"  {literal(table.output_format)}"]
    lines += ["LOCATION", f"  {literal(table.location)}"]
    if table.properties:
        lines += ["TBLPROPERTIES (", _quoted_pairs(table.properties) + ")"]
    return "\n".join(lines)


def _bucket(table: Table) -> str:
    return parse_uri(folder(table.location), need_key=False)[0]


def _external_format(s: dialect.CreateExternalTable) -> str:
    if s.serde:
        found = format_of_serde(s.serde)
        if found is None:
            raise InvalidRequestException(
                f"ROW FORMAT SERDE {s.serde!r} is not supported; the workbench reads "
                "'org.openx.data.jsonserde.JsonSerDe' (JSON lines) and Parquet."
            )
        return found
    if s.stored_as == "PARQUET" or (s.input_format or "").lower() == PARQUET_INPUT.lower():
        return "parquet"
    raise InvalidRequestException(
        "CREATE EXTERNAL TABLE: say how the objects are stored: ROW FORMAT SERDE "
        "'org.openx.data.jsonserde.JsonSerDe' for JSON lines, or STORED AS PARQUET."
    )


def _spec_values(table: Table, spec: dict[str, str]) -> list[str]:
    keys = [k.name for k in table.partition_keys]
    if sorted(spec) != sorted(keys):
        raise InvalidRequestException(
            f"Table {table.database}.{table.name} is partitioned by {keys}: a partition names "
            f"each key once, got {sorted(spec)}."
        )
    return [spec[k] for k in keys]


def _hive_type(duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    if upper in _DUCKDB_TO_HIVE:
        return _DUCKDB_TO_HIVE[upper]
    if upper.startswith("DECIMAL"):
        return upper.lower().replace(" ", "")
    return dialect.hive_type(exp.DataType.build(duckdb_type, dialect="duckdb"))


def _partition_conditions(
    node: exp.Table, table: Table, resolved: dict[int, Table]
) -> list[exp.Expression]:
    """The WHERE conditions of the query block reading ``node`` naming only its partition keys."""
    select = node.parent
    while select is not None and not isinstance(select, exp.Select):
        select = select.parent
    if select is None or not select.args.get("where"):
        return []
    joins = select.args.get("joins") or []
    if any((j.side or "").upper() in ("RIGHT", "FULL") for j in joins):
        return []
    if any(j.this is node and (j.side or "").upper() == "LEFT" for j in joins):
        return []
    sources = [select.args["from_"].this] if select.args.get("from_") else []
    sources += [j.this for j in joins]
    others = [s for s in sources if s is not node]
    names = {(node.alias or table.name).lower(), table.name}
    keys = {k.name for k in table.partition_keys}

    def mine(column: exp.Column) -> bool:
        if column.name.lower() not in keys:
            return False
        if column.table:
            return column.table.lower() in names
        for other in others:
            known = resolved.get(id(other))
            if known is None or column.name.lower() in {c.name for c in known.all_columns}:
                return False
        return True

    return [
        condition
        for condition in dialect.conjuncts(select.args["where"].this)
        if not any(isinstance(n, _AGGREGATES) for n in condition.walk())
        and list(condition.find_all(exp.Column))
        and all(mine(c) for c in condition.find_all(exp.Column))
    ]


def _columns_read(tree: exp.Expression, node: exp.Table, table: Table) -> set[str] | None:
    """The data columns of ``table`` that the query reading it at ``node`` names (None: all of
    them, for a ``*``). A column of that name in another table's scope counts too, so the
    figure errs high."""
    names = {(node.alias or table.name).lower(), table.name}
    wanted: set[str] = set()
    for column in tree.find_all(exp.Column):
        qualifier = column.table.lower() if column.table else None
        if qualifier is not None and qualifier not in names:
            continue
        if isinstance(column.this, exp.Star):
            return None
        wanted.add(column.name.lower())
    if any(isinstance(star.parent, exp.Select) for star in tree.find_all(exp.Star)):
        return None
    return wanted & {c.name for c in table.columns}


def _engine_error(error: duckdb.Error, as_uris) -> InvalidRequestException:
    text = as_uris(str(error).split("\n")[0])
    if isinstance(error, duckdb.ParserException):
        return InvalidRequestException(f"SYNTAX_ERROR: {text}")
    if isinstance(error, duckdb.CatalogException) and "Function" in text:
        return InvalidRequestException(f"FUNCTION_NOT_FOUND: {text}")
    if isinstance(error, (duckdb.BinderException, duckdb.CatalogException)):
        return InvalidRequestException(f"SEMANTIC_ERROR: {text}")
    if isinstance(error, duckdb.InvalidInputException) and "JSON" in text:
        return InvalidRequestException(f"HIVE_CURSOR_ERROR: {text}")
    return InvalidRequestException(f"GENERIC_INTERNAL_ERROR: {text}")


def _execution_dict(row: Any) -> dict:
    status = {
        "State": row["state"],
        "SubmissionDateTime": datetime.fromtimestamp(row["submitted"], UTC),
    }
    if row["completed"] is not None:
        status["CompletionDateTime"] = datetime.fromtimestamp(row["completed"], UTC)
    if row["reason"]:
        status["StateChangeReason"] = row["reason"]
    return {
        "QueryExecutionId": row["query_id"],
        "Query": row["query"],
        "StatementType": row["statement_type"],
        "ResultConfiguration": (
            {"OutputLocation": row["output_location"]} if row["output_location"] else {}
        ),
        "QueryExecutionContext": {"Database": row["database"], "Catalog": "AwsDataCatalog"},
        "Status": status,
        "Statistics": {
            "EngineExecutionTimeInMillis": row["engine_ms"] or 0,
            "DataScannedInBytes": row["data_scanned_bytes"] or 0,
        },
        "WorkGroup": "primary",
    }
