"""PutRecords' loops in C (``_speedups``) against their Python twins: the same answers for any
input, the same refusals, and the same records stored whichever of them runs."""

import hashlib
import itertools
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.streams import _log, _records, _routing, _sequence
from workbench.streams._log import file_offsets_in_python
from workbench.streams._native import speedups as _speedups
from workbench.streams._routing import MAX_HASH_KEY, Router, key_digest, split_hash_keys
from workbench.streams._sequence import SEQUENCE_WIDTH, sequence_prefix


def test_built_where_required():
    """CI sets WORKBENCH_REQUIRE_SPEEDUPS: there the extension must have been built, or the
    tests below would pass by skipping."""
    if os.environ.get("WORKBENCH_REQUIRE_SPEEDUPS"):
        assert _speedups is not None, "workbench.streams._speedups was not built"
        assert _records.scan_entries is _speedups.scan_entries


needs_c = pytest.mark.skipif(_speedups is None, reason="built without a C compiler")

keys = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=127), min_size=0, max_size=260),
    st.text(min_size=1, max_size=8),  # non-ASCII: the careful path's
)
datas = st.one_of(st.binary(max_size=64), st.text(max_size=4), st.none(), st.just(bytearray(b"x")))
good_entry = st.builds(
    lambda d, k: {"Data": d, "PartitionKey": k},
    st.binary(max_size=64),
    st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=256),
)
odd_entry = st.one_of(
    st.builds(lambda d, k: {"Data": d, "PartitionKey": k}, datas, keys),
    st.builds(lambda d, k: {"Data": d, "PartitionKey": k, "ExplicitHashKey": "1"}, datas, keys),
    st.builds(lambda d: {"Data": d, "Key": "k"}, datas),
    st.builds(lambda k: {"PartitionKey": k}, keys),
    st.just("not a dict"),
    st.just(None),
)
entries = st.lists(
    st.one_of(good_entry, good_entry, good_entry, odd_entry), min_size=1, max_size=40
)


def scanned_alike(c_result, py_result):
    if c_result is None or py_result is None:
        return c_result is py_result
    c_datas, c_keys, c_dsz, c_ksz, c_digests = c_result
    p_datas, p_keys, p_dsz, p_ksz, p_digests = py_result
    return (
        c_datas == p_datas
        and c_keys == p_keys
        and np.frombuffer(c_dsz, np.int64).tolist() == np.asarray(p_dsz).tolist()
        and np.frombuffer(c_ksz, np.int64).tolist() == np.asarray(p_ksz).tolist()
        and c_digests == p_digests
    )


@needs_c
@settings(max_examples=300, deadline=None)
@given(entries, st.integers(min_value=1, max_value=300))
def test_scan_entries_agrees_with_python(records, max_bytes):
    c_memo, py_memo = {}, {}
    c_result = _speedups.scan_entries(records, max_bytes, c_memo, key_digest)
    py_result = _records.scan_entries_in_python(records, max_bytes, py_memo, key_digest)
    assert scanned_alike(c_result, py_result)
    if c_result is not None:
        assert c_memo == py_memo
        digests = c_result[4]
        for i, entry in enumerate(records):
            expected = hashlib.md5(entry["PartitionKey"].encode()).digest()
            assert digests[16 * i : 16 * i + 16] == expected


@needs_c
def test_scan_entries_takes_known_digests_from_the_memo():
    records = [{"Data": b"x", "PartitionKey": "a"}, {"Data": b"y", "PartitionKey": "b"}]
    asked = []

    def digest(key):
        asked.append(key)
        return key_digest(key)

    memo = {"a": b"A" * 16}
    datas, keys, _, _, digests = _speedups.scan_entries(records, 1024, memo, digest)
    assert (datas, keys, asked) == ([b"x", b"y"], ["a", "b"], ["b"])
    assert digests == b"A" * 16 + key_digest("b")
    assert memo["b"] == key_digest("b")


@needs_c
@pytest.mark.parametrize(
    ("digest", "error"),
    [(lambda key: b"short", TypeError), (lambda key: 1 / 0, ZeroDivisionError)],
)
def test_scan_entries_passes_on_a_failing_digest(digest, error):
    memo = {}
    with pytest.raises(error):
        _speedups.scan_entries([{"Data": b"x", "PartitionKey": "a"}], 1024, memo, digest)
    assert memo == {}


