"""What app clients allow (cognito_clients.py): auth flows, reading and writing user
attributes, through a real moto server."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

PASSWORD = "Sup3r-secret!pw"
EMAIL = "alice@example.com"


def _signed_in(
    idp: Any, write_attributes: list[str] | None, **client: Any
) -> tuple[str, dict[str, str]]:
    """A pool with one confirmed user and a client (with `write_attributes` if given,
    and more `client` settings); returns the pool id and the user's tokens from it."""
    pool_id = idp.create_user_pool(
        PoolName=f"attrs-{uuid.uuid4().hex[:8]}", UsernameAttributes=["email"]
    )["UserPool"]["Id"]
    extra = {} if write_attributes is None else {"WriteAttributes": write_attributes}
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        **extra,
        **client,
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=EMAIL,
        UserAttributes=[
            {"Name": "email", "Value": EMAIL},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=EMAIL, Password=PASSWORD, Permanent=True
    )
    tokens = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": EMAIL, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return pool_id, tokens


def _attributes(idp: Any, pool_id: str, email: str = EMAIL) -> dict[str, str]:
    user = idp.admin_get_user(UserPoolId=pool_id, Username=email)
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


def test_an_attribute_outside_write_attributes_is_refused(idp: Any) -> None:
    pool_id, tokens = _signed_in(idp, ["name"])
    idp.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "name", "Value": "Alice"}]
    )
    with pytest.raises(ClientError) as refused:
        idp.update_user_attributes(
            AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email", "Value": "ceo@corp.example"}]
        )
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert "unauthorized attribute" in refused.value.response["Error"]["Message"]
    attributes = _attributes(idp, pool_id)
    assert attributes["email"] == EMAIL
    assert attributes["name"] == "Alice"


def test_a_changed_email_is_no_longer_verified(idp: Any) -> None:
    pool_id, tokens = _signed_in(idp, ["email", "name"])
    idp.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email", "Value": "new@example.com"}]
    )
    attributes = _attributes(idp, pool_id, "new@example.com")
    assert attributes["email"] == "new@example.com"
    assert attributes["email_verified"] == "false"


def test_without_write_attributes_every_attribute_is_writable(idp: Any) -> None:
    pool_id, tokens = _signed_in(idp, None)
    idp.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "name", "Value": "Alice"}]
    )
    assert _attributes(idp, pool_id)["email_verified"] == "true"


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_client_without_read_attributes_reads_every_attribute(idp: Any) -> None:
    _, tokens = _signed_in(idp, None)
    claims = _claims(tokens["IdToken"])
    assert claims["email"] == EMAIL
    assert claims["email_verified"] == "true"


def test_read_attributes_limit_the_id_token(idp: Any) -> None:
    _, tokens = _signed_in(idp, None, ReadAttributes=["email"])
    claims = _claims(tokens["IdToken"])
    assert claims["email"] == EMAIL
    assert "email_verified" not in claims


def _client(idp: Any, pool_id: str, **settings: Any) -> str:
    return idp.create_user_pool_client(UserPoolId=pool_id, ClientName="other", **settings)[
        "UserPoolClient"
    ]["ClientId"]


def _password_auth(idp: Any, client_id: str) -> Any:
    return idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": EMAIL, "PASSWORD": PASSWORD},
    )


def test_a_flow_the_client_does_not_allow_is_refused(idp: Any) -> None:
    pool_id, _ = _signed_in(idp, None)
    srp_only = _client(
        idp, pool_id, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )
    for client_id in (srp_only, _client(idp, pool_id)):
        with pytest.raises(ClientError) as refused:
            _password_auth(idp, client_id)
        error = refused.value.response["Error"]
        assert error["Code"] == "InvalidParameterException"
        assert error["Message"] == "USER_PASSWORD_AUTH flow not enabled for this client"
    with pytest.raises(ClientError) as refused:
        idp.admin_initiate_auth(
            UserPoolId=pool_id,
            ClientId=srp_only,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": EMAIL, "PASSWORD": PASSWORD},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"


def test_an_allowed_flow_and_refresh_pass(idp: Any) -> None:
    pool_id, _ = _signed_in(idp, None)
    both = _client(
        idp, pool_id, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )
    refresh = _password_auth(idp, both)["AuthenticationResult"]["RefreshToken"]
    renewed = idp.initiate_auth(
        ClientId=both, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh}
    )
    assert renewed["AuthenticationResult"]["AccessToken"]
