"""Queries beyond the lab's: JSON vs its Parquet copy, pruning, Presto functions, errors."""

from __future__ import annotations

import io
import math
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.lake.conftest import CTAS, MONTHLY_REVENUE
from workbench import Workbench
from workbench.errors import InvalidRequestException

DIFFERENTIAL_QUERIES = [
    MONTHLY_REVENUE,
    "SELECT count(*) n, sum(quantity) q, count(DISTINCT customer_id) c FROM {t}",
    "SELECT country, count(*) n, sum(quantity) q, max(price) p FROM {t} GROUP BY country",
    "SELECT year, month, day, hour, count(*) n FROM {t} GROUP BY 1, 2, 3, 4",
    "SELECT invoice, stockcode, quantity, invoicedate FROM {t} WHERE customer_id = ''",
    "SELECT date_format(invoicedate, '%Y-%m-%d %H') h, approx_distinct(invoice) i FROM {t} "
    "WHERE year = 2010 AND month = 12 GROUP BY 1",
    "SELECT stockcode, sum(price * quantity) revenue FROM {t} "
    "WHERE invoicedate >= from_iso8601_timestamp('2010-12-31T22:00:00Z') GROUP BY stockcode",
    "WITH top AS (SELECT customer_id, sum(quantity) q FROM {t} GROUP BY 1) "
    "SELECT count(*) n, max(q) m FROM top WHERE customer_id <> ''",
]


def _canonical(frame: pl.DataFrame) -> list[tuple]:
    rows = []
    for row in frame.rows():
        rows.append(
            tuple(round(v, 3) if isinstance(v, float) and not math.isnan(v) else v for v in row)
        )
    return sorted(rows, key=repr)


@pytest.fixture
def lab_with_parquet(make_lab):
    lab = make_lab(rows=4000)
    lab.setup()
    lab.sql(CTAS)
    return lab


@pytest.mark.parametrize("query", DIFFERENTIAL_QUERIES)
def test_json_table_and_its_parquet_copy_answer_alike(lab_with_parquet, query):
    lab = lab_with_parquet
    json_rows = lab.sql(
        query.replace("mydatabase.retail_trans_json", "{t}").format(t="retail_trans_json")
    ).to_polars()
    parquet_rows = lab.sql(
        query.replace("mydatabase.retail_trans_json", "{t}").format(t="retail_parquet_ctas_table")
    ).to_polars()
    assert json_rows.height > 0
    assert json_rows.columns == parquet_rows.columns
    assert _canonical(json_rows) == _canonical(parquet_rows)


def test_partitioned_ctas_writes_hive_folders_and_registers_partitions(lab_with_parquet):
    lab = lab_with_parquet
    result = lab.sql(
        "CREATE TABLE by_day WITH (external_location='s3://{bucket}/by-day/', format='PARQUET', "
        "parquet_compression='SNAPPY', partitioned_by=ARRAY['year', 'month', 'day']) AS "
        "SELECT invoice, quantity, price, year, month, day FROM retail_trans_json"
    )
    assert result.to_arrow()["rows"].to_pylist() == [lab.records.height]
    days = lab.records.select(pl.col("InvoiceDate").dt.strftime("year=%Y/month=%-m/day=%-d"))
    expected = sorted(days.unique().to_series().to_list())
    shown = lab.sql("SHOW PARTITIONS by_day").to_arrow()["partition"].to_pylist()
    assert shown == expected
    keys = {o.key.rsplit("/", 1)[0] for o in lab.wb.lake.list("s3://retail-lab/by-day/")}
    assert keys == {f"by-day/{p}" for p in expected}
    table = lab.wb.catalog.table("mydatabase", "by_day").to_glue()
    assert [c["Name"] for c in table["PartitionKeys"]] == ["year", "month", "day"]
    assert table["Parameters"]["parquet.compression"] == "SNAPPY"
    one_day = lab.sql(
        "SELECT sum(quantity) q FROM by_day WHERE year = 2010 AND month = 12 AND day = 1"
    )
    assert (
        one_day.data_scanned_bytes < lab.sql("SELECT sum(quantity) FROM by_day").data_scanned_bytes
    )
    expected_q = lab.records.filter(pl.col("InvoiceDate").dt.date() == pl.date(2010, 12, 1))
    assert one_day.to_arrow()["q"].to_pylist() == [expected_q["Quantity"].sum()]


