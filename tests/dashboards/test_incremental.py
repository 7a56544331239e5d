"""A date-histogram panel reads only what changed, and still equals a fresh full read."""

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import SimulatedClock, Workbench
from workbench.dashboards import IndexAggregation, Window

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def histogram(wb, **kwargs):
    return IndexAggregation(wb.search, "retail", bucket="date_histogram:InvoiceDate",
                            time_field="InvoiceDate", metric="sum:Quantity", **kwargs)  # fmt: skip


def window(wb, minutes=15):
    end = wb.clock.datetime().replace(tzinfo=None)
    return Window(end - timedelta(minutes=minutes), end)


def doc(seconds_ago, quantity, wb):
    when = wb.clock.datetime() - timedelta(seconds=seconds_ago)
    return {"InvoiceDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "Quantity": quantity}


operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 40), st.integers(-60, 1200), st.integers(1, 9)),
        st.tuples(st.just("delete"), st.integers(0, 40)),
        st.tuples(st.just("advance"), st.integers(1, 120)),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations)
def test_incremental_histogram_equals_a_full_read(tmp_path_factory, ops):
    wb = Workbench(home=tmp_path_factory.mktemp("h"), clock=SimulatedClock(start=START))
    wb.search.index_documents("retail", [(f"seed{i}", doc(i * 20, 1, wb)) for i in range(40)])
    live = histogram(wb)
    live.fetch(window(wb))
    for op in ops:
        if op[0] == "put":  # a new document, or an old _id moved in time (an upsert)
            _, number, seconds_ago, quantity = op
            wb.search.index_documents("retail", [(f"d{number}", doc(seconds_ago, quantity, wb))])
        elif op[0] == "delete":
            if wb.search.get_document("retail", f"d{op[1]}") is not None:
                wb.search.delete_document("retail", f"d{op[1]}")
        else:
            wb.clock.advance(op[1])
        now = window(wb)
        assert live.fetch(now).to_dicts() == histogram(wb).fetch(now).to_dicts()


def test_a_tick_after_new_documents_asks_only_for_the_newest_buckets(tmp_path):
    wb = Workbench(home=tmp_path, clock=SimulatedClock(start=START))
    wb.search.index_documents("retail", [(str(i), doc(i, 2, wb)) for i in range(0, 3600, 3)])
    live = histogram(wb)
    asked = []
    search = wb.search.search

    def spy(index, body):
        asked.append(body["query"]["bool"]["filter"][0]["range"]["InvoiceDate"]["gte"])
        return search(index, body)

    wb.search.search = spy
    live.fetch(window(wb))
    wb.clock.advance("10s")
    wb.search.index_documents("retail", [("new", doc(2, 5, wb))])
    frame = live.fetch(window(wb))
    assert asked[0] == "2026-03-01T11:45:00Z"  # the first read covers the window
    assert asked[1] == "2026-03-01T12:00:00Z"  # the next only the bucket that changed
    assert frame["value"].sum() == histogram(wb).fetch(window(wb))["value"].sum()
