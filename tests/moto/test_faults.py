"""Fault injection and call counting (faults.py), per access key, through a real moto
server: throttling, server errors, an outage, access denied, and the counters."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION

# One attempt per call: the SDK's retries would hide what the emulator answered.
NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=60)


def _key() -> str:
    return f"chaos-{uuid.uuid4().hex[:12]}"


def _client(endpoint: str, service: str, key: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key="testing",
        config=NO_RETRIES,
    )


def _control(endpoint: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{endpoint}/_faults/{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _set(endpoint: str, key: str, **faults: Any) -> dict[str, Any]:
    status, answer = _control(endpoint, "PUT", key, faults)
    assert status == 200, answer
    return answer["faults"]


def _calls(endpoint: str, key: str) -> dict[str, Any]:
    status, answer = _control(endpoint, "GET", f"{key}/calls")
    assert status == 200
    return answer


def _counts(**counts: int) -> dict[str, int]:
    return {
        "ok": 0,
        "throttled": 0,
        "serverError": 0,
        "outage": 0,
        "denied": 0,
        **counts,
    }


def _outcome(call: Callable[[], Any]) -> str:
    """ok, or the error code the call failed with."""
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def test_a_seeded_throttle_hits_the_same_calls_every_time(endpoint: str) -> None:
    key = _key()
    idp = _client(endpoint, "cognito-idp", key)
    calls = 60
    # One draw per matching call, from random.Random(seed): the contract tests rely on.
    draws = random.Random(42)
    expected = ["TooManyRequestsException" if draws.random() < 0.3 else "ok" for _ in range(calls)]
    for _ in range(2):
        _set(endpoint, key, throttle=0.3, seed=42)
        seen = [_outcome(lambda: idp.list_user_pools(MaxResults=1)) for _ in range(calls)]
        assert seen == expected
    throttled = expected.count("TooManyRequestsException")
    assert 8 <= throttled <= 30
    assert _calls(endpoint, key)["calls"]["ListUserPools"] == _counts(
        ok=2 * (calls - throttled), throttled=2 * throttled
    )


def test_throttling_is_answered_as_cognito_answers_it(endpoint: str) -> None:
    key = _key()
    _set(endpoint, key, throttle=1)
    request = urllib.request.Request(
        endpoint,
        data=b'{"MaxResults": 1}',
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUserPools",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20250101/{REGION}/"
            "cognito-idp/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=10)
    assert answered.value.code == 400
    assert answered.value.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert answered.value.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert answered.value.headers["x-amzn-RequestId"]
    assert json.load(answered.value) == {
        "__type": "TooManyRequestsException",
        "message": "Rate exceeded",
    }


def test_server_errors_and_throttling_in_each_protocol(endpoint: str) -> None:
    key = _key()
    idp, cfn = _client(endpoint, "cognito-idp", key), _client(endpoint, "cloudformation", key)
    lam = _client(endpoint, "lambda", key)
    _set(endpoint, key, serverError=1, services=["cognito-idp", "cloudformation", "lambda"])
    for call, code, status in [
        (lambda: idp.list_user_pools(MaxResults=1), "InternalErrorException", 500),
        (lambda: cfn.list_stacks(), "InternalFailure", 500),
        (lambda: lam.list_functions(), "ServiceException", 500),
    ]:
        with pytest.raises(ClientError) as failed:
            call()
        assert failed.value.response["Error"]["Code"] == code
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    _set(endpoint, key, throttle=1, services=["cloudformation", "lambda"])
    for call, code, status in [
        (lambda: cfn.list_stacks(), "Throttling", 400),
        (lambda: lam.list_functions(), "TooManyRequestsException", 429),
    ]:
        with pytest.raises(ClientError) as throttled:
            call()
        assert throttled.value.response["Error"]["Code"] == code
        assert throttled.value.response["Error"]["Message"] == "Rate exceeded"
        assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    # Cognito is not among the services this time.
    assert idp.list_user_pools(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200
    by_service = _calls(endpoint, key)["byService"]
    assert by_service["cloudformation"]["ListStacks"] == _counts(serverError=1, throttled=1)
    assert by_service["lambda"]["ListFunctions"] == _counts(serverError=1, throttled=1)
    assert by_service["cognito-idp"]["ListUserPools"] == _counts(serverError=1, ok=1)


def test_only_the_named_operations_are_faulted(endpoint: str) -> None:
    key = _key()
    idp = _client(endpoint, "cognito-idp", key)
    pool_id = idp.create_user_pool(PoolName="ops")["UserPool"]["Id"]
    _set(endpoint, key, throttle=1, operations=["AdminCreateUser"])
    with pytest.raises(ClientError) as throttled:
        idp.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
    assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Id"] == pool_id
    _control(endpoint, "DELETE", key)
    idp.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
    calls = _calls(endpoint, key)["calls"]
    assert calls["AdminCreateUser"] == _counts(ok=1, throttled=1)
    assert calls["DescribeUserPool"] == _counts(ok=1)


def test_an_outage_holds_calls_without_blocking_others_and_ends(endpoint: str) -> None:
    key = _key()
    idp = _client(endpoint, "cognito-idp", key)
    other = _client(endpoint, "cognito-idp", _key())
    outcomes: list[tuple[str, float]] = []

    def held_call() -> None:
        began = time.monotonic()
        code = _outcome(lambda: idp.list_user_pools(MaxResults=1))
        outcomes.append((code, time.monotonic() - began))

    began = time.monotonic()
    assert _set(endpoint, key, outageSeconds=2)["outageSeconds"] > 1
    threads = [threading.Thread(target=held_call) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    # Meanwhile another caller is served at once: the held calls hold no lock.
    quick = time.monotonic()
    other.list_user_pools(MaxResults=1)
    assert time.monotonic() - quick < 1
    for thread in threads:
        thread.join(timeout=10)
    assert [code for code, _ in outcomes] == ["ServiceUnavailable"] * 3
    assert all(1.5 < took < 5 for _, took in outcomes)
    assert time.monotonic() - began < 5
    # Over: the key's calls are answered again, the faults stay set (with no outage left).
    assert idp.list_user_pools(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200
    status, answer = _control(endpoint, "GET", key)
    assert status == 200 and answer["faults"]["outageSeconds"] == 0
    assert _calls(endpoint, key)["calls"]["ListUserPools"] == _counts(ok=1, outage=3)


def test_clearing_the_faults_ends_an_outage_at_once(endpoint: str) -> None:
    key = _key()
    idp = _client(endpoint, "cognito-idp", key)
    _set(endpoint, key, outageSeconds=60)
    outcome: list[str] = []
    thread = threading.Thread(
        target=lambda: outcome.append(_outcome(lambda: idp.list_user_pools(MaxResults=1)))
    )
    began = time.monotonic()
    thread.start()
    time.sleep(0.5)
    assert _control(endpoint, "DELETE", key)[0] == 204
    thread.join(timeout=10)
    assert outcome == ["ServiceUnavailable"]
    assert time.monotonic() - began < 5
    assert idp.list_user_pools(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_access_denied_reads_as_iam_writes_it(endpoint: str) -> None:
    key = _key()
    idp, cfn = _client(endpoint, "cognito-idp", key), _client(endpoint, "cloudformation", key)
    pool_id = idp.create_user_pool(PoolName="denied")["UserPool"]["Id"]
    _set(endpoint, key, accessDenied=["AdminCreateUser", "CreateUserPool", "DeleteStack"])
    cases = [
        (
            lambda: idp.admin_create_user(UserPoolId=pool_id, Username="bob"),
            "AccessDeniedException",
            400,
            f"User: arn:aws:iam::123456789012:user/{key} is not authorized to perform: "
            f"cognito-idp:AdminCreateUser on resource: arn:aws:cognito-idp:{REGION}:"
            f"123456789012:userpool/{pool_id} because no identity-based policy allows the "
            "cognito-idp:AdminCreateUser action",
        ),
        (
            lambda: idp.create_user_pool(PoolName="x"),
            "AccessDeniedException",
            400,
            f"User: arn:aws:iam::123456789012:user/{key} is not authorized to perform: "
            f"cognito-idp:CreateUserPool on resource: arn:aws:cognito-idp:{REGION}:"
            "123456789012:userpool/* because no identity-based policy allows the "
            "cognito-idp:CreateUserPool action",
        ),
        (
            lambda: cfn.delete_stack(StackName="tenant-a"),
            "AccessDenied",
            403,
            f"User: arn:aws:iam::123456789012:user/{key} is not authorized to perform: "
            f"cloudformation:DeleteStack on resource: arn:aws:cloudformation:{REGION}:"
            "123456789012:stack/tenant-a/* because no identity-based policy allows the "
            "cloudformation:DeleteStack action",
        ),
    ]
    for call, code, status, message in cases:
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] == code
        assert denied.value.response["Error"]["Message"] == message
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Id"] == pool_id

    role = "arn:aws:sts::210987654321:assumed-role/operator/i-1"
    _set(endpoint, key, accessDenied=["ListUserPools"], principal=role, accountId="210987654321")
    with pytest.raises(ClientError) as denied:
        idp.list_user_pools(MaxResults=1)
    assert denied.value.response["Error"]["Message"].startswith(
        f"User: {role} is not authorized to perform: cognito-idp:ListUserPools on resource: "
        f"arn:aws:cognito-idp:{REGION}:210987654321:userpool/* because"
    )
    calls = _calls(endpoint, key)["calls"]
    assert calls["AdminCreateUser"] == _counts(denied=1)
    assert calls["DeleteStack"] == _counts(denied=1)
    assert calls["CreateUserPool"] == _counts(ok=1, denied=1)


def test_faults_and_counters_belong_to_their_key(endpoint: str) -> None:
    chaos, calm = _key(), _key()
    faulted, untouched = (
        _client(endpoint, "cognito-idp", chaos),
        _client(endpoint, "cognito-idp", calm),
    )
    _set(endpoint, chaos, throttle=1)
    for _ in range(3):
        assert _outcome(lambda: faulted.list_user_pools(MaxResults=1)) == "TooManyRequestsException"
        assert _outcome(lambda: untouched.list_user_pools(MaxResults=1)) == "ok"
    assert _calls(endpoint, chaos)["calls"] == {"ListUserPools": _counts(throttled=3)}
    assert _calls(endpoint, calm)["calls"] == {"ListUserPools": _counts(ok=3)}
    assert _control(endpoint, "GET", calm) == (200, {"faults": None})


def test_every_call_is_counted_by_how_it_ended(endpoint: str) -> None:
    key = _key()
    idp, cfn = _client(endpoint, "cognito-idp", key), _client(endpoint, "cloudformation", key)
    lam = _client(endpoint, "lambda", key)
    pool_id = idp.create_user_pool(PoolName="counted")["UserPool"]["Id"]
    idp.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
    with pytest.raises(ClientError):  # moto answers ("ok"), with an error ("errors")
        idp.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
    cfn.list_stacks()
    lam.list_functions()
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="nothing-here")
    assert _calls(endpoint, key) == {
        "calls": {
            "AdminCreateUser": _counts(ok=2),
            "CreateUserPool": _counts(ok=1),
            "GetFunction": _counts(ok=1),
            "ListFunctions": _counts(ok=1),
            "ListStacks": _counts(ok=1),
        },
        "errors": {"AdminCreateUser": 1, "GetFunction": 1},
        "byService": {
            "cloudformation": {"ListStacks": _counts(ok=1)},
            "cognito-idp": {
                "AdminCreateUser": _counts(ok=2),
                "CreateUserPool": _counts(ok=1),
            },
            "lambda": {"GetFunction": _counts(ok=1), "ListFunctions": _counts(ok=1)},
        },
    }
    assert _control(endpoint, "DELETE", f"{key}/calls") == (204, None)
    assert _calls(endpoint, key) == {"calls": {}, "errors": {}, "byService": {}}


def test_the_faults_read_back_as_set(endpoint: str) -> None:
    key = _key()
    assert _set(endpoint, key, throttle=0.25, serverError=0.5, operations=["ListUsers"]) == {
        "throttle": 0.25,
        "serverError": 0.5,
        "outageSeconds": 0,
        "operations": ["ListUsers"],
        "services": None,
        "accessDenied": [],
        "principal": None,
        "accountId": "123456789012",
        "seed": None,
    }
    # No list at all: every Cognito user pool call.
    assert _set(endpoint, key, throttle=0.1)["services"] == ["cognito-idp"]
    assert _control(endpoint, "DELETE", key) == (204, None)
    assert _control(endpoint, "GET", key) == (200, {"faults": None})


@pytest.mark.parametrize(
    "body",
    [
        {"throttle": 1.5},
        {"throttle": 0.6, "serverError": 0.5},
        {"serverError": "half"},
        {"outageSeconds": -1},
        {"outageSeconds": 7200},
        {"operations": "ListUsers"},
        {"accessDenied": [""]},
        {"seed": 1.5},
        {"principal": "operator"},
        {"accountId": "42"},
        {"throtle": 0.5},
        ["throttle"],
    ],
)
def test_a_bad_profile_is_refused(endpoint: str, body: Any) -> None:
    key = _key()
    status, answer = _control(endpoint, "PUT", key, body)
    assert status == 400 and answer["error"]
    assert _control(endpoint, "GET", key) == (200, {"faults": None})


def test_unknown_control_paths_and_methods(endpoint: str) -> None:
    assert _control(endpoint, "GET", "")[0] == 404
    assert _control(endpoint, "GET", "a/b/c")[0] == 404
    assert _control(endpoint, "PATCH", "some-key")[0] == 405
    assert _control(endpoint, "PUT", "some-key/calls", {})[0] == 405