def test_partition_pruning_reads_only_the_chosen_hours(make_lab):
    lab = make_lab(rows=4000)
    lab.setup()
    full = lab.sql("SELECT count(*) n FROM retail_trans_json")
    hour = lab.sql(
        "SELECT count(*) n FROM retail_trans_json WHERE year = 2010 AND month = 12 AND day = 31 "
        "AND hour = 22"
    )
    objects = lab.wb.lake.list("s3://retail-lab/json-data/year=2010/month=12/day=31/hour=22/")
    assert hour.data_scanned_bytes == sum(o.size for o in objects) < full.data_scanned_bytes
    expected = lab.records.filter(
        (pl.col("InvoiceDate").dt.date() == pl.date(2010, 12, 31))
        & (pl.col("InvoiceDate").dt.hour() == 22)
    )
    assert hour.to_arrow()["n"].to_pylist() == [expected.height]
    # IN, BETWEEN and OR on partition keys prune too; a condition on data columns does not.
    some = lab.sql(
        "SELECT count(*) n FROM retail_trans_json t WHERE t.month IN (11) OR (t.year = 2011 "
        "AND t.hour BETWEEN 0 AND 1)"
    )
    assert some.data_scanned_bytes < full.data_scanned_bytes
    expected = lab.records.filter(
        (pl.col("InvoiceDate").dt.month() == 11)
        | ((pl.col("InvoiceDate").dt.year() == 2011) & (pl.col("InvoiceDate").dt.hour() <= 1))
    )
    assert some.to_arrow()["n"].to_pylist() == [expected.height]
    unpruned = lab.sql("SELECT count(*) n FROM retail_trans_json WHERE quantity > 3")
    assert unpruned.data_scanned_bytes == full.data_scanned_bytes


def test_a_partition_outside_hive_folders_reads_its_values_from_the_catalog(make_lab):
    lab = make_lab(rows=1000, landings=[("2010-06-01 10:00", 1, 7)])
    lab.setup()
    source = lab.wb.lake.list("s3://retail-lab/json-data/")[0]
    lab.wb.lake.put("s3://retail-lab/elsewhere/batch.json", lab.wb.lake.get(source.uri))
    lab.sql(
        "ALTER TABLE retail_trans_json ADD IF NOT EXISTS PARTITION (year=2011, month=2, day=3, "
        "hour=4) LOCATION 's3://retail-lab/elsewhere/'"
    )
    rows = lab.sql(
        "SELECT year, month, day, hour, count(*) n FROM retail_trans_json "
        "WHERE year = 2011 GROUP BY 1, 2, 3, 4"
    ).to_arrow()
    lines = lab.wb.lake.get(source.uri).count(b"\n")
    assert rows.to_pylist() == [{"year": 2011, "month": 2, "day": 3, "hour": 4, "n": lines}]


