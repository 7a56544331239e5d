"""Prefix evaluation and Firehose's prefix rules, from the Firehose developer guide."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from workbench.errors import InvalidArgumentException
from workbench.firehose._prefix import Prefixes
from workbench.firehose._timeformat import format_instant

MOMENT = datetime(2026, 3, 7, 9, 5, 2, 123456, tzinfo=UTC)
T = MOMENT.timestamp()
LAB_PREFIX = (
    "json-data/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}"
    "/hour=!{timestamp:HH}/"
)
LAB_ERROR_PREFIX = (
    "error-json/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}"
    "/hour=!{timestamp:HH}/!{firehose:error-output-type}"
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy", "2026"),
        ("yy", "26"),
        ("uuuu", "2026"),
        ("MM", "03"),
        ("M", "3"),
        ("MMM", "Mar"),
        ("MMMM", "March"),
        ("dd", "07"),
        ("d", "7"),
        ("HH", "09"),
        ("H", "9"),
        ("hh a", "09 AM"),
        ("mm", "05"),
        ("ss", "02"),
        ("SSS", "123"),
        ("EEE", "Sat"),
        ("EEEE", "Saturday"),
        ("D", "66"),
        ("yyyy/MM/dd/HH/", "2026/03/07/09/"),
        ("yyyy-MM-dd'T'HH:mm:ss", "2026-03-07T09:05:02"),
        ("'year='yyyy", "year=2026"),
        ("'it''s' HH", "it's 09"),
        ("''", "'"),
    ],
)
def test_java_datetimeformatter_patterns(pattern, expected):
    assert format_instant(pattern, MOMENT) == expected


@pytest.mark.parametrize("pattern", ["yyyy 'open", "yyyy-MM-dd qq", "GGGG"])
def test_unsupported_or_broken_patterns_are_refused(pattern):
    with pytest.raises(InvalidArgumentException, match=r"(?i)pattern"):
        Prefixes.from_config(f"a/!{{timestamp:{pattern}}}/", "e/!{firehose:error-output-type}/")


def test_the_labs_prefixes():
    p = Prefixes.from_config(LAB_PREFIX, LAB_ERROR_PREFIX)
    assert p.evaluate(T) == "json-data/year=2026/month=03/day=07/hour=09/"
    assert (
        p.evaluate_error(T, "processing-failed")
        == "error-json/year=2026/month=03/day=07/hour=09/processing-failed"
    )


def test_default_prefix_is_yyyy_mm_dd_hh_in_utc():
    p = Prefixes.from_config(None, None)
    assert p.evaluate(T) == "2026/03/07/09/"
    assert p.evaluate_error(T, "processing-failed") == "processing-failed/2026/03/07/09/"


def test_a_prefix_without_timestamp_gets_the_default_one_appended():
    p = Prefixes.from_config("raw/", "")
    assert p.evaluate(T) == "raw/2026/03/07/09/"
    # An empty error prefix means <prefix><error-output-type>/yyyy/MM/dd/HH/.
    assert p.evaluate_error(T, "format-conversion-failed") == (
        "raw/format-conversion-failed/2026/03/07/09/"
    )


def test_random_string_is_11_chars_new_for_each_occurrence():
    p = Prefixes.from_config(
        "a/!{firehose:random-string}/!{firehose:random-string}/!{timestamp:yyyy}/",
        "e/!{firehose:error-output-type}/!{firehose:random-string}/",
    )
    first, second = p.evaluate(T).split("/")[1:3]
    assert re.fullmatch(r"[A-Za-z0-9]{11}", first) and re.fullmatch(r"[A-Za-z0-9]{11}", second)
    assert first != second
    assert p.evaluate(T) != p.evaluate(T)
    assert re.fullmatch(
        r"e/processing-failed/[A-Za-z0-9]{11}/", p.evaluate_error(T, "processing-failed")
    )


def test_partition_keys_from_query_and_lambda():
    p = Prefixes.from_config(
        "country=!{partitionKeyFromQuery:Country}/c=!{partitionKeyFromLambda:customer}/",
        "errors/!{firehose:error-output-type}/",
        dynamic_partitioning=True,
        query_keys=frozenset({"Country"}),
        lambda_keys_allowed=True,
    )
    assert p.query_keys == ["Country"] and p.lambda_keys == ["customer"]
    # With dynamic partitioning the prefix is used as written: no default timestamp appended.
    assert p.evaluate(T, {"Country": "France"}, {"customer": "13085"}) == (
        "country=France/c=13085/"
    )


@pytest.mark.parametrize(
    ("prefix", "error_prefix", "kwargs", "message"),
    [
        ("a/!{firehose:error-output-type}/", "e/", {}, "belongs in ErrorOutputPrefix"),
        ("a/!{timestamp:yyyy}/", "", {}, "ErrorOutputPrefix is required"),
        ("a/!{timestamp:yyyy}/", "e/!{timestamp:yyyy}/", {}, "error-output-type"),
        ("a/!{nope:x}/", "e/", {}, "unknown namespace"),
        ("a/!{firehose:other}/", "e/", {}, "firehose namespace"),
        ("a/!{timestamp:yyyy", "e/", {}, "not of the form"),
        ("a/!{partitionKeyFromQuery:k}/", "e/!{firehose:error-output-type}", {}, "dynamic"),
        (
            "a/!{partitionKeyFromQuery:k}/",
            "e/!{firehose:error-output-type}",
            {"dynamic_partitioning": True, "query_keys": frozenset({"other"})},
            "query does not produce",
        ),
        (
            "a/!{partitionKeyFromLambda:k}/",
            "e/!{firehose:error-output-type}",
            {"dynamic_partitioning": True},
            "Lambda processor",
        ),
        (
            "a/!{timestamp:yyyy}/",
            "e/!{firehose:error-output-type}",
            {"dynamic_partitioning": True},
            "at least one",
        ),
        (
            "a/!{partitionKeyFromQuery:k}/",
            None,
            {"dynamic_partitioning": True, "query_keys": frozenset({"k"})},
            "ErrorOutputPrefix is required",
        ),
        (
            "a/!{timestamp:yyyy}/",
            "e/!{partitionKeyFromQuery:k}/!{firehose:error-output-type}",
            {},
            "may not contain partition keys",
        ),
    ],
)
def test_prefix_rules_give_clear_errors(prefix, error_prefix, kwargs, message):
    with pytest.raises(InvalidArgumentException, match=message):
        Prefixes.from_config(prefix, error_prefix, **kwargs)


def test_evaluated_prefix_is_at_most_512_chars():
    p = Prefixes.from_config(
        "!{partitionKeyFromQuery:k}/",
        "e/!{firehose:error-output-type}/",
        dynamic_partitioning=True,
        query_keys=frozenset({"k"}),
    )
    assert p.evaluate(T, {"k": "x" * 511}) == "x" * 511 + "/"
    with pytest.raises(InvalidArgumentException, match="512"):
        p.evaluate(T, {"k": "x" * 512})


def test_every_timestamp_in_a_prefix_uses_the_same_instant():
    p = Prefixes.from_config("!{timestamp:HH}/!{timestamp:mm}/!{timestamp:ss}/", "e/")
    assert p.evaluate(datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC).timestamp()) == "23/59/59/"