@st.composite
def gatherings(draw):
    n = draw(st.integers(min_value=0, max_value=30))
    datas = draw(st.lists(st.binary(max_size=20), min_size=n, max_size=n))
    keys = draw(st.lists(st.text(min_size=1, max_size=6), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=n), max_size=5)))
    counts = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    return datas, keys, np.array(order, dtype=np.int64), counts


@needs_c
@settings(max_examples=200, deadline=None)
@given(gatherings())
def test_gather_agrees_with_python(case):
    datas, keys, order, counts = case
    data, data_offsets, joined_keys, key_offsets = _speedups.gather(datas, keys, order, counts)
    p_data, p_data_offsets, p_keys, p_key_offsets = _records.gather_in_python(
        datas, keys, order, counts
    )
    assert (data, joined_keys) == (p_data, p_keys)
    assert np.frombuffer(data_offsets, np.int64).tolist() == p_data_offsets.tolist()
    assert np.frombuffer(key_offsets, np.int64).tolist() == p_key_offsets.tolist()
    # Each group's stretch holds its records, in order.
    offsets = np.frombuffer(data_offsets, np.int64)
    at = picked = 0
    for group, count in enumerate(counts):
        ends = offsets[picked + group : picked + group + count + 1]
        pieces = [data[at + a : at + b] for a, b in itertools.pairwise(ends)]
        assert pieces == [datas[i] for i in order[picked : picked + count]]
        at += int(ends[-1])
        picked += count


@needs_c
def test_gather_refuses_what_does_not_add_up():
    with pytest.raises(ValueError, match="add up"):
        _speedups.gather([b"a"], ["k"], np.array([0], dtype=np.int64), [2])
    with pytest.raises(IndexError):
        _speedups.gather([b"a"], ["k"], np.array([3], dtype=np.int64), [1])
    with pytest.raises(TypeError):
        _speedups.gather([1], ["k"], np.array([0], dtype=np.int64), [1])


@st.composite
def answers(draw):
    """(count, runs): records 0..count-1 split among runs, each with its shard id, its members
    in any order and their sequence numbers' digits."""
    count = draw(st.integers(min_value=0, max_value=40))
    positions = draw(st.permutations(range(count)))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=count), max_size=4)))
    runs = []
    for i, (a, b) in enumerate(itertools.pairwise([0, *cuts, count])):
        members = np.array(positions[a:b], dtype=np.int64)
        numbers = draw(st.lists(st.integers(0, 10**30), min_size=b - a, max_size=b - a))
        digits = "".join(f"{p:0{SEQUENCE_WIDTH}d}" for p in numbers).encode()
        runs.append((f"shardId-{i:012d}", members, np.frombuffer(digits, dtype=np.uint8)))
    return count, runs


@needs_c
@settings(max_examples=200, deadline=None)
@given(answers())
def test_answer_records_agrees_with_python(case):
    count, runs = case
    c_answer = _speedups.answer_records(count, runs, SEQUENCE_WIDTH)
    assert c_answer == _records.answer_records_in_python(count, runs, SEQUENCE_WIDTH)
    for shard_id, members, digits in runs:
        numbers = digits.tobytes().decode()
        for i, at in enumerate(members.tolist()):
            expected = numbers[i * SEQUENCE_WIDTH : (i + 1) * SEQUENCE_WIDTH]
            assert c_answer[at] == {"ShardId": shard_id, "SequenceNumber": expected}


@needs_c
def test_answer_records_refuses_inconsistent_runs():
    one = np.frombuffer(b"1" * SEQUENCE_WIDTH, dtype=np.uint8)
    at = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="exactly one run"):
        _speedups.answer_records(2, [("s", at, one)], SEQUENCE_WIDTH)  # record 1 in none
    with pytest.raises(ValueError, match="exactly one run"):
        _speedups.answer_records(1, [("s", at, one), ("t", at, one)], SEQUENCE_WIDTH)
    with pytest.raises(ValueError, match="exactly one run"):
        _speedups.answer_records(1, [("s", np.array([5], dtype=np.int64), one)], SEQUENCE_WIDTH)
    with pytest.raises(ValueError, match="do not match"):
        _speedups.answer_records(1, [("s", at, b"\xff" * SEQUENCE_WIDTH)], SEQUENCE_WIDTH)
    with pytest.raises(ValueError, match="do not match"):
        _speedups.answer_records(1, [("s", at, one[:-1])], SEQUENCE_WIDTH)


