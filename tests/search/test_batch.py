"""Typed columns built straight from parsed documents equal DuckDB's conversion of their JSON.

A batch whose values all have their field's type skips DuckDB's JSON conversion; this checks the
shortcut against the conversion it skips, on generated documents of every field type.
"""

from datetime import datetime

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.search._batch import Batch

FIELDS = {
    "n": "long",
    "x": "double",
    "ok": "boolean",
    "name": "text",
    "code": "keyword",
    "when": "date",
    "place.city": "text",
}
plain_dates = st.datetimes(datetime(1000, 1, 1), datetime(9999, 12, 31)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
)
values = {
    "n": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    "x": st.one_of(
        st.none(),
        st.integers(-(2**63), 2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    "ok": st.one_of(st.none(), st.booleans()),
    "name": st.one_of(st.none(), st.text()),
    "code": st.one_of(st.none(), st.text(max_size=5)),
    "when": st.one_of(st.none(), plain_dates),
}
documents = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            **values,
            "place": st.one_of(st.none(), st.fixed_dictionaries({}, optional={"city": st.text()})),
        },
    ),
    min_size=1,
    max_size=20,
)
# What only DuckDB converts: text holding numbers, decimals for longs, other date forms, values
# that do not fit (refused) and values of the wrong kind.
unusual = st.sampled_from(
    [
        ("n", "12"), ("n", 7.9), ("n", True), ("n", "many"), ("n", [1, 2]),
        ("x", "2.5"), ("x", False), ("ok", "true"), ("ok", 1), ("ok", 0.0), ("name", 12),
        ("name", True), ("name", 2.5), ("name", {"a": 1}), ("code", ["a"]), ("when", False),
        ("when", "2026-03-01"), ("when", "2026-03-01T10:00:00+02:00"),
        ("when", 1772359200000), ("when", "2026-02-30T00:00:00Z"), ("when", "soon"),
        ("place", "Lyon"),
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def batch_of(docs):
    return Batch([f"d{number}" for number in range(len(docs))], docs)


@settings(max_examples=80, deadline=None)
@given(documents)
def test_typed_values_give_the_rows_duckdb_gives(con, docs):
    batch = batch_of(docs)
    unused = duckdb.connect()
    unused.close()  # the shortcut must not need DuckDB: a closed connection would raise
    typed = batch.converted(unused, FIELDS)
    assert typed.to_dicts() == batch.converted_by_duckdb(con, FIELDS).to_dicts()


@settings(max_examples=60, deadline=None)
@given(documents, st.lists(unusual, min_size=1, max_size=3), st.data())
def test_one_unusual_value_sends_the_whole_batch_through_duckdb(con, docs, odd, data):
    for field, value in odd:
        docs[data.draw(st.integers(0, len(docs) - 1))][field] = value
    batch = batch_of(docs)
    assert (
        batch.converted(con, FIELDS).to_dicts() == batch.converted_by_duckdb(con, FIELDS).to_dicts()
    )


def test_duckdb_converts_what_opensearch_coerces_and_refuses_the_rest(con):
    batch = batch_of(
        [
            {"n": "12", "x": "2.5", "when": "2026-03-01T10:00:00+02:00"},
            {"n": 7.9, "when": 1772359200000},
            {"n": 9007199254740993},
            {"n": "many"},
            {"when": "2026-02-30T00:00:00Z"},
        ]
    )
    rows = batch.converted(con, FIELDS).select("n", "x", "when", "__refused").rows()
    assert rows == [
        (12, 2.5, datetime(2026, 3, 1, 8, 0), None),
        (7, None, datetime(2026, 3, 1, 10, 0), None),
        (9007199254740993, None, None, None),
        (None, None, None, "failed to parse field [n] of type [long]"),
        (None, None, None, "failed to parse field [when] of type [date]"),
    ]
