import pytest

from workbench import SimulatedClock, Workbench


@pytest.fixture
def make_workbench(tmp_path):
    """A factory of workbenches on one temp home; each call opens it afresh (as a new process
    would), with a simulated clock unless one is given."""

    def make(clock=None, home=None):
        return Workbench(
            home=home or tmp_path / "home",
            clock=clock if clock is not None else SimulatedClock(start="2026-01-01T00:00:00Z"),
        )

    return make


@pytest.fixture
def make_stream(make_workbench):
    """A factory of streams: make_stream(shards=2, name="s", **create_kwargs) -> (wb, stream)."""

    def make(shards=2, name="s", wb=None, **kwargs):
        wb = wb or make_workbench()
        return wb, wb.streams.create_stream(name, shards, **kwargs)

    return make


@pytest.fixture
def read_shard():
    """read_shard(stream, shard_id, iterator_type="TRIM_HORIZON", limit=10000): every record of
    a shard from an iterator type to its current end, via get_records."""
    return _read_shard


def _read_shard(stream, shard_id, iterator_type="TRIM_HORIZON", limit=10000):
    """Every record of a shard from an iterator type to its current end, via get_records."""
    it = stream.get_shard_iterator(shard_id, iterator_type)
    records = []
    while it is not None:
        answer = stream.get_records(it, limit)
        records.extend(answer["Records"])
        it = answer["NextShardIterator"]
        if not answer["Records"] and answer["MillisBehindLatest"] == 0:
            break
    return records
