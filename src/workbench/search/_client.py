"""A client shaped like opensearch-py's, for what the lab's code calls on OpenSearch.

The lab's UpsertToES function builds an NDJSON bulk body and calls ``bulk``; Kibana calls
``search`` and ``count``. Code written against opensearch-py runs with only its client swapped:

>>> import tempfile, pathlib
>>> from workbench.clock import SimulatedClock
>>> from workbench.search import SearchIndices
>>> es = SearchClient(SearchIndices(pathlib.Path(tempfile.mkdtemp()), SimulatedClock(start=0)))
>>> body = '{"index": {"_index": "retail", "_id": "d1"}}\\n{"Quantity": 6}\\n'
>>> es.bulk(body=body, refresh=True)["errors"]
False
>>> es.search(index="retail", body={"aggs": {"q": {"sum": {"field": "Quantity"}}}})["aggregations"]
{'q': {'value': 6.0}}
"""

from __future__ import annotations

import time
import uuid
from itertools import repeat
from operator import contains, itemgetter

import orjson

from workbench.errors import ServiceError
from workbench.search._index import SearchIndices
from workbench.search._mapping import MapperParsingException


class ActionRequestValidationException(ServiceError):
    """A bulk body or request that OpenSearch would refuse as malformed."""


def _parse_bulk(body: str | bytes | list) -> list[dict]:
    if isinstance(body, list):
        if all(map(isinstance, body, repeat(dict))):
            return body  # already parsed, as the lab's function hands it over
        return [orjson.loads(x) if isinstance(x, (str, bytes)) else x for x in body]
    lines = [line for line in (body.decode() if isinstance(body, bytes) else body).splitlines()]
    try:
        return [orjson.loads(line) for line in lines if line.strip()]
    except orjson.JSONDecodeError as error:
        raise ActionRequestValidationException(f"Malformed bulk body: {error}") from None


def _single_run(lines: list, index: str | None) -> tuple[str, str, list, list] | None:
    """The action (``index`` or ``create``), the index, the ``_id`` and the sources when a bulk
    body is one run of such actions with ids on one index, the body the lab's function sends;
    None for any other body. Found with builtins mapped over the lines, so a bulk request of a
    thousand documents runs no Python code per document here."""
    actions, sources = lines[::2], lines[1::2]
    if (
        len(actions) != len(sources)
        or not all(map(isinstance, actions, repeat(dict)))
        or set(map(len, actions)) != {1}
    ):
        return None
    (action,) = actions[0]
    if action not in ("index", "create") or not all(
        map(dict.__contains__, actions, repeat(action))
    ):
        return None
    metas = list(map(itemgetter(action), actions))
    if not all(map(isinstance, metas, repeat(dict))) or not all(
        map(dict.__contains__, metas, repeat("_id"))
    ):
        return None
    targets = set(map(dict.get, metas, repeat("_index"), repeat(index)))
    if len(targets) != 1 or None in targets:
        return None
    (target,) = targets
    ids = list(map(itemgetter("_id"), metas))
    if not all(map(isinstance, ids, repeat(str))):
        ids = list(map(str, ids))
    return action, target, ids, sources


class _Indices:
    """``client.indices``: index lifecycle and mappings."""

    def __init__(self, store: SearchIndices) -> None:
        self._store = store

    def create(self, index: str, body: dict | None = None, **_: object) -> dict:
        self._store.create_index(index, (body or {}).get("mappings"))
        return {"acknowledged": True, "shards_acknowledged": True, "index": index}

    def delete(self, index: str, **_: object) -> dict:
        for name in self._store.resolve(index):
            self._store.delete_index(name)
        return {"acknowledged": True}

    def exists(self, index: str, **_: object) -> bool:
        return all(self._store.exists(name) for name in index.split(","))

    def refresh(self, index: str | None = None, **_: object) -> dict:
        self._store.resolve(index)  # writes are visible at once; only the names are checked
        return {"_shards": {"total": 1, "successful": 1, "failed": 0}}

    def get_mapping(self, index: str | None = None, **_: object) -> dict:
        return {
            name: {
                "mappings": {
                    "properties": {
                        field: {"type": field_type}
                        for field, field_type in self._store.mapping(name).items()
                    }
                }
            }
            for name in self._store.resolve(index)
        }

    def put_mapping(self, body: dict, index: str, **_: object) -> dict:
        for name in self._store.resolve(index):
            self._store.put_mapping(name, body)
        return {"acknowledged": True}


