"""Client-secret rotation (cognito_client_secrets.py): AddUserPoolClientSecret,
DeleteUserPoolClientSecret and ListUserPoolClientSecrets, through a real moto server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import REGION

PASSWORD = "Sup3r-secret!pw"
USERNAME = "alice"
CUSTOM = "custom_secret_value_0123456789+abc"  # 34 characters of [\w+]

# Every secret value a test saw, to look for in the server's log at the end.
_SEEN: list[str] = []


def _pool(idp: Any) -> str:
    return idp.create_user_pool(PoolName=f"secrets-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]


def _client(idp: Any, pool_id: str, *, generate_secret: bool = True) -> tuple[str, str | None]:
    """A client in the pool; returns its id and its secret (None without one)."""
    created = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="app",
        GenerateSecret=generate_secret,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    secret = created.get("ClientSecret")
    if secret:
        _SEEN.append(secret)
    return created["ClientId"], secret


def _listed(idp: Any, pool_id: str, client_id: str) -> list[dict[str, Any]]:
    return idp.list_user_pool_client_secrets(UserPoolId=pool_id, ClientId=client_id)[
        "ClientSecrets"
    ]


def _described_secret(idp: Any, pool_id: str, client_id: str) -> str | None:
    return idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)[
        "UserPoolClient"
    ].get("ClientSecret")


def _add(idp: Any, pool_id: str, client_id: str, value: str | None = None) -> dict[str, Any]:
    extra = {} if value is None else {"ClientSecret": value}
    added = idp.add_user_pool_client_secret(UserPoolId=pool_id, ClientId=client_id, **extra)[
        "ClientSecretDescriptor"
    ]
    if "ClientSecretValue" in added:
        _SEEN.append(added["ClientSecretValue"])
    return added


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def _check_id(descriptor: dict[str, Any], client_id: str) -> None:
    # <client-id>--<epoch-create-time>, the time in milliseconds, as the date says.
    match = re.fullmatch(re.escape(client_id) + r"--(\d+)", descriptor["ClientSecretId"])
    assert match, descriptor["ClientSecretId"]
    created = descriptor["ClientSecretCreateDate"]
    assert isinstance(created, datetime)
    assert int(match.group(1)) == round(created.timestamp() * 1000)
    assert abs(datetime.now(timezone.utc) - created) < timedelta(minutes=5)


def test_a_client_with_a_secret_starts_with_exactly_that_one(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id, secret = _client(idp, pool_id)
    listed = _listed(idp, pool_id, client_id)
    assert len(listed) == 1
    _check_id(listed[0], client_id)
    assert "ClientSecretValue" not in listed[0]
    assert _described_secret(idp, pool_id, client_id) == secret


def test_a_generated_secret_is_returned_once_and_the_oldest_is_described(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id, first = _client(idp, pool_id)
    added = _add(idp, pool_id, client_id)
    _check_id(added, client_id)
    value = added["ClientSecretValue"]
    assert re.fullmatch(r"[A-Za-z0-9_+]{24,64}", value)
    assert value != first

    listed = _listed(idp, pool_id, client_id)
    assert [s["ClientSecretId"] for s in listed][1] == added["ClientSecretId"]
    assert listed[0]["ClientSecretCreateDate"] < listed[1]["ClientSecretCreateDate"]
    assert all("ClientSecretValue" not in s for s in listed)
    assert _described_secret(idp, pool_id, client_id) == first


def test_a_custom_secret_is_not_echoed_and_takes_over_once_the_old_one_goes(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id, first = _client(idp, pool_id)
    old_id = _listed(idp, pool_id, client_id)[0]["ClientSecretId"]
    added = _add(idp, pool_id, client_id, CUSTOM)
    assert "ClientSecretValue" not in added
    _check_id(added, client_id)
    assert [s["ClientSecretId"] for s in _listed(idp, pool_id, client_id)] == [
        old_id,
        added["ClientSecretId"],
    ]
    assert _described_secret(idp, pool_id, client_id) == first

    assert idp.delete_user_pool_client_secret(
        UserPoolId=pool_id, ClientId=client_id, ClientSecretId=old_id
    )["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [s["ClientSecretId"] for s in _listed(idp, pool_id, client_id)] == [
        added["ClientSecretId"]
    ]
    assert _described_secret(idp, pool_id, client_id) == CUSTOM


def test_a_third_secret_exceeds_the_limit(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id, _ = _client(idp, pool_id)
    _add(idp, pool_id, client_id)
    before = _listed(idp, pool_id, client_id)
    for value in (None, CUSTOM):
        with pytest.raises(ClientError) as refused:
            _add(idp, pool_id, client_id, value)
        assert _error(refused)[0] == "LimitExceededException"
    assert _listed(idp, pool_id, client_id) == before


def test_the_last_secret_cannot_be_deleted(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id, _ = _client(idp, pool_id)
    only = _listed(idp, pool_id, client_id)[0]["ClientSecretId"]
    with pytest.raises(ClientError) as refused:
        idp.delete_user_pool_client_secret(
            UserPoolId=pool_id, ClientId=client_id, ClientSecretId=only
        )
    assert _error(refused)[0] == "InvalidParameterException"

    # Rotated: the new one is now the last one, and cannot go either.
    added = _add(idp, pool_id, client_id)
    idp.delete_user_pool_client_secret(UserPoolId=pool_id, ClientId=client_id, ClientSecretId=only)
    with pytest.raises(ClientError) as refused:
        idp.delete_user_pool_client_secret(
            UserPoolId=pool_id, ClientId=client_id, ClientSecretId=added["ClientSecretId"]
        )
    assert _error(refused)[0] == "InvalidParameterException"
    assert _described_secret(idp, pool_id, client_id) == added["ClientSecretValue"]
    # And room for the next rotation.
    _add(idp, pool_id, client_id, CUSTOM)
    assert len(_listed(idp, pool_id, client_id)) == 2


def test_a_client_without_a_secret_cannot_get_one(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id, secret = _client(idp, pool_id, generate_secret=False)
    assert secret is None
    for value in (None, CUSTOM):
        with pytest.raises(ClientError) as refused:
            _add(idp, pool_id, client_id, value)
        assert _error(refused)[0] == "InvalidParameterException"
    assert _listed(idp, pool_id, client_id) == []
    assert _described_secret(idp, pool_id, client_id) is None


@pytest.fixture(scope="module")
def unvalidated_idp(endpoint: str) -> Any:
    """A client that sends what botocore would refuse (a secret under 24 characters),
    so that the server's own check answers."""
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False),
    )