hash_keys = st.lists(st.integers(min_value=0, max_value=MAX_HASH_KEY), max_size=60)


@needs_c
@settings(max_examples=200, deadline=None)
@given(
    hash_keys,
    st.lists(st.integers(min_value=0, max_value=MAX_HASH_KEY - 1), max_size=6),
)
def test_shard_order_agrees_with_numpy(keys, cuts):
    # Shard ends: any ascending cut points, the last at 2^128 - 1; keys also on and next to them.
    ends = [*sorted(set(cuts)), MAX_HASH_KEY]
    keys = [*keys, *ends, *(e + 1 for e in ends[:-1])]
    router = Router(ends)
    hi, lo = split_hash_keys(keys)
    order, counts = _speedups.shard_order(hi, lo, router._hi, router._lo)
    where = router.shards_of(hi, lo)
    assert np.frombuffer(order, np.int64).tolist() == np.argsort(where, kind="stable").tolist()
    assert counts == np.bincount(where, minlength=len(ends)).tolist()
    # And the routing itself, from the hash keys as integers.
    for position, key in zip(where.tolist(), keys, strict=True):
        assert key <= ends[position] and (position == 0 or key > ends[position - 1])


@needs_c
@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 1000), max_size=30), st.integers(0, 2**31 - 40_000))
def test_file_offsets_agree_with_numpy(sizes, base):
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
    expected = file_offsets_in_python(offsets, base)
    assert _speedups.file_offsets(offsets, base) == expected.tobytes()


@needs_c
def test_file_offsets_refuse_what_int32_cannot_hold():
    with pytest.raises(OverflowError):
        _speedups.file_offsets(np.array([0, 10], dtype=np.int64), 2**31 - 5)
    with pytest.raises(ValueError):
        _speedups.file_offsets(np.array([], dtype=np.int64), 0)


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**12),
    st.one_of(
        st.integers(min_value=0, max_value=2**63),
        st.integers(min_value=1, max_value=19).map(lambda k: 10**k - 3),
    ),
    st.integers(min_value=0, max_value=700),
)
def test_sequence_digits_agree_with_python(shard, start, count):
    prefix = sequence_prefix(1767225600000, shard)
    written = _speedups.sequence_digits(prefix, start, count, SEQUENCE_WIDTH)
    expected = _sequence.sequence_bytes_in_python(prefix, start, count)
    assert written == expected.tobytes()


@needs_c
def test_sequence_digits_refuse_positions_past_64_bits():
    prefix = sequence_prefix(1767225600000, 0)
    with pytest.raises(OverflowError):
        _speedups.sequence_digits(prefix, 2**64 - 2, 5, SEQUENCE_WIDTH)
    with pytest.raises(OverflowError):
        _speedups.sequence_digits(prefix, -1, 1, SEQUENCE_WIDTH)
    # sequence_bytes goes on in Python there.
    assert _sequence.sequence_bytes(prefix, 2**64 - 2, 5).shape == (5, SEQUENCE_WIDTH)


def test_put_records_stores_the_same_with_either(make_stream, monkeypatch):
    """The whole PutRecords path with the Python twins stores and answers as with C."""
    records = [{"Data": f"r{i}".encode(), "PartitionKey": f"k{i % 7}"} for i in range(300)]
    answers, stored = [], []
    for twins in (False, True):
        if twins:
            monkeypatch.setattr(_records, "scan_entries", _records.scan_entries_in_python)
            monkeypatch.setattr(_records, "gather", _records.gather_in_python)
            monkeypatch.setattr(_records, "answer_records", _records.answer_records_in_python)
            monkeypatch.setattr(_sequence, "sequence_digits", None)
            monkeypatch.setattr(_routing, "speedups", None)
            monkeypatch.setattr(_log, "file_offsets", file_offsets_in_python)
        _, stream = make_stream(shards=3, name=f"s{int(twins)}")
        answer = stream.put_records(records)
        answers.append([(r["ShardId"], r["SequenceNumber"][-27:]) for r in answer["Records"]])
        stored.append(
            {
                shard["ShardId"]: [
                    (r["PartitionKey"], r["Data"], r["SequenceNumber"][-27:])
                    for r in stream.get_records(
                        stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
                    )["Records"]
                ]
                for shard in stream.list_shards()
            }
        )
    assert answers[0] == answers[1]
    assert stored[0] == stored[1]
    assert sum(len(v) for v in stored[0].values()) == len(records)