def test_presto_functions_learners_reach_for(make_lab):
    lab = make_lab(rows=300, landings=[("2010-03-04 05:00", 1, 3)])
    lab.setup()
    row = (
        lab.wb.athena.execute(
            "SELECT date_format(timestamp '2010-03-04 05:06:07', '%Y-%m-%d %H:%i:%s') a, "
            "format_datetime(timestamp '2010-03-04 05:06:07', 'yyyy-MM-dd HH:mm') b, "
            "to_iso8601(timestamp '2010-03-04 05:06:07') c, "
            "from_iso8601_timestamp('2010-03-04T05:06:07Z') = timestamp '2010-03-04 05:06:07' d, "
            "date_parse('04/03/2010', '%d/%m/%Y') e, date_add('day', 1, date '2010-03-04') f, "
            "date_diff('hour', timestamp '2010-03-04 00:00', timestamp '2010-03-04 05:00') g, "
            "approx_distinct(country) h, arbitrary(country) IS NOT NULL i, "
            "bool_and(regexp_like(stockcode, '^[0-9]{5}[A-Z]?$')) j, "
            "cardinality(split('a,b', ',')) k"
            " FROM retail_trans_json GROUP BY 6, 7"
        )
        .to_arrow()
        .to_pylist()[0]
    )
    assert row["a"] == "2010-03-04 05:06:07"
    assert row["b"] == "2010-03-04 05:06"
    assert row["c"] == "2010-03-04T05:06:07.000"
    assert row["d"] is True
    assert str(row["e"]) == "2010-03-04 00:00:00"
    assert str(row["f"]).startswith("2010-03-05")
    assert row["g"] == 5
    assert row["h"] == lab.records["Country"].n_unique()
    assert row["i"] is True and row["j"] is True and row["k"] == 2


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC * FROM retail_trans_json", "SYNTAX_ERROR"),
        ("SELECT * FROM no_such_table", "TABLE_NOT_FOUND"),
        ("SELECT no_such_column FROM retail_trans_json", "SEMANTIC_ERROR"),
        ("SELECT no_such_function(1)", "FUNCTION_NOT_FOUND"),
        ("INSERT INTO retail_trans_json VALUES (1)", "INSERT"),
        (
            "SELECT * FROM retail_trans_json MATCH_RECOGNIZE (ORDER BY invoicedate "
            "PATTERN (A) DEFINE A AS true)",
            "MATCH_RECOGNIZE",
        ),
        ("SELECT 1; SELECT 2", "one statement"),
        (
            "CREATE EXTERNAL TABLE c (a int) ROW FORMAT SERDE "
            "'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe' LOCATION 's3://retail-lab/c/'",
            "LazySimpleSerDe",
        ),
        (
            "CREATE TABLE again WITH (external_location='s3://retail-lab/json-data/') "
            "AS SELECT 1 AS x",
            "HIVE_PATH_ALREADY_EXISTS",
        ),
        (
            "CREATE TABLE p WITH (partitioned_by=ARRAY['year']) AS SELECT year, invoice "
            "FROM retail_trans_json",
            "partition columns must be the last",
        ),
        ("MSCK REPAIR TABLE nope", "not found"),
    ],
)
def test_bad_statements_fail_clearly_and_change_nothing(make_lab, sql, message):
    lab = make_lab(rows=200, landings=[("2010-03-04 05:00", 1, 3)])
    lab.setup()
    tables_before = lab.sql("SHOW TABLES").to_arrow()
    objects_before = lab.wb.lake.list("s3://retail-lab/json-data/")
    with pytest.raises(Exception, match=message) as raised:
        lab.sql(sql)
    assert raised.value.code in {"InvalidRequestException", "EntityNotFoundException"}
    assert lab.sql("SHOW TABLES").to_arrow() == tables_before
    assert lab.wb.lake.list("s3://retail-lab/json-data/") == objects_before
    assert lab.wb.athena.history()["state"][1] == "FAILED"


def test_malformed_json_fails_unless_the_table_ignores_it(make_lab):
    lab = make_lab(rows=200, landings=[("2010-03-04 05:00", 1, 3)])
    lab.setup()
    lab.wb.lake.put(
        "s3://retail-lab/json-data/year=2010/month=03/day=04/hour=05/broken", b"{not json\n"
    )
    with pytest.raises(InvalidRequestException, match="HIVE_CURSOR_ERROR") as raised:
        lab.sql("SELECT count(*) FROM retail_trans_json")
    # The error names the object as the learner knows it, not the file behind a local lake.
    assert "s3://retail-lab/json-data/year=2010/month=03/day=04/hour=05/broken" in str(raised.value)
    assert lab.wb.lake.where not in str(raised.value)
    lab.sql(
        "CREATE EXTERNAL TABLE lenient (`invoice` string) PARTITIONED BY (`year` int, `month` int, "
        "`day` int, `hour` int) ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' WITH "
        "SERDEPROPERTIES ('ignore.malformed.json'='true') LOCATION 's3://retail-lab/json-data/'"
    )
    lab.sql("MSCK REPAIR TABLE lenient")
    count = lab.sql("SELECT count(invoice) n FROM lenient").to_arrow()["n"].to_pylist()
    assert count == [lab.records.height]


