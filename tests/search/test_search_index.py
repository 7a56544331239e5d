"""The search index against OpenSearch's documented behaviour, with answers computed in Python."""

import contextlib
import itertools
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from workbench.clock import SimulatedClock
from workbench.errors import ResourceInUseException
from workbench.search import (
    IndexNotFoundException,
    InvalidIndexNameException,
    QueryParsingException,
    SearchIndices,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COUNTRIES = ["United Kingdom", "France", "Germany", "EIRE", "Spain"]


@pytest.fixture
def make_store(tmp_path):
    """Factory: a store on a folder (the same folder reopens the same indices)."""
    stores = []

    def make(folder=tmp_path, now=NOW):
        store = SearchIndices(folder, SimulatedClock(start=now))
        stores.append(store)
        return store

    yield make
    for store in stores:
        with contextlib.suppress(Exception):  # a test may have closed it already
            store.close()


@pytest.fixture
def retail_index(make_store):
    """Factory: a store whose ``retail`` index holds n generated documents, and those documents."""

    def make(n, seed=7):
        docs = retail_docs(n, seed)
        store = make_store()
        store.index_documents("retail", docs)
        return store, docs

    return make


def retail_docs(n, seed=7):
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        when = NOW - timedelta(seconds=rng.randrange(0, 1800))
        docs.append(
            (
                f"id{i}",
                {
                    "Invoice": str(489000 + i),
                    "Description": rng.choice(
                        ["WHITE HANGING HEART", "RED RETROSPOT MUG", "BLUE BAG"]
                    ),
                    "Quantity": rng.randrange(1, 50),
                    "Price": round(rng.uniform(0.5, 20), 2),
                    "Country": rng.choice(COUNTRIES),
                    "InvoiceDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
        )
    return docs


def test_dynamic_mapping_types_fields_from_their_first_values(make_store):
    store = make_store()
    store.index_documents("retail", retail_docs(3))
    assert store.mapping("retail") == {
        "Country": "text",
        "Description": "text",
        "Invoice": "text",
        "InvoiceDate": "date",
        "Price": "double",
        "Quantity": "long",
    }


def test_indexing_the_same_id_twice_is_one_document(make_store):
    store = make_store()
    first = store.index_documents("retail", [("a", {"Quantity": 1})])
    again = store.index_documents("retail", [("a", {"Quantity": 5})])
    assert [first[0]["result"], again[0]["result"]] == ["created", "updated"]
    assert store.count("retail") == 1
    assert store.get_document("retail", "a") == {"Quantity": 5}


def test_a_value_that_does_not_fit_is_refused_alone(make_store):
    store = make_store()
    store.index_documents("retail", [("a", {"Quantity": 1})])
    items = store.index_documents("retail", [("b", {"Quantity": "many"}), ("c", {"Quantity": 2})])
    assert items[0]["status"] == 400
    assert items[0]["error"]["type"] == "mapper_parsing_exception"
    assert items[1]["status"] == 201
    assert store.count("retail") == 2


def test_state_survives_reopening_the_home(make_store, tmp_path):
    store = make_store()
    store.index_documents("retail", retail_docs(20))
    store.close()
    reopened = make_store()
    assert reopened.count("retail") == 20
    assert reopened.mapping("retail")["InvoiceDate"] == "date"


def test_sequence_numbers_go_on_after_reopening_the_home(make_store):
    store = make_store()
    store.index_documents("retail", retail_docs(20))
    store.index_documents("plain", [("a", {"n": 1}), ("b", {"n": 2})])  # no date field
    store.delete_document("plain", "a")
    tokens = {name: store.changes_token(name) for name in ("retail", "plain")}
    store.close()
    reopened = make_store()
    assert {name: reopened.changes_token(name) for name in tokens} == tokens
    reopened.index_documents("plain", [("c", {"n": 3})])
    added, _ = reopened.changes("plain", tokens["plain"] - 1)
    assert added["_id"].to_pylist() == ["c"]
    assert added["_seq"].to_pylist() == [tokens["plain"]]


def test_a_home_that_kept_sequence_numbers_with_its_indices_goes_on_from_there(make_store):
    store = make_store()
    store.index_documents("plain", [("a", {"n": 1})])
    store._con.execute("UPDATE __indices SET next_seq = 40 WHERE name = 'plain'")
    store.close()
    reopened = make_store()
    assert reopened.changes_token("plain") == 40
    reopened.index_documents("plain", [("b", {"n": 2})])
    assert reopened.changes("plain", 1)[0]["_seq"].to_pylist() == [40]


@pytest.mark.parametrize("name", ["Retail", "_x", "a b", "a/b", "..", "a*", ""])
def test_index_names_follow_opensearch_rules(make_store, name):
    with pytest.raises(InvalidIndexNameException, match="Invalid index name"):
        make_store().create_index(name)


def test_unknown_and_duplicate_indices(make_store):
    store = make_store()
    store.create_index("retail")
    with pytest.raises(ResourceInUseException):
        store.create_index("retail")
    with pytest.raises(IndexNotFoundException):
        store.search("missing", {})
    assert store.search("nothing*", {})["hits"]["total"]["value"] == 0


QUERIES = {
    "Country:france": lambda d: d["Country"] == "France",
    'Country:"united kingdom"': lambda d: d["Country"] == "United Kingdom",
    "Country:kingdom": lambda d: d["Country"] == "United Kingdom",
    "Country.keyword:France": lambda d: d["Country"] == "France",
    "Quantity:[10 TO 20]": lambda d: 10 <= d["Quantity"] <= 20,
    "Quantity:{10 TO 20}": lambda d: 10 < d["Quantity"] < 20,
    "Quantity:>=45": lambda d: d["Quantity"] >= 45,
    "Price:<1": lambda d: d["Price"] < 1,
    "Country:france AND Quantity:<10": lambda d: d["Country"] == "France" and d["Quantity"] < 10,
    "Country:france OR Country:spain": lambda d: d["Country"] in ("France", "Spain"),
    "NOT Country:france": lambda d: d["Country"] != "France",
    "Description:RETRO*": lambda d: "RETRO" in d["Description"],
    "Description:m?g": lambda d: "MUG" in d["Description"],
    "mug": lambda d: "MUG" in d["Description"],
    "Country:(france OR eire) AND NOT Quantity:[* TO 25]": lambda d: (
        d["Country"] in ("France", "EIRE") and d["Quantity"] > 25
    ),
    "Unmapped:x": lambda d: False,
}


@pytest.mark.parametrize("query", QUERIES)
def test_query_strings_select_what_opensearch_would(make_store, query):
    docs = retail_docs(300)
    store = make_store()
    store.index_documents("retail", docs)
    expected = sorted(i for i, d in docs if QUERIES[query](d))
    response = store.search("retail", {"query": {"query_string": {"query": query}}, "size": 300})
    assert sorted(h["_id"] for h in response["hits"]["hits"]) == expected
    assert response["hits"]["total"]["value"] == len(expected)


def test_unsupported_query_string_syntax_names_the_construct(make_store):
    store = make_store()
    store.index_documents("retail", retail_docs(3))
    with pytest.raises(QueryParsingException, match="Fuzzy"):
        store.search("retail", {"query": {"query_string": {"query": "Country:franse~"}}})


def test_bool_dsl_with_range_on_date_math(retail_index):
    store, docs = retail_index(200)
    query = {
        "bool": {
            "filter": [{"range": {"InvoiceDate": {"gte": "now-15m", "lte": "now"}}}],
            "must": [{"match": {"Country": "Germany"}}],
            "must_not": [{"term": {"Quantity": 1}}],
        }
    }
    cutoff = NOW - timedelta(minutes=15)
    expected = {
        i
        for i, d in docs
        if d["Country"] == "Germany"
        and d["Quantity"] != 1
        and datetime.fromisoformat(d["InvoiceDate"]) >= cutoff
    }
    hits = store.search("retail", {"query": query, "size": 200})["hits"]["hits"]
    assert {h["_id"] for h in hits} == expected


def test_sum_of_quantity_per_30_seconds_over_the_last_15_minutes(retail_index):
    """The lab's Kibana chart: a date histogram with an auto interval and a sum."""
    store, docs = retail_index(500)
    body = {
        "size": 0,
        "query": {"range": {"InvoiceDate": {"gte": "now-15m", "lte": "now"}}},
        "aggs": {
            "per_interval": {
                "date_histogram": {"field": "InvoiceDate", "interval": "auto"},
                "aggs": {"quantity": {"sum": {"field": "Quantity"}}},
            }
        },
    }
    buckets = store.search("retail", body)["aggregations"]["per_interval"]["buckets"]
    expected = defaultdict(int)
    for _, d in docs:
        when = datetime.fromisoformat(d["InvoiceDate"])
        if when >= NOW - timedelta(minutes=15):
            key = int(when.timestamp()) // 30 * 30 * 1000
            expected[key] += d["Quantity"]
    got = {b["key"]: b["quantity"]["value"] for b in buckets if b["doc_count"]}
    assert got == {k: float(v) for k, v in expected.items()}
    keys = [b["key"] for b in buckets]
    assert all(b - a == 30_000 for a, b in itertools.pairwise(keys))
    assert buckets[0]["key_as_string"].endswith("Z")


def test_terms_with_nested_metric_and_other_count(retail_index):
    store, docs = retail_index(400)
    body = {
        "size": 0,
        "aggs": {
            "countries": {
                "terms": {"field": "Country.keyword", "size": 3},
                "aggs": {"avg_price": {"avg": {"field": "Price"}}},
            }
        },
    }
    result = store.search("retail", body)["aggregations"]["countries"]
    counts = Counter(d["Country"] for _, d in docs)
    top = counts.most_common(3)
    assert [(b["key"], b["doc_count"]) for b in result["buckets"]] == top
    assert result["sum_other_doc_count"] == 400 - sum(c for _, c in top)
    prices = [d["Price"] for _, d in docs if d["Country"] == top[0][0]]
    assert result["buckets"][0]["avg_price"]["value"] == pytest.approx(sum(prices) / len(prices))


def test_terms_inside_a_date_histogram(retail_index):
    store, docs = retail_index(300)
    body = {
        "size": 0,
        "aggs": {
            "per_5m": {
                "date_histogram": {"field": "InvoiceDate", "fixed_interval": "5m"},
                "aggs": {"top": {"terms": {"field": "Country.keyword", "size": 1}}},
            }
        },
    }
    buckets = store.search("retail", body)["aggregations"]["per_5m"]["buckets"]
    per_bucket = defaultdict(Counter)
    for _, d in docs:
        key = int(datetime.fromisoformat(d["InvoiceDate"]).timestamp()) // 300 * 300_000
        per_bucket[key][d["Country"]] += 1
    for bucket in buckets:
        counts = per_bucket[bucket["key"]]
        best = max(counts.values())
        assert bucket["top"]["buckets"][0]["doc_count"] == best
        assert counts[bucket["top"]["buckets"][0]["key"]] == best


def test_metrics_over_everything(retail_index):
    store, docs = retail_index(100)
    aggs = {
        "n": {"value_count": {"field": "Quantity"}},
        "low": {"min": {"field": "Price"}},
        "high": {"max": {"field": "Price"}},
        "countries": {"cardinality": {"field": "Country.keyword"}},
        "latest": {"max": {"field": "InvoiceDate"}},
    }
    result = store.search("retail", {"size": 0, "aggs": aggs})["aggregations"]
    assert result["n"]["value"] == 100
    assert result["low"]["value"] == min(d["Price"] for _, d in docs)
    assert result["high"]["value"] == max(d["Price"] for _, d in docs)
    assert result["countries"]["value"] == len({d["Country"] for _, d in docs})
    assert result["latest"]["value_as_string"][:19] == max(d["InvoiceDate"] for _, d in docs)[:19]


def test_sort_and_paging(retail_index):
    store, docs = retail_index(50)
    ordered = sorted(docs, key=lambda p: (-p[1]["Quantity"], p[0]))
    pages = [
        store.search("retail", {"sort": [{"Quantity": "desc"}, "Invoice"], "from": f, "size": 10})
        for f in (0, 10)
    ]
    got = [h["_source"]["Quantity"] for page in pages for h in page["hits"]["hits"]]
    assert got == [d["Quantity"] for _, d in ordered[:20]]
    with pytest.raises(QueryParsingException, match="Result window is too large"):
        store.search("retail", {"from": 9995, "size": 10})


def test_index_patterns_search_several_indices(make_store):
    store = make_store()
    store.index_documents("retail-a", retail_docs(5, seed=1))
    store.index_documents("retail-b", [("x", {"Quantity": 3, "Extra": True})])
    store.index_documents("other", retail_docs(5, seed=2))
    response = store.search("retail*", {"size": 20})
    assert response["hits"]["total"]["value"] == 6
    assert {h["_index"] for h in response["hits"]["hits"]} == {"retail-a", "retail-b"}


def test_changes_since_a_sequence_number_are_only_the_new_writes(make_store):
    store = make_store()
    store.index_documents("retail", retail_docs(10))
    _, seen = store.changes("retail")
    store.index_documents("retail", [("id3", {"Quantity": 99}), ("new", {"Quantity": 1})])
    changed, _ = store.changes("retail", seen)
    assert sorted(changed.column("_id").to_pylist()) == ["id3", "new"]


def test_extended_bounds_give_empty_buckets_even_when_nothing_matches(retail_index):
    store, _ = retail_index(20)
    start = int((NOW - timedelta(minutes=2)).timestamp() * 1000)
    body = {
        "size": 0,
        "query": {"match": {"Country": "Atlantis"}},
        "aggs": {
            "t": {
                "date_histogram": {
                    "field": "InvoiceDate",
                    "fixed_interval": "30s",
                    "extended_bounds": {"min": start, "max": start + 90_000},
                }
            }
        },
    }
    buckets = store.search("retail", body)["aggregations"]["t"]["buckets"]
    assert [(b["key"] - start, b["doc_count"]) for b in buckets] == [
        (0, 0),
        (30_000, 0),
        (60_000, 0),
        (90_000, 0),
    ]


def test_documents_without_mappable_values_are_kept(make_store):
    store = make_store()
    items = store.index_documents("events", [("a", {"note": None}), ("b", {})])
    assert [i["result"] for i in items] == ["created", "created"]
    assert store.get_document("events", "a") == {"note": None}
    store.index_documents("events", [("c", {"note": "hello"})])
    assert store.mapping("events") == {"note": "text"}
    assert store.count("events") == 3
