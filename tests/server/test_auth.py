"""SigV4: header present and well formed by default; signatures verified when keys are set."""

import orjson
import pytest
from _raw import client_factory, post, signed_headers
from botocore.exceptions import ClientError


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
