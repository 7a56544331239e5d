"""The lab's UpsertToES against the lab's description of it (the-lab.md, step 8)."""

import base64
import contextlib
import datetime
import hashlib
import io
import json

from hypothesis import given
from hypothesis import strategies as st

from workbench import SimulatedClock, Workbench
from workbench.functions.upsert_to_es import iso_utc, make_handler


def event(*payloads):
    return {"Records": [{"kinesis": {"data": base64.b64encode(p).decode()}} for p in payloads]}


def line(**fields):
    return json.dumps(fields).encode()


def run(handler, *payloads):
    with contextlib.redirect_stderr(io.StringIO()) as log:
        counters = handler(event(*payloads), None)
    return counters, log.getvalue()


def test_counters_follow_each_record(tmp_path):
    wb = Workbench(home=tmp_path, clock=SimulatedClock(start="2026-01-01"))
    handler = make_handler(wb.search.client())
    counters, log = run(
        handler,
        line(Invoice="1", StockCode="A", Customer_ID="7", InvoiceDate="2026-01-01 07:45:00"),
        line(Description="none of the required fields"),
        b"not json",
        line(Invoice="2", StockCode="B", Customer_ID="", InvoiceDate="01/01/2026 07:45"),
        line(Invoice="3", StockCode="C", Customer_ID="8", InvoiceDate="2026-1-2 7:05:09"),
    )
    assert counters == {"reads": 5, "writes": 2, "invalid": 1, "index_errors": 0, "errors": 2}
    assert "[INFO] reads=5, writes=2, invalid=1, index_errors=0, errors=2" in log
    doc_id = hashlib.md5(b"3:C:8").hexdigest()[:8]
    document = wb.search.get_document("retail", doc_id)
    assert document["InvoiceDate"] == "2026-01-02T07:05:09Z"
    assert document["doc_id"] == doc_id


def test_a_document_the_index_refuses_counts_as_an_index_error(tmp_path):
    wb = Workbench(home=tmp_path, clock=SimulatedClock(start="2026-01-01"))
    handler = make_handler(wb.search.client())
    run(handler, line(Invoice="1", StockCode="A", Customer_ID="7", Quantity=3))
    counters, _ = run(handler, line(Invoice="2", StockCode="B", Customer_ID="7", Quantity="x"))
    assert counters["index_errors"] == 1 and counters["writes"] == 1
    assert wb.search.count("retail") == 1


LOOSE = r"[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}"  # strptime's range
texts = st.one_of(
    st.datetimes(datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
    ),
    st.from_regex(
        r"[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}", fullmatch=True
    ),
    st.text(max_size=20),
)


@given(texts)
def test_the_date_conversion_is_strptimes(text):
    try:
        expected = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    except ValueError:
        expected = ValueError
    try:
        got = iso_utc(text)
    except ValueError:
        got = ValueError
    assert got == expected