def test_the_catalog_survives_a_new_workbench_on_the_same_home(make_lab):
    lab = make_lab(rows=300, landings=[("2010-03-04 05:00", 2, 3)])
    lab.setup()
    runs = len(lab.wb.athena.history())
    again = Workbench(home=lab.wb.home.path)
    again.athena.database = "mydatabase"
    assert again.athena.execute("SELECT count(*) n FROM retail_trans_json").to_arrow()[
        "n"
    ].to_pylist() == [lab.records.height]
    assert len(again.athena.history()) == runs + 1


def test_backquoted_names_work_in_queries_too(make_lab):
    lab = make_lab(rows=300, landings=[("2010-03-04 05:00", 1, 3)])
    lab.setup()
    rows = lab.sql(
        "SELECT `country`, count(*) AS `n` FROM `mydatabase`.`retail_trans_json` "
        "WHERE `month` = 3 AND `description` <> '`' GROUP BY `country`"
    ).to_polars()
    assert rows["n"].sum() == lab.records.height


def test_queries_from_several_threads_at_once(make_lab):
    lab = make_lab(rows=2000)
    lab.setup()
    expected = {
        hour: lab.records.filter(pl.col("InvoiceDate").dt.hour() == hour).height
        for hour in (0, 1, 21, 22)
    }

    def count(hour: int) -> int:
        result = lab.sql(f"SELECT count(*) n FROM retail_trans_json WHERE hour = {hour}")
        return result.to_arrow()["n"][0].as_py()

    with ThreadPoolExecutor(4) as pool:
        hours = list(expected) * 3
        answers = list(pool.map(count, hours))
    assert answers == [expected[h] for h in hours]
    assert len(set(lab.wb.athena.list_query_executions())) == len(lab.wb.athena.history())


def test_integer_sums_are_bigints_as_in_presto(make_lab):
    lab = make_lab(rows=200, landings=[("2010-03-04 05:00", 1, 3)])
    lab.setup()
    result = lab.sql(
        "SELECT sum(quantity) q, CAST(sum(quantity) AS decimal(38,0)) d FROM retail_trans_json"
    ).to_arrow()
    assert result.schema.field("q").type == pa.int64()
    assert result.schema.field("d").type == pa.decimal128(38, 0)
    assert result["q"].to_pylist() == [lab.records["Quantity"].sum()]
    with pytest.raises(InvalidRequestException, match="NUMERIC_VALUE_OUT_OF_RANGE"):
        lab.sql("SELECT sum(x) s FROM (VALUES (9223372036854775807), (1)) AS t(x)")


def _chunk_bytes(lake, prefix: str, columns: set[str] | None) -> int:
    """Compressed bytes of the named columns' chunks in every row group under ``prefix``."""
    total = 0
    for obj in lake.list(prefix):
        metadata = pq.read_metadata(io.BytesIO(lake.get(obj.uri)))
        for group in range(metadata.num_row_groups):
            for index in range(metadata.num_columns):
                chunk = metadata.row_group(group).column(index)
                if columns is None or chunk.path_in_schema in columns:
                    total += chunk.total_compressed_size
    return total


def test_parquet_data_scanned_counts_the_column_chunks_a_query_reads(lab_with_parquet):
    lab = lab_with_parquet
    lake, prefix = lab.wb.lake, "s3://retail-lab/parquet-data/"
    whole = sum(o.size for o in lake.list(prefix))
    every = lab.sql("SELECT * FROM retail_parquet_ctas_table").data_scanned_bytes
    assert every == _chunk_bytes(lake, prefix, None) < whole
    revenue = lab.sql(MONTHLY_REVENUE.replace("retail_trans_json", "retail_parquet_ctas_table"))
    read = {"invoicedate", "price", "quantity"}
    assert revenue.data_scanned_bytes == _chunk_bytes(lake, prefix, read) < every
    aliased = lab.sql(
        "SELECT t.country, count(*) n FROM retail_parquet_ctas_table t GROUP BY t.country"
    )
    assert aliased.data_scanned_bytes == _chunk_bytes(lake, prefix, {"country"})
    history = lab.wb.athena.history()
    assert history["data_scanned_bytes"].to_list()[:3] == [
        aliased.data_scanned_bytes,
        revenue.data_scanned_bytes,
        every,
    ]


