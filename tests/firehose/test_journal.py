"""The DirectPut put journal: durable, ordered, and whole after a torn write."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.firehose import _journal
from workbench.firehose._journal import Journal
from workbench.firehose._timeformat import format_instant


def test_records_come_back_in_order_across_segments(tmp_path, monkeypatch):
    monkeypatch.setattr(_journal, "SEGMENT_BYTES", 100)
    journal = Journal(tmp_path)
    firsts = [
        journal.append([b"%03d" % (i * 10 + j) for j in range(10)], arrival_ms=i) for i in range(8)
    ]
    assert firsts == list(range(0, 80, 10))
    assert len(list(tmp_path.glob("*.seg"))) > 1
    read = journal.read(0, 1000)
    assert [data for _, _, data in read] == [b"%03d" % i for i in range(80)]
    assert [o for o, _, _ in journal.read(37, 5)] == [37, 38, 39, 40, 41]
    journal.release(50)
    assert [o for o, _, _ in Journal(tmp_path).read(50, 1000)] == list(range(50, 80))
    assert journal.count() == 80


def test_a_torn_tail_is_dropped_and_repaired(tmp_path):
    journal = Journal(tmp_path)
    journal.append([b"one", b"two"], arrival_ms=1)
    [segment] = tmp_path.glob("*.seg")
    with open(segment, "ab") as f:
        f.write(b"\x10\x00\x00\x00partial")  # a put killed half way: never acknowledged
    again = Journal(tmp_path)
    assert [d for _, _, d in again.read(0, 10)] == [b"one", b"two"]
    assert again.append([b"three"], arrival_ms=2) == 2
    assert [d for _, _, d in Journal(tmp_path).read(0, 10)] == [b"one", b"two", b"three"]


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 31)))
def test_timestamp_patterns_agree_with_strftime(moment):
    moment = moment.replace(tzinfo=UTC)
    assert format_instant("yyyy/MM/dd/HH/", moment) == moment.strftime("%Y/%m/%d/%H/")
    assert format_instant("yyyy-MM-dd'T'HH:mm:ss", moment) == moment.strftime("%Y-%m-%dT%H:%M:%S")
    assert format_instant("EEE, d MMM yy", moment) == (
        f"{moment.strftime('%a')}, {moment.day} {moment.strftime('%b %y')}"
    )
    assert format_instant("hh a", moment) == moment.strftime("%I %p")
