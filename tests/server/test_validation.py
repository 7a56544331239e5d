"""The declarative validation against the reference's limits and AWS's message format."""

import base64
import binascii
import copy

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from workbench.errors import SerializationException, ValidationException
from workbench.server._model import ServiceModel

KINESIS = ServiceModel.load("kinesis")
FIREHOSE = ServiceModel.load("firehose")


def _error(operation, body, model=KINESIS):
    with pytest.raises((ValidationException, SerializationException)) as caught:
        model.parse(operation, body)
    return caught.value


@pytest.mark.parametrize(
    "name", ["", "../etc", "a/b", "x" * 129, "with space", "ünï", "a\x00b", "/abs"]
)
def test_stream_names_outside_the_pattern_or_length_are_refused(name):
    error = _error("CreateStream", {"StreamName": name, "ShardCount": 1})
    assert error.code == "ValidationException"
    assert "at 'streamName' failed to satisfy constraint" in error.message


@pytest.mark.parametrize("name", ["a", "A-b_c.d", "x" * 128, "retail-trans"])
def test_valid_stream_names_pass(name):
    parsed = KINESIS.parse("CreateStream", {"StreamName": name, "ShardCount": 1})
    assert parsed["StreamName"] == name


def test_missing_required_member_is_reported_as_null():
    error = _error("PutRecord", {"StreamName": "s", "Data": "aGk="})
    assert error.message == (
        "1 validation error detected: Value null at 'partitionKey' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_every_broken_constraint_is_counted():
    error = _error("PutRecords", {"StreamName": "a/b", "Records": []})
    assert error.message.startswith("2 validation errors detected: ")
    assert "at 'records' failed to satisfy constraint: Member must have length greater" in (
        error.message
    )


def test_paths_in_lists_are_one_based_members_in_camel_case():
    records = [{"Data": "aGk=", "PartitionKey": "k"}, {"Data": "aGk=", "PartitionKey": ""}]
    error = _error("PutRecords", {"StreamName": "s", "Records": records})
    assert "at 'records.2.member.partitionKey'" in error.message


def test_more_than_500_records_is_refused():
    records = [{"Data": "", "PartitionKey": "k"}] * 501
    error = _error("PutRecords", {"StreamName": "s", "Records": records})
    assert "Member must have length less than or equal to 500" in error.message


def test_partition_key_of_256_characters_passes_and_257_does_not():
    ok = {"StreamName": "s", "Data": "", "PartitionKey": "é" * 256}
    assert KINESIS.parse("PutRecord", ok)["PartitionKey"] == "é" * 256
    error = _error("PutRecord", {**ok, "PartitionKey": "é" * 257})
    assert "Member must have length less than or equal to 256" in error.message


@pytest.mark.parametrize("key", ["01", "-1", "1.5", "abc", "1" * 40])
def test_explicit_hash_keys_must_be_decimal_without_leading_zeros(key):
    body = {"StreamName": "s", "Data": "", "PartitionKey": "k", "ExplicitHashKey": key}
    assert "at 'explicitHashKey'" in _error("PutRecord", body).message


def test_numbers_out_of_range_use_value_wording():
    error = _error("GetRecords", {"ShardIterator": "x", "Limit": 10001})
    expected = "Value '10001' at 'limit' failed to satisfy constraint: Member must have value less"
    assert expected in error.message


def test_enums_list_the_allowed_values():
    body = {"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "OLDEST"}
    error = _error("GetShardIterator", body)
    assert "Member must satisfy enum value set: [AT_SEQUENCE_NUMBER" in error.message


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({"StreamName": 5, "ShardCount": 1}, "string"),
        ({"StreamName": "s", "ShardCount": "1"}, "integer"),
        ({"StreamName": "s", "ShardCount": True}, "integer"),
        ({"StreamName": "s", "ShardCount": 1.5}, "integer"),
        ({"StreamName": ["s"], "ShardCount": 1}, "string"),
        ({"StreamName": "s", "ShardCount": 1, "Tags": []}, "object"),
    ],
)
def test_wrong_types_are_serialization_errors(body, what):
    error = _error("CreateStream", body)
    assert error.code == "SerializationException"
    assert what in error.message


