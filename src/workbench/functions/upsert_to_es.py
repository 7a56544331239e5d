"""The lab's UpsertToES function, as the lab writes it, with only its OpenSearch client swapped.

On AWS the module builds an ``OpenSearch(...)`` client from ES_HOST and credentials; here the
caller hands a client in (``wb.search.client()`` speaks the same calls). Everything else, the
settings read from the environment, the required-field check, the document id, the date
conversion, one bulk request with refresh, and the counters, is the lab's logic.

>>> import tempfile, base64, hashlib, json
>>> from workbench import Workbench
>>> wb = Workbench(home=tempfile.mkdtemp())
>>> handler = make_handler(wb.search.client())
>>> doc = {"Invoice": "489434", "StockCode": "85048", "Customer_ID": "13085.0",
...        "InvoiceDate": "2026-01-01 07:45:00", "Quantity": 12}
>>> event = {"Records": [{"kinesis": {"data": base64.b64encode(json.dumps(doc).encode())}}]}
>>> handler(event, None)
{'reads': 1, 'writes': 1, 'invalid': 0, 'index_errors': 0, 'errors': 0}
>>> doc_id = hashlib.md5(b"489434:85048:13085.0").hexdigest()[:8]
>>> wb.search.get_document("retail", doc_id)["InvoiceDate"]
'2026-01-01T07:45:00Z'
"""

from __future__ import annotations

import base64
import collections
import datetime
import hashlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any


def make_handler(es_client: Any) -> Callable[[dict, Any], dict]:
    """The lab's ``lambda_handler`` bound to ``es_client``."""

    def lambda_handler(event: dict, context: Any) -> dict:
        es_index = os.getenv("ES_INDEX", "retail")
        required_fields = [
            e for e in os.getenv("REQUIRED_FIELDS", "Invoice,StockCode,Customer_ID").split(",") if e
        ]
        date_type_fields = [e for e in os.getenv("DATE_TYPE_FIELDS", "InvoiceDate").split(",") if e]

        counter = collections.OrderedDict(
            [("reads", 0), ("writes", 0), ("invalid", 0), ("index_errors", 0), ("errors", 0)]
        )
        doc_list = []
        for record in event["Records"]:
            try:
                counter["reads"] += 1
                payload = base64.b64decode(record["kinesis"]["data"]).decode("utf-8")
                json_data = json.loads(payload)

                if not any(json_data.get(k, None) for k in required_fields):
                    counter["invalid"] += 1
                    continue

                doc_id = ":".join([json_data.get(k, "") for k in required_fields])
                json_data["doc_id"] = hashlib.md5(doc_id.encode("utf-8")).hexdigest()[:8]

                for k in date_type_fields:
                    if k in json_data:
                        dt = datetime.datetime.strptime(json_data[k], "%Y-%m-%d %H:%M:%S")
                        json_data[k] = dt.strftime("%Y-%m-%dT%H:%M:%SZ")

                es_index_action_meta = {"index": {"_index": es_index, "_id": json_data["doc_id"]}}
                doc_list.append(es_index_action_meta)
                doc_list.append(json_data)
                counter["writes"] += 1
            except Exception:
                traceback.print_exc()
                counter["errors"] += 1

        if doc_list:
            es_bulk_body = "\n".join([json.dumps(e) for e in doc_list])
            res = es_client.bulk(body=es_bulk_body, index=es_index, refresh=True)
            if res["errors"]:
                counter["index_errors"] += 1

        print("[INFO]", ", ".join(f"{k}={v}" for k, v in counter.items()), file=sys.stderr)
        return dict(counter)

    return lambda_handler