class SearchClient:
    """What the lab calls on opensearch-py: bulk, index, get, delete, search, count, indices."""

    def __init__(self, store: SearchIndices) -> None:
        self._store = store
        self.indices = _Indices(store)

    def info(self, **_: object) -> dict:
        return {"name": "workbench", "version": {"distribution": "workbench-search"}}

    def ping(self, **_: object) -> bool:
        return True

    def index(
        self, index: str, body: dict, id: str | None = None, refresh: object = None, **_: object
    ) -> dict:
        doc_id = id if id is not None else _new_id()
        (item,) = self._store.index_documents(index, [(str(doc_id), body)])
        _raise_item(item)
        return {**item, "_shards": {"total": 1, "successful": 1, "failed": 0}}

    def bulk(self, body: str | bytes | list, index: str | None = None, **_: object) -> dict:
        """Index, create, update (``doc`` / ``doc_as_upsert``) and delete actions in one request.

        Runs of index or create actions on one index go to the index as one batch, which is
        what makes a bulk request fast; updates and deletes are applied in their place.
        """
        started = time.perf_counter()
        lines = _parse_bulk(body)
        items: list[dict] = []
        results: list[dict] = []  # each item's result, as in ``items`` without the action

        def settle(action: str, outcomes: list[dict]) -> None:
            results.extend(outcomes)
            items.extend([{action: outcome} for outcome in outcomes])

        def flush() -> None:
            if run_key is not None and run:
                action, target = run_key
                settle(
                    action,
                    self._store.index_documents(target, run, create_only=action == "create"),
                )
            run.clear()

        run_key: tuple[str, str] | None = None
        run: list[tuple[str, dict]] = []
        position = 0
        single = _single_run(lines, index)
        if single is not None:  # the whole body is one run: the loop below has nothing to do
            action, target, ids, sources = single
            create_only = action == "create"
            settle(action, self._store.index_batch(target, ids, sources, create_only=create_only))
            position = len(lines)
        while position < len(lines):
            ((action, meta),) = lines[position].items()
            target = meta.get("_index", index)
            if target is None:
                raise ActionRequestValidationException("Validation Failed: 1: index is missing;")
            doc_id = str(meta["_id"]) if "_id" in meta else _new_id()
            if action not in ("index", "create", "update", "delete") or (
                action != "delete" and position + 1 >= len(lines)
            ):
                raise ActionRequestValidationException(
                    f"Malformed action/metadata line [{position + 1}]: expected index, create, "
                    f"update or delete followed by a source line, got [{action}]"
                )
            if action in ("index", "create"):
                if run_key != (action, target):
                    flush()
                    run_key = (action, target)
                run.append((doc_id, lines[position + 1]))
                position += 2
                continue
            flush()
            run_key = None
            if action == "delete":
                found = self._store.delete_document(target, doc_id)
                settle("delete", [{"_index": target, "_id": doc_id,
                                   "status": 200 if found else 404,
                                   "result": "deleted" if found else "not_found"}])  # fmt: skip
                position += 1
                continue
            source = {
                **(self._store.get_document(target, doc_id) or {}),
                **lines[position + 1]["doc"],
            }
            settle(action, self._store.index_documents(target, [(doc_id, source)]))
            position += 2
        flush()
        return {
            "took": int((time.perf_counter() - started) * 1000),
            "errors": any(map(contains, results, repeat("error"))),
            "items": items,
        }

    def get(self, index: str, id: str, **_: object) -> dict:
        source = self._store.get_document(index, str(id))
        found = {"_index": index, "_id": str(id), "found": source is not None}
        return {**found, "_source": source} if source is not None else found

    def exists(self, index: str, id: str, **_: object) -> bool:
        return self._store.get_document(index, str(id)) is not None

    def delete(self, index: str, id: str, **_: object) -> dict:
        found = self._store.delete_document(index, str(id))
        return {"_index": index, "_id": str(id), "result": "deleted" if found else "not_found"}

    def search(
        self, index: str | None = None, body: dict | None = None, q: str | None = None, **params
    ) -> dict:
        body = dict(body or {})
        if q is not None:
            body["query"] = {"query_string": {"query": q}}
        for key in ("size", "from", "sort"):
            if key in params or f"{key}_" in params:
                body[key] = params.get(key, params.get(f"{key}_"))
        return self._store.search(index, body)

    def count(
        self, index: str | None = None, body: dict | None = None, q: str | None = None, **_: object
    ) -> dict:
        query = {"query_string": {"query": q}} if q is not None else (body or {}).get("query")
        return {
            "count": self._store.count(index, {"query": query}),
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        }


def _new_id() -> str:
    return uuid.uuid4().hex[:20]


def _raise_item(item: dict) -> None:
    if "error" in item:
        raise MapperParsingException(item["error"]["reason"])
