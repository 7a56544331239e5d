"""Partition pruning never changes an answer: any predicate on the partition keys gives the same
rows from the partitioned JSON table as from its unpartitioned Parquet copy."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lake.conftest import CTAS, LANDINGS, Lab
from workbench import SimulatedClock, Workbench
from workbench.lake import write_retail_sample

KEYS = {"year": (2010, 2011), "month": (1, 12), "day": (1, 31), "hour": (0, 23)}


@st.composite
def _atom(draw) -> str:
    key = draw(st.sampled_from(sorted(KEYS)))
    low, high = KEYS[key]
    value = st.integers(low, high)
    kind = draw(st.sampled_from(["cmp", "between", "in", "fn"]))
    if kind == "cmp":
        return f"{key} {draw(st.sampled_from(['=', '<', '>=', '<>']))} {draw(value)}"
    if kind == "between":
        a, b = sorted([draw(value), draw(value)])
        return f"{key} BETWEEN {a} AND {b}"
    if kind == "in":
        values = draw(st.lists(value, min_size=1, max_size=3))
        return f"{key} IN ({', '.join(str(v) for v in values)})"
    return f"{key} % 2 = {draw(st.integers(0, 1))}"


_predicates = st.recursive(
    _atom(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]} AND {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        inner.map(lambda p: f"NOT ({p})"),
    ),
    max_leaves=4,
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    wb = Workbench(home=tmp_path_factory.mktemp("home"), clock=SimulatedClock(start="2026-01-01"))
    wb.lake.create_bucket("retail-lab")
    frames = [
        write_retail_sample(
            wb.lake,
            "s3://retail-lab/json-data/",
            rows=800,
            start=s,
            hours=h,
            seed=seed,
            rows_per_object=100,
        )
        for s, h, seed in LANDINGS
    ]
    lab = Lab(wb, pl.concat(frames))
    lab.setup()
    lab.sql(CTAS)
    return lab


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_predicates)
def test_pruning_keeps_every_matching_row(lab, predicate):
    query = "SELECT count(*) n, sum(quantity) q FROM {t} WHERE " + predicate
    pruned = lab.wb.athena.execute(query.format(t="retail_trans_json"))
    unpruned = lab.wb.athena.execute(query.format(t="retail_parquet_ctas_table"))
    assert pruned.to_arrow().to_pylist() == unpruned.to_arrow().to_pylist()