@pytest.mark.parametrize(
    "value",
    [
        "a" * 23,  # too short
        "a" * 65,  # too long
        "with-a-dash-and-24-chars",  # '-' is outside [\w+]
        "with spaces in it, 24 chars",
        "non_ascii_letter_é_0123456789",  # AWS's \w is ASCII
    ],
)
def test_a_custom_secret_outside_the_format_is_refused(unvalidated_idp: Any, value: str) -> None:
    idp = unvalidated_idp
    pool_id = _pool(idp)
    client_id, _ = _client(idp, pool_id)
    with pytest.raises(ClientError) as refused:
        _add(idp, pool_id, client_id, value)
    code, message = _error(refused)
    assert code == "InvalidParameterException"
    assert value not in message
    assert len(_listed(idp, pool_id, client_id)) == 1


def test_the_format_limits_are_inclusive(idp: Any) -> None:
    pool_id = _pool(idp)
    for value in ("a" * 24, "B+_9" * 16):
        client_id, _ = _client(idp, pool_id)
        _add(idp, pool_id, client_id, value)
        listed = _listed(idp, pool_id, client_id)
        idp.delete_user_pool_client_secret(
            UserPoolId=pool_id, ClientId=client_id, ClientSecretId=listed[0]["ClientSecretId"]
        )
        assert _described_secret(idp, pool_id, client_id) == value