def test_malformed_base64_is_a_serialization_error():
    error = _error("PutRecord", {"StreamName": "s", "PartitionKey": "k", "Data": "not base64!"})
    assert error.code == "SerializationException"


def test_blob_over_the_limit_reports_its_length():
    big = "A" * (((10 * 1024 * 1024) // 3 + 2) * 4)
    error = _error("PutRecord", {"StreamName": "s", "PartitionKey": "k", "Data": big})
    assert "java.nio.HeapByteBuffer[pos=0 lim=" in error.message
    assert "at 'data' failed to satisfy constraint: Member must have length less than or equal" in (
        error.message
    )


def test_unknown_members_are_ignored_as_aws_does():
    assert KINESIS.parse("ListStreams", {"Surprise": 1}) == {}


def test_timestamps_become_aware_datetimes():
    body = {
        "StreamName": "s",
        "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AT_TIMESTAMP",
        "Timestamp": 1767225600.5,
    }
    parsed = KINESIS.parse("GetShardIterator", body)
    assert parsed["Timestamp"].timestamp() == 1767225600.5
    assert parsed["Timestamp"].tzinfo is not None


def test_firehose_batches_are_limited_to_500_records():
    records = [{"Data": "aGk="}] * 501
    error = _error("PutRecordBatch", {"DeliveryStreamName": "d", "Records": records}, FIREHOSE)
    assert "at 'records' failed to satisfy constraint" in error.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    operation=st.sampled_from(sorted(KINESIS.operations)),
    body=st.dictionaries(
        st.sampled_from(["StreamName", "Records", "Data", "Limit", "ShardId", "Tags", "Other"]),
        json_values,
    ),
)
def test_any_json_body_is_accepted_or_refused_with_an_aws_error(operation, body):
    try:
        KINESIS.parse(operation, body)
    except (ValidationException, SerializationException) as error:
        assert error.message


# PutRecords' records go through the one-pass check when it takes them, the full walk otherwise;
# either way the outcome is AWS's: blobs decoded as strict base64 (bytes as CBOR carries them),
# or the first malformed base64 refused, or every broken constraint listed.
_BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
valid_base64 = st.binary(max_size=24).map(lambda raw: base64.b64encode(raw).decode())
# Text that only a lenient decoder would take: base64 with one stray character in it.
nearly_base64 = st.builds(
    lambda text, at, stray: text[:at] + stray + text[at:],
    valid_base64,
    st.integers(0, 32),
    st.sampled_from([" ", "\n", "-", "_", "=", "é", "*"]),
)
# Base64 with leftover bits set ("QR==" beside "QQ=="): not canonical, yet strict binascii
# decodes it, and so must the column check.
leftover_bits = st.builds(
    lambda raw, bits: _with_leftover_bits(base64.b64encode(raw).decode(), bits),
    st.binary(min_size=1, max_size=24).filter(lambda raw: len(raw) % 3),
    st.integers(0, 14),
)


def _with_leftover_bits(text: str, bits: int) -> str:
    last = len(text) - text.count("=") - 1
    low = 1 + bits % (15 if text.endswith("==") else 3)
    return (
        text[:last] + _BASE64_ALPHABET[_BASE64_ALPHABET.index(text[last]) | low] + text[last + 1 :]
    )


any_text = nearly_base64 | st.text(alphabet=_BASE64_ALPHABET + "==== \n-_é", max_size=12)
partition_keys = st.one_of(st.text(min_size=1, max_size=8), st.sampled_from(["", "p" * 257]))
hash_keys = st.sampled_from(["0", "42", str(2**128 - 1), "01", "-1", "x"])


def _records(data, optional):
    entry = st.fixed_dictionaries({"Data": data, "PartitionKey": partition_keys}, optional=optional)
    return st.lists(entry, min_size=1, max_size=40)


# Mostly lists whose records look alike (one column check), some mixed (entry by entry).
records = st.sampled_from(
    [
        valid_base64,
        valid_base64 | any_text,
        valid_base64 | leftover_bits,
        st.binary(max_size=24),
        valid_base64 | st.binary(),
    ]
).flatmap(lambda data: _records(data, {}) | _records(data, {"ExplicitHashKey": hash_keys}))


def _expected_records(entries):
    """What AWS makes of ``entries``: the records with bytes, or the exception it answers."""
    decoded = []
    for entry in entries:
        data = entry["Data"]
        if isinstance(data, str):
            try:
                data = binascii.a2b_base64(data, strict_mode=True)
            except (binascii.Error, ValueError):
                return SerializationException, []
        decoded.append({**entry, "Data": data})
    broken = []
    for index, entry in enumerate(entries, start=1):
        for name, value in entry.items():  # in the order the request lists them
            if (name == "PartitionKey" and not 1 <= len(value) <= 256) or (
                name == "ExplicitHashKey" and value in ("01", "-1", "x")
            ):
                broken.append(f"records.{index}.member.{name[0].lower()}{name[1:]}")
    if broken:
        return ValidationException, broken
    return decoded, []


@settings(max_examples=300, deadline=None)
@given(entries=records)
def test_records_come_out_decoded_or_refused_as_aws_would(entries):
    expected, broken = _expected_records(entries)
    body = {"StreamName": "s", "Records": copy.deepcopy(entries)}
    if isinstance(expected, list):
        assert KINESIS.parse("PutRecords", body) == {"StreamName": "s", "Records": expected}
    else:
        error = _error("PutRecords", body)
        assert isinstance(error, expected)
        if broken:
            noun = "error" if len(broken) == 1 else "errors"
            assert error.message.startswith(f"{len(broken)} validation {noun} detected: ")
            listed = [part.split("'")[3] for part in error.message.split("; ")]
            assert listed == broken[:10]


@settings(max_examples=300, deadline=None)
@given(entries=records)
def test_a_json_body_checked_in_one_pass_comes_out_as_its_parsed_dicts(entries):
    assume(all(isinstance(entry["Data"], str) for entry in entries))
    body = orjson.dumps({"StreamName": "s", "Records": entries})
    decoded = KINESIS.decode_json("PutRecords", body)
    expected, _ = _expected_records(entries)
    if decoded is not None:  # else the full walk decides, as the test above checks
        assert decoded == {"StreamName": "s", "Records": expected}


@settings(max_examples=100, deadline=None)
@given(
    entries=st.lists(
        st.fixed_dictionaries(
            {"Data": valid_base64, "PartitionKey": st.text(min_size=1, max_size=8)},
            optional={"ExplicitHashKey": st.sampled_from(["0", "42", str(2**128 - 1)])},
        ),
        min_size=1,
        max_size=40,
    )
)
def test_the_one_pass_check_takes_every_valid_json_put_records(entries):
    # What boto3 sends: only a body the full walk would refuse may be handed on to it.
    body = orjson.dumps({"StreamName": "s", "Records": entries})
    expected, _ = _expected_records(entries)
    assert KINESIS.decode_json("PutRecords", body) == {"StreamName": "s", "Records": expected}


def test_records_of_one_shape_and_of_mixed_shapes_parse_alike():
    alike = [{"Data": "aGk=", "PartitionKey": f"p{i}"} for i in range(3)]
    mixed = [alike[0], {"PartitionKey": "p1", "Data": b"hi"}, {**alike[2], "ExplicitHashKey": "7"}]
    parsed = KINESIS.parse("PutRecords", {"StreamName": "s", "Records": alike})["Records"]
    assert parsed == [{"Data": b"hi", "PartitionKey": f"p{i}"} for i in range(3)]
    parsed = KINESIS.parse("PutRecords", {"StreamName": "s", "Records": mixed})["Records"]
    assert [entry["Data"] for entry in parsed] == [b"hi"] * 3
    assert parsed[2]["ExplicitHashKey"] == "7"


def test_unknown_members_of_records_are_dropped():
    entries = [{"Data": "aGk=", "PartitionKey": "k", "Surprise": 1}] * 2
    parsed = KINESIS.parse("PutRecords", {"StreamName": "s", "Records": entries})["Records"]
    assert parsed == [{"Data": b"hi", "PartitionKey": "k"}] * 2


def test_firehose_batch_records_come_out_as_bytes():
    entries = [{"Data": base64.b64encode(f"row {i}\n".encode()).decode()} for i in range(500)]
    body = {"DeliveryStreamName": "d", "Records": entries}
    parsed = FIREHOSE.parse("PutRecordBatch", body)["Records"]
    assert [entry["Data"] for entry in parsed] == [f"row {i}\n".encode() for i in range(500)]