def test_parquet_data_scanned_follows_an_object_rewritten_under_the_same_key(make_lab):
    lab = make_lab(rows=10, landings=[("2010-03-04 05:00", 1, 3)])
    lab.sql(
        "CREATE EXTERNAL TABLE p (`a` bigint, `b` string) STORED AS PARQUET "
        "LOCATION 's3://retail-lab/p/'"
    )
    scanned = []
    for rows in (10, 5000):  # the simulated clock stands still: same key, same modified time
        buffer = io.BytesIO()
        pq.write_table(pa.table({"a": range(rows), "b": ["x"] * rows}), buffer)
        lab.wb.lake.put("s3://retail-lab/p/data.parquet", buffer.getvalue())
        result = lab.sql("SELECT sum(a) s FROM p")
        assert result.to_arrow()["s"].to_pylist() == [rows * (rows - 1) // 2]
        assert result.data_scanned_bytes == _chunk_bytes(lab.wb.lake, "s3://retail-lab/p/", {"a"})
        scanned.append(result.data_scanned_bytes)
    assert scanned[0] < scanned[1]


@pytest.mark.parametrize("fmt", ["PARQUET", "JSON"])
def test_partitioned_ctas_keeps_null_and_escaped_partition_values(make_lab, fmt):
    lab = make_lab(rows=600, landings=[("2010-03-04 05:00", 2, 3)])
    lab.setup()
    who = "CASE WHEN quantity > 10 THEN NULL ELSE 'a/b=c d' END"
    lab.sql(
        f"CREATE TABLE by_who WITH (external_location='s3://{{bucket}}/by-who/', format='{fmt}', "
        f"partitioned_by=ARRAY['who']) AS SELECT invoice, quantity, {who} AS who "
        "FROM retail_trans_json"
    )
    shown = lab.sql("SHOW PARTITIONS by_who").to_arrow()["partition"].to_pylist()
    assert sorted(shown) == ["who=__HIVE_DEFAULT_PARTITION__", "who=a/b=c d"]
    copied = lab.sql("SELECT count(*) n, sum(quantity) q FROM by_who").to_arrow().to_pylist()
    assert copied == [{"n": lab.records.height, "q": lab.records["Quantity"].sum()}]
    small = lab.sql("SELECT sum(quantity) q FROM by_who WHERE who = 'a/b=c d'").to_arrow()
    expected = lab.records.filter(pl.col("Quantity") <= 10)["Quantity"].sum()
    assert small["q"].to_pylist() == [expected]


@pytest.mark.parametrize(
    ("options", "codec", "suffix"),
    [
        ("format='PARQUET', parquet_compression='SNAPPY'", "SNAPPY", ".parquet"),
        ("format='PARQUET', parquet_compression='ZSTD'", "ZSTD", ".parquet"),
        ("format='PARQUET', write_compression='NONE'", "UNCOMPRESSED", ".parquet"),
        ("format='PARQUET'", "GZIP", ".parquet"),  # Athena's default for a Parquet CTAS
        ("format='JSON', write_compression='GZIP'", None, ".json.gz"),
    ],
)
def test_ctas_writes_the_codec_it_is_asked_for(make_lab, options, codec, suffix):
    lab = make_lab(rows=300, landings=[("2010-03-04 05:00", 1, 3)])
    lab.setup()
    lab.sql(
        f"CREATE TABLE copy WITH (external_location='s3://{{bucket}}/copy/', {options}) AS "
        "SELECT invoice, quantity, invoicedate FROM retail_trans_json"
    )
    [obj] = lab.wb.lake.list("s3://retail-lab/copy/")
    assert obj.key.endswith(suffix)
    if codec is not None:
        metadata = pq.read_metadata(io.BytesIO(lab.wb.lake.get(obj.uri)))
        assert {metadata.row_group(0).column(i).compression for i in range(3)} == {codec}
    back = lab.sql("SELECT count(*) n, sum(quantity) q FROM copy").to_arrow().to_pylist()
    assert back == [{"n": lab.records.height, "q": lab.records["Quantity"].sum()}]