def test_unknown_pool_client_or_secret_is_not_found(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id, _ = _client(idp, pool_id)
    missing_pool = f"{REGION}_missing0"
    calls: list[Callable[[], Any]] = [
        lambda: idp.add_user_pool_client_secret(UserPoolId=missing_pool, ClientId=client_id),
        lambda: idp.add_user_pool_client_secret(UserPoolId=pool_id, ClientId="nosuchclient"),
        lambda: idp.list_user_pool_client_secrets(UserPoolId=missing_pool, ClientId=client_id),
        lambda: idp.list_user_pool_client_secrets(UserPoolId=pool_id, ClientId="nosuchclient"),
        lambda: idp.delete_user_pool_client_secret(
            UserPoolId=missing_pool, ClientId=client_id, ClientSecretId=f"{client_id}--1"
        ),
        lambda: idp.delete_user_pool_client_secret(
            UserPoolId=pool_id, ClientId="nosuchclient", ClientSecretId="nosuchclient--1"
        ),
        lambda: idp.delete_user_pool_client_secret(
            UserPoolId=pool_id, ClientId=client_id, ClientSecretId=f"{client_id}--1"
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as refused:
            call()
        assert _error(refused)[0] == "ResourceNotFoundException"
    assert len(_listed(idp, pool_id, client_id)) == 1


def _stack(cfn: Any) -> tuple[str, str, str]:
    """A stack with a pool and a client with a secret; returns the pool id, the client id
    and the client secret (Fn::GetAtt)."""
    template = {
        "Resources": {
            "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "rot"}},
            "Client": {
                "Type": "AWS::Cognito::UserPoolClient",
                "Properties": {
                    "UserPoolId": {"Ref": "Pool"},
                    "ClientName": "app",
                    "GenerateSecret": True,
                },
            },
        },
        "Outputs": {
            "PoolId": {"Value": {"Ref": "Pool"}},
            "ClientId": {"Value": {"Ref": "Client"}},
            "Secret": {"Value": {"Fn::GetAtt": ["Client", "ClientSecret"]}},
        },
    }
    name = f"rotation-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    _SEEN.append(out["Secret"])
    return out["PoolId"], out["ClientId"], out["Secret"]


def test_a_stack_made_client_starts_with_one_secret_and_rotates(cfn: Any, idp: Any) -> None:
    pool_id, client_id, secret = _stack(cfn)
    listed = _listed(idp, pool_id, client_id)
    assert len(listed) == 1
    _check_id(listed[0], client_id)
    assert _described_secret(idp, pool_id, client_id) == secret

    added = _add(idp, pool_id, client_id)
    idp.delete_user_pool_client_secret(
        UserPoolId=pool_id, ClientId=client_id, ClientSecretId=listed[0]["ClientSecretId"]
    )
    assert _described_secret(idp, pool_id, client_id) == added["ClientSecretValue"]


def _secret_hash(secret: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (USERNAME + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _refresh(idp: Any, client_id: str, refresh_token: str, secret: str) -> Any:
    # moto checks SECRET_HASH on refresh (and SRP, and challenge answers), not on
    # USER_PASSWORD_AUTH: the refresh is where the secret counts here.
    return idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={
            "REFRESH_TOKEN": refresh_token,
            "SECRET_HASH": _secret_hash(secret, client_id),
        },
    )


def test_secret_hash_works_with_either_active_secret_only(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id, first = _client(idp, pool_id)
    assert first is not None
    idp.admin_create_user(UserPoolId=pool_id, Username=USERNAME, MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=USERNAME, Password=PASSWORD, Permanent=True
    )
    refresh_token = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": USERNAME,
            "PASSWORD": PASSWORD,
            "SECRET_HASH": _secret_hash(first, client_id),
        },
    )["AuthenticationResult"]["RefreshToken"]
    old_id = _listed(idp, pool_id, client_id)[0]["ClientSecretId"]
    assert _refresh(idp, client_id, refresh_token, first)["AuthenticationResult"]["AccessToken"]

    _add(idp, pool_id, client_id, CUSTOM)
    for secret in (first, CUSTOM):
        renewed = _refresh(idp, client_id, refresh_token, secret)
        assert renewed["AuthenticationResult"]["AccessToken"]
    with pytest.raises(ClientError) as refused:
        _refresh(idp, client_id, refresh_token, "not_a_secret_of_this_client_0123")
    assert _error(refused)[0] == "NotAuthorizedException"

    idp.delete_user_pool_client_secret(UserPoolId=pool_id, ClientId=client_id, ClientSecretId=old_id)
    assert _refresh(idp, client_id, refresh_token, CUSTOM)["AuthenticationResult"]["AccessToken"]
    with pytest.raises(ClientError) as refused:
        _refresh(idp, client_id, refresh_token, first)
    assert _error(refused)[0] == "NotAuthorizedException"


def test_no_secret_value_reaches_the_server_log(
    tmp_path_factory: pytest.TempPathFactory, endpoint: str
) -> None:
    # Last in this module (pytest keeps file order), after the others sent their secrets.
    # conftest.py writes the log to <basetemp>/moto*/server.log.
    logs = list(tmp_path_factory.getbasetemp().glob("moto*/server.log"))
    assert logs, "the server's log was not found"
    text = "\n".join(log.read_text(errors="replace") for log in logs)
    assert "POST / HTTP" in text  # the request log: the right file
    assert _SEEN
    for value in _SEEN + [CUSTOM]:
        assert value not in text


def test_the_age_tag_backdates_the_first_secret_of_new_clients(idp: Any) -> None:
    pool_id = idp.create_user_pool(
        PoolName=f"aged-{uuid.uuid4().hex[:8]}",
        UserPoolTags={"emulator/client-secret-age-days": "91"},
    )["UserPool"]["Id"]
    client_id, _ = _client(idp, pool_id)
    (first,) = _listed(idp, pool_id, client_id)
    age = datetime.now(timezone.utc) - first["ClientSecretCreateDate"]
    assert timedelta(days=90) < age < timedelta(days=92)
    # Secrets added later are dated when they are added.
    _add(idp, pool_id, client_id)
    newest = _listed(idp, pool_id, client_id)[-1]
    assert datetime.now(timezone.utc) - newest["ClientSecretCreateDate"] < timedelta(minutes=5)
