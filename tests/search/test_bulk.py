"""The bulk API and dynamic mapping against OpenSearch's documented behaviour.

Expected answers come from a plain Python model of what OpenSearch does (the last index of an
``_id`` wins, ``create`` refuses an ``_id`` that exists, ``delete`` of a missing ``_id`` is a 404).
"""

import contextlib
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.clock import SimulatedClock
from workbench.search import SearchClient, SearchIndices
from workbench.search._client import ActionRequestValidationException

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def make_client(tmp_path_factory):
    """Factory: a client over a fresh store."""
    stores = []

    def make():
        store = SearchIndices(tmp_path_factory.mktemp("search"), SimulatedClock(start=NOW))
        stores.append(store)
        return SearchClient(store)

    yield make
    for store in stores:
        with contextlib.suppress(Exception):
            store.close()


def ndjson(*lines):
    return b"\n".join(orjson.dumps(line) for line in lines) + b"\n"


def test_bulk_reports_one_item_per_action_in_order(make_client):
    es = make_client()
    es.index(index="retail", id="old", body={"Quantity": 1})
    body = ndjson(
        {"index": {"_index": "retail", "_id": "a"}}, {"Quantity": 2},
        {"create": {"_index": "retail", "_id": "old"}}, {"Quantity": 3},
        {"delete": {"_index": "retail", "_id": "missing"}},
        {"update": {"_index": "retail", "_id": "old"}}, {"doc": {"Country": "France"}},
        {"index": {"_index": "retail", "_id": "old"}}, {"Quantity": 4},
    )  # fmt: skip
    response = es.bulk(body=body)
    summary = [(action, item["_id"], item["status"]) for i in response["items"]
               for action, item in i.items()]  # fmt: skip
    assert summary == [
        ("index", "a", 201),
        ("create", "old", 409),
        ("delete", "missing", 404),
        ("update", "old", 200),
        ("index", "old", 200),
    ]
    assert response["errors"] is True
    assert response["items"][1]["create"]["error"]["type"] == "version_conflict_engine_exception"
    assert es.get(index="retail", id="old")["_source"] == {"Quantity": 4}
    assert es.count(index="retail")["count"] == 2


def test_the_same_id_twice_in_one_bulk_keeps_the_later_index_and_the_earlier_create(make_client):
    es = make_client()
    body = ndjson({"index": {"_id": "x"}}, {"n": 1}, {"index": {"_id": "x"}}, {"n": 2})
    indexed = es.bulk(body=body, index="twice")
    assert [i["index"]["result"] for i in indexed["items"]] == ["created", "updated"]
    assert es.get(index="twice", id="x")["_source"] == {"n": 2}
    body = ndjson({"create": {"_id": "y"}}, {"n": 1}, {"create": {"_id": "y"}}, {"n": 2})
    created = es.bulk(body=body, index="twice")
    assert [i["create"]["status"] for i in created["items"]] == [201, 409]
    assert es.get(index="twice", id="y")["_source"] == {"n": 1}


@pytest.mark.parametrize("action", ["index", "create"])
def test_a_body_of_one_run_gives_what_the_same_actions_give_one_by_one(make_client, action):
    # A trailing delete makes the second body more than one run, so it is read action by
    # action; the first is recognised whole (the lab's function sends such bodies).
    lines = []
    for number, source in enumerate([{"n": 1}, {"n": "many"}, [1, 2], {"n": 2}, {"n": 3}]):
        lines += [{action: {"_id": number % 3}}, source]  # ids as numbers, one repeated
    whole = make_client().bulk(body=lines, index="runs")
    mixed = make_client().bulk(body=[*lines, {"delete": {"_id": "gone"}}], index="runs")
    assert whole["items"] == mixed["items"][:-1]
    assert whole["errors"] is mixed["errors"] is True
    with pytest.raises(ActionRequestValidationException, match="index is missing"):
        make_client().bulk(body=lines)


def test_a_malformed_bulk_body_is_refused_whole(make_client):
    es = make_client()
    body = ndjson({"index": {"_index": "retail", "_id": "a"}}, {"n": 1}) + b'{"index": \n{}\n'
    with pytest.raises(ActionRequestValidationException, match="Malformed bulk body"):
        es.bulk(body=body)
    assert not es.indices.exists("retail")


def test_a_field_is_mapped_by_its_first_value_anywhere_in_the_batch(make_client):
    es = make_client()
    body = ndjson(
        {"index": {"_id": "1"}}, {"note": None, "place": {"city": "Lyon"}},
        {"index": {"_id": "2"}}, {"note": 7, "place": {"zip": "69001"}},
        {"index": {"_id": "3"}}, {"note": 8.5, "when": "2026-03-01T11:00:00Z"},
    )  # fmt: skip
    es.bulk(body=body, index="events")
    assert es.indices.get_mapping(index="events")["events"]["mappings"]["properties"] == {
        "note": {"type": "long"},
        "place.city": {"type": "text"},
        "place.zip": {"type": "text"},
        "when": {"type": "date"},
    }
    assert es.count(index="events", q="place.zip:69001")["count"] == 1
    assert es.count(index="events", q="note:[7 TO 8]")["count"] == 2  # 8.5 kept as 8 in a long


def test_a_source_that_is_not_an_object_is_refused_alone(make_client):
    es = make_client()
    response = es.bulk(
        body=ndjson({"index": {"_id": "1"}}, [1, 2], {"index": {"_id": "2"}}, {"n": 1}),
        index="events",
    )
    assert [next(iter(i.values()))["status"] for i in response["items"]] == [400, 201]
    assert response["items"][0]["index"]["error"]["type"] == "mapper_parsing_exception"
    assert es.count(index="events")["count"] == 1


actions = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["index", "create"]), st.integers(0, 6), st.integers(-5, 50)),
        st.tuples(st.just("bad"), st.integers(0, 6), st.just("many")),
        st.tuples(st.just("delete"), st.integers(0, 6), st.none()),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(actions, min_size=1, max_size=4))
def test_bulk_requests_match_a_model_of_opensearch(make_client, requests):
    es = make_client()
    es.index(index="model", id="seed", body={"Quantity": 0, "Country": "France"})
    model = {"seed": {"Quantity": 0, "Country": "France"}}
    tokens = []
    for request in requests:
        lines, expected = [], []
        for action, number, value in request:
            doc_id = f"d{number}"
            verb = "index" if action == "bad" else action
            lines.append({verb: {"_index": "model", "_id": doc_id}})
            if action == "delete":
                expected.append(404 if model.pop(doc_id, None) is None else 200)
                continue
            source = {"Quantity": value, "Country": "Spain"}
            lines.append(source)
            if action == "bad":
                expected.append(400)
            elif action == "create" and doc_id in model:
                expected.append(409)
            else:
                expected.append(200 if doc_id in model else 201)
                model[doc_id] = source
        response = es.bulk(body=ndjson(*lines))
        assert [next(iter(i.values()))["status"] for i in response["items"]] == expected
        # A delete that finds nothing is a 404 without an error, as in OpenSearch.
        assert response["errors"] == any(s in (400, 409) for s in expected)
        tokens.append(es._store.changes_token("model"))
    assert tokens == sorted(tokens)
    hits = es.search(index="model", body={"size": 100})["hits"]["hits"]
    assert {h["_id"]: h["_source"] for h in hits} == model
    total = sum(d["Quantity"] for d in model.values())
    aggs = {"q": {"sum": {"field": "Quantity"}}}
    assert es.search(index="model", body={"aggs": aggs})["aggregations"]["q"]["value"] == total
