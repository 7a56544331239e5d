"""SigV4: header present and well formed by default; signatures verified when keys are set,
within 5 minutes of the server's time."""

import re
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from _raw import client_factory, post, signed_headers
from botocore.exceptions import ClientError

from workbench import Workbench
from workbench.clock import SimulatedClock


@pytest.fixture
def url(make_endpoint) -> str:
    return make_endpoint().url


def _code(answer):
    assert answer.status == 400, answer.body
    return answer.json()["__type"]


def test_no_authorization_header_is_a_missing_token(url):
    answer = post(url, b"{}", sign=False)
    assert _code(answer) == "MissingAuthenticationTokenException"


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID, SignedHeaders=host, Signature=abc",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc",
    ],
)
def test_malformed_authorization_is_an_incomplete_signature(url, authorization):
    headers = {"Authorization": authorization, "X-Amz-Date": "20260101T000000Z"}
    answer = post(url, b"{}", sign=False, extra=headers)
    assert _code(answer) == "IncompleteSignatureException"


def test_a_signature_without_a_date_is_incomplete(url):
    headers = signed_headers(url, b"{}", {"X-Amz-Target": "Kinesis_20131202.ListStreams"})
    headers.pop("X-Amz-Date")
    answer = post(url, b"{}", sign=False, extra=headers)
    assert _code(answer) == "IncompleteSignatureException"


def test_without_configured_keys_any_well_formed_signature_passes(url):
    answer = post(url, b"{}", target="Kinesis_20131202.DescribeStream")
    # Past authentication: the request's own problem is reported.
    assert _code(answer) == "ValidationException"


@pytest.fixture
def guarded(make_endpoint) -> str:
    return make_endpoint(credentials={"AKIDWORKBENCH": "workbench-secret"}).url


def _describe_bad_name(client):
    with pytest.raises(ClientError) as caught:
        client.describe_stream(StreamName="no/such")
    return caught.value.response["Error"]["Code"]


def test_the_right_secret_is_accepted(guarded):
    # Authentication passes, so validation answers.
    assert _describe_bad_name(client_factory(guarded)) == "ValidationException"


def test_a_wrong_secret_is_an_invalid_signature(guarded):
    import boto3

    client = boto3.client(
        "kinesis",
        endpoint_url=guarded,
        region_name="us-east-1",
        aws_access_key_id="AKIDWORKBENCH",
        aws_secret_access_key="wrong",
    )
    assert _describe_bad_name(client) == "InvalidSignatureException"


def test_an_unknown_access_key_is_unrecognized(guarded):
    import boto3

    client = boto3.client(
        "kinesis",
        endpoint_url=guarded,
        region_name="us-east-1",
        aws_access_key_id="AKIDSOMEONEELSE",
        aws_secret_access_key="workbench-secret",
    )
    assert _describe_bad_name(client) == "UnrecognizedClientException"


def test_a_body_changed_after_signing_is_an_invalid_signature(guarded):
    headers = signed_headers(
        guarded, b'{"StreamName": "a"}', {"X-Amz-Target": "Kinesis_20131202.DescribeStream"}
    )
    answer = post(guarded, orjson.dumps({"StreamName": "b"}), sign=False, extra=headers)
    assert _code(answer) == "InvalidSignatureException"


# X-Amz-Date against the server's time (the workbench clock): more than 5 minutes apart is
# AWS's InvalidSignatureException, when signatures are verified.
_STAMP = r"(\d{8}T\d{6}Z)"


def _guarded_at(make_endpoint, tmp_path, offset_s: float, credentials=True) -> str:
    clock = SimulatedClock(start=time.time() + offset_s)
    workbench = Workbench(home=tmp_path / "skewed", clock=clock)
    keys = {"AKIDWORKBENCH": "workbench-secret"} if credentials else None
    return make_endpoint(workbench, credentials=keys).url


def _describe_error(url) -> dict:
    with pytest.raises(ClientError) as caught:
        client_factory(url).describe_stream(StreamName="no/such")
    return caught.value.response["Error"]


def _stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def test_a_request_signed_over_5_minutes_ago_has_expired(make_endpoint, tmp_path):
    error = _describe_error(_guarded_at(make_endpoint, tmp_path, +400))
    assert error["Code"] == "InvalidSignatureException"
    match = re.fullmatch(
        f"Signature expired: {_STAMP} is now earlier than {_STAMP} \\({_STAMP} - 5 min.\\)",
        error["Message"],
    )
    assert match is not None, error["Message"]
    signed, limit, now = (_stamp(text) for text in match.groups())
    assert limit == now - timedelta(minutes=5)
    assert abs((now - signed).total_seconds() - 400) < 30


def test_a_request_signed_over_5_minutes_ahead_is_not_yet_current(make_endpoint, tmp_path):
    error = _describe_error(_guarded_at(make_endpoint, tmp_path, -400))
    assert error["Code"] == "InvalidSignatureException"
    match = re.fullmatch(
        f"Signature not yet current: {_STAMP} is still later than {_STAMP} "
        f"\\({_STAMP} \\+ 5 min.\\)",
        error["Message"],
    )
    assert match is not None, error["Message"]
    signed, limit, now = (_stamp(text) for text in match.groups())
    assert limit == now + timedelta(minutes=5)
    assert signed > limit


@pytest.mark.parametrize("offset_s", [-240, 240])
def test_a_request_within_5_minutes_of_the_server_passes(make_endpoint, tmp_path, offset_s):
    assert _describe_error(_guarded_at(make_endpoint, tmp_path, offset_s))["Code"] == (
        "ValidationException"
    )


def test_without_configured_keys_the_date_is_not_checked(make_endpoint, tmp_path):
    url = _guarded_at(make_endpoint, tmp_path, 3600, credentials=False)
    assert _describe_error(url)["Code"] == "ValidationException"


def test_a_date_not_in_basic_format_is_an_incomplete_signature(guarded):
    headers = signed_headers(guarded, b"{}", {"X-Amz-Target": "Kinesis_20131202.ListStreams"})
    headers["X-Amz-Date"] = "2026-11-26T12:00:00Z"
    answer = post(guarded, b"{}", sign=False, extra=headers)
    assert _code(answer) == "IncompleteSignatureException"
    assert "ISO-8601 'basic format'" in answer.json()["message"]
