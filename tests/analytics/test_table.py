"""JSON records read into typed columns by a source table (``_table.py``)."""

from __future__ import annotations

import duckdb
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import ResourceNotFoundException, ValidationException

FLAT = {"k": "VARCHAR", "ts": "BIGINT", "x": "DOUBLE", "ok": "BOOLEAN"}


def _table(wb, schema: dict[str, str]):
    wb.streams.create_stream("events", shard_count=1)
    return wb.analytics.create_table("events", "events", event_time="ts", schema=schema)


def _records(*docs: object) -> pa.Table:
    return pa.table({"data": [d if isinstance(d, str) else orjson.dumps(d).decode() for d in docs]})


def _rows(decoded: pa.Table) -> list[dict]:
    return decoded.drop_columns(["ts"]).to_pylist()


def test_field_names_are_read_whatever_characters_they_hold(make_workbench):
    schema = {"a/b": "BIGINT", "c~d": "BIGINT", "it's": "VARCHAR", 'say "hi"': "BIGINT",
              "e.f": "BIGINT", "ts": "BIGINT"}  # fmt: skip
    table = _table(make_workbench(), schema)
    doc = {"a/b": 1, "c~d": 2, "it's": "three", 'say "hi"': 4, "e.f": 5, "ts": 6, "a": {"b": 0}}
    rows, ts, errors = table.decode(_records(doc))
    assert _rows(rows) == [{"a/b": 1, "c~d": 2, "it's": "three", 'say "hi"': 4, "e.f": 5}]
    assert ts.tolist() == [6] and errors is None


def test_nested_fields_are_read_beside_flat_ones_and_ignore_unknown_keys(make_workbench):
    schema = {"ts": "BIGINT", "where": "STRUCT(lat DOUBLE, lon DOUBLE)", "tags": "VARCHAR[]",
              "extra": "JSON", "n": "INTEGER"}  # fmt: skip
    table = _table(make_workbench(), schema)
    doc = {"ts": 1, "where": {"lat": 1.5, "lon": 2.5, "alt": 9}, "tags": ["a", "b"],
           "extra": {"any": [1]}, "n": 7}  # fmt: skip
    rows, _, errors = table.decode(_records(doc, {"ts": 2}))
    assert rows.column_names == list(schema)
    assert _rows(rows) == [
        {"where": {"lat": 1.5, "lon": 2.5}, "tags": ["a", "b"], "extra": '{"any":[1]}', "n": 7},
        {"where": None, "tags": None, "extra": None, "n": None},
    ]
    assert errors is None


def test_missing_and_mistyped_fields_read_as_null_and_bad_records_go_to_the_errors(
    make_workbench,
):
    table = _table(make_workbench(), FLAT)
    docs = [{"k": "a", "ts": 1, "x": 1.5, "ok": True}, {"ts": 2}, {"k": "b", "ts": 3, "x": "high"},
            "{broken", {"k": "c", "ts": 4, "x": 2, "ok": "maybe"}]  # fmt: skip
    rows, ts, errors = table.decode(_records(*docs))
    assert _rows(rows) == [
        {"k": "a", "x": 1.5, "ok": True},
        {"k": None, "x": None, "ok": None},
        {"k": "b", "x": None, "ok": None},
        {"k": "c", "x": 2.0, "ok": None},
    ]
    assert ts.tolist() == [1, 2, 3, 4]
    assert errors is not None and errors.to_pylist() == [
        {"record": "{broken", "reason": "not a JSON object"}
    ]


def test_a_query_reading_some_fields_keeps_the_record_text_for_the_rest(make_workbench):
    table = _table(make_workbench(), FLAT)
    doc = {"k": "a", "ts": 1, "x": 1.5, "ok": True}
    rows, _, _ = table.decode(_records(doc), frozenset({"x"}))
    assert rows.column_names == ["ts", "x", "__raw"]
    assert orjson.loads(rows["__raw"][0].as_py()) == doc


def test_a_type_duckdb_does_not_know_is_refused_when_the_table_is_declared(make_workbench):
    wb = make_workbench()
    with pytest.raises(ValidationException, match="'x' has type 'BIGNUMBER'"):
        _table(wb, {"ts": "BIGINT", "x": "BIGNUMBER"})
    with pytest.raises(ResourceNotFoundException):
        wb.analytics.table("events")


values = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.booleans(),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.fixed_dictionaries({"ts": st.integers(0, 2**40)}, optional={
    "k": st.text(max_size=8), "n": st.integers(-(2**63), 2**63 - 1),
    "x": st.floats(allow_nan=False, allow_infinity=False), "ok": st.booleans(), "any": values,
}), min_size=1, max_size=20))  # fmt: skip
def test_well_typed_records_read_as_duckdbs_json_transform_reads_them(make_workbench, docs):
    # The reference: json_transform of the whole document, DuckDB's own JSON-to-type rules.
    schema = {"ts": "BIGINT", "k": "VARCHAR", "n": "BIGINT", "x": "DOUBLE", "ok": "BOOLEAN"}
    table = _table(make_workbench(), schema)
    records = _records(*docs)
    rows, _, errors = table.decode(records)
    con = duckdb.connect()
    con.register("records", records)
    spec = orjson.dumps(schema).decode()
    expected = con.sql(f"SELECT unnest(json_transform(data, '{spec}')) FROM records")
    assert (
        rows.drop_columns(["ts"]).to_pylist()
        == expected.to_arrow_table().drop_columns(["ts"]).to_pylist()
    )
    assert errors is None
