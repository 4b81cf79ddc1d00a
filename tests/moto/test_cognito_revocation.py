"""Token revocation (cognito_revocation.py): RevokeToken, and what a revoked refresh or
access token is refused with afterwards, through a real moto server. RevokeToken and the
other user calls go unsigned, as cognito-client sends them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION

PASSWORD = "Correct-Horse-Battery-9"
EMAIL = "ada@example.com"
REVOKED_ACCESS = {"Code": "NotAuthorizedException", "Message": "Access Token has been revoked"}
REVOKED_REFRESH = {"Code": "NotAuthorizedException", "Message": "Refresh Token has been revoked"}


@pytest.fixture(scope="module")
def user_api(endpoint: str) -> Any:
    """Cognito without AWS credentials, as a user's client calls it."""
    return boto3.client(
        "cognito-idp", endpoint_url=endpoint, region_name=REGION, config=Config(signature_version=UNSIGNED)
    )


def _refused(call: Callable[[], Any]) -> dict[str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    return dict(refused.value.response["Error"])


def _pool(idp: Any) -> str:
    pool_id = idp.create_user_pool(
        PoolName=f"revoke-{uuid.uuid4().hex[:8]}", UsernameAttributes=["email"]
    )["UserPool"]["Id"]
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=EMAIL,
        UserAttributes=[{"Name": "email", "Value": EMAIL}],
        MessageAction="SUPPRESS",
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=EMAIL, Password=PASSWORD, Permanent=True)
    return pool_id


def _client(idp: Any, pool_id: str, **settings: Any) -> dict[str, Any]:
    return dict(
        idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="app",
            ExplicitAuthFlows=[
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ],
            **settings,
        )["UserPoolClient"]
    )


def _secret_hash(client: dict[str, Any], secret: str | None = None) -> str:
    key = (secret or client["ClientSecret"]).encode()
    digest = hmac.new(key, (EMAIL + client["ClientId"]).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _sign_in(api: Any, client: dict[str, Any]) -> dict[str, str]:
    parameters = {"USERNAME": EMAIL, "PASSWORD": PASSWORD}
    if "ClientSecret" in client:
        parameters["SECRET_HASH"] = _secret_hash(client)
    return dict(
        api.initiate_auth(
            ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters
        )["AuthenticationResult"]
    )


def _refresh(api: Any, client_id: str, refresh_token: str) -> dict[str, str]:
    return dict(
        api.initiate_auth(
            ClientId=client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )["AuthenticationResult"]
    )


def test_revoking_ends_the_refresh_token_and_its_access_tokens(idp: Any, user_api: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id)["ClientId"]
    signed_in = _sign_in(user_api, {"ClientId": client_id})
    refreshed = _refresh(user_api, client_id, signed_in["RefreshToken"])
    elsewhere = _sign_in(user_api, {"ClientId": client_id})  # another device: untouched

    assert user_api.revoke_token(ClientId=client_id, Token=signed_in["RefreshToken"])
    for access_token in (signed_in["AccessToken"], refreshed["AccessToken"]):
        assert _refused(lambda: user_api.get_user(AccessToken=access_token)) == REVOKED_ACCESS
        assert (
            _refused(
                lambda: user_api.update_user_attributes(
                    AccessToken=access_token, UserAttributes=[{"Name": "name", "Value": "Ada"}]
                )
            )
            == REVOKED_ACCESS
        )
        assert (
            _refused(
                lambda: user_api.change_password(
                    AccessToken=access_token, PreviousPassword=PASSWORD, ProposedPassword="New-Pass-9a!"
                )
            )
            == REVOKED_ACCESS
        )
    assert _refused(lambda: _refresh(user_api, client_id, signed_in["RefreshToken"])) == REVOKED_REFRESH
    assert (
        _refused(
            lambda: idp.admin_initiate_auth(
                UserPoolId=pool_id,
                ClientId=client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]},
            )
        )
        == REVOKED_REFRESH
    )

    assert user_api.get_user(AccessToken=elsewhere["AccessToken"])["UserAttributes"]
    assert _refresh(user_api, client_id, elsewhere["RefreshToken"])["AccessToken"]
    # Revoking again, or a token Cognito never issued, is not an error.
    user_api.revoke_token(ClientId=client_id, Token=signed_in["RefreshToken"])
    user_api.revoke_token(ClientId=client_id, Token=str(uuid.uuid4()))


