"""The declarative validation against the reference's limits and AWS's message format."""

import pytest
from hypothesis import given, settings
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