def test_only_the_issuing_client_revokes(idp: Any, user_api: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id)["ClientId"]
    other_client = _client(idp, pool_id)["ClientId"]
    other_pool_client = _client(idp, _pool(idp))["ClientId"]
    tokens = _sign_in(user_api, {"ClientId": client_id})
    for wrong in (other_client, other_pool_client, "nosuchclient1234567890"):
        refused = _refused(lambda: user_api.revoke_token(ClientId=wrong, Token=tokens["RefreshToken"]))
        assert refused["Code"] == "UnauthorizedException"
    assert user_api.get_user(AccessToken=tokens["AccessToken"])
    assert _refresh(user_api, client_id, tokens["RefreshToken"])


def test_a_client_with_a_secret_must_send_it(idp: Any, user_api: Any) -> None:
    pool_id = _pool(idp)
    client = _client(idp, pool_id, GenerateSecret=True)
    client_id = client["ClientId"]
    tokens = _sign_in(user_api, client)
    for secret in (None, "x" * 40):
        extra = {} if secret is None else {"ClientSecret": secret}
        refused = _refused(
            lambda: user_api.revoke_token(ClientId=client_id, Token=tokens["RefreshToken"], **extra)
        )
        assert refused["Code"] == "UnauthorizedException"
    # Any active secret will do (cognito_client_secrets.py's rotation).
    added = idp.add_user_pool_client_secret(UserPoolId=pool_id, ClientId=client_id)
    new_secret = added["ClientSecretDescriptor"]["ClientSecretValue"]
    user_api.revoke_token(ClientId=client_id, Token=tokens["RefreshToken"], ClientSecret=new_secret)
    assert _refused(lambda: user_api.get_user(AccessToken=tokens["AccessToken"])) == REVOKED_ACCESS


def test_a_client_without_token_revocation_cannot_revoke(idp: Any, user_api: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id, EnableTokenRevocation=False)["ClientId"]
    tokens = _sign_in(user_api, {"ClientId": client_id})
    refused = _refused(lambda: user_api.revoke_token(ClientId=client_id, Token=tokens["RefreshToken"]))
    assert refused["Code"] == "UnsupportedOperationException"
    assert _refresh(user_api, client_id, tokens["RefreshToken"])


def test_only_refresh_tokens_are_revoked(idp: Any, user_api: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id)["ClientId"]
    tokens = _sign_in(user_api, {"ClientId": client_id})
    for token in (tokens["AccessToken"], tokens["IdToken"]):
        refused = _refused(lambda: user_api.revoke_token(ClientId=client_id, Token=token))
        assert refused["Code"] == "UnsupportedTokenTypeException"
    refused = _refused(lambda: user_api.revoke_token(ClientId=client_id, Token="not a token"))
    assert refused["Code"] == "InvalidParameterException"
    assert user_api.get_user(AccessToken=tokens["AccessToken"])


@pytest.mark.parametrize("how", ["GlobalSignOut", "AdminUserGlobalSignOut"])
def test_a_global_sign_out_revokes_every_token_of_the_user(idp: Any, user_api: Any, how: str) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id)["ClientId"]
    first = _sign_in(user_api, {"ClientId": client_id})
    second = _sign_in(user_api, {"ClientId": client_id})
    if how == "GlobalSignOut":
        user_api.global_sign_out(AccessToken=first["AccessToken"])
    else:
        idp.admin_user_global_sign_out(UserPoolId=pool_id, Username=EMAIL)
    for tokens in (first, second):
        assert _refused(lambda: user_api.get_user(AccessToken=tokens["AccessToken"])) == REVOKED_ACCESS
        assert _refused(lambda: _refresh(user_api, client_id, tokens["RefreshToken"])) == REVOKED_REFRESH
    # A new sign-in works.
    assert user_api.get_user(AccessToken=_sign_in(user_api, {"ClientId": client_id})["AccessToken"])
