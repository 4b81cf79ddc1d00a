"""OAuth settings of app clients (cognito_oauth_clients.py), through a real moto server:
CreateUserPoolClient, UpdateUserPoolClient and the CloudFormation UserPoolClient, with
resource servers and identity providers from the same pool and the same stack."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import REGION

API = "https://api.example.com"
CALLBACK = "https://app.example.com/callback"
GOOGLE_SECRET = "g00gle-client-secret-0001"
GOOGLE_DETAILS = {
    "client_id": "google-client",
    "client_secret": "google-secret",
    "authorize_scopes": "openid email",
}
CODE = {
    "AllowedOAuthFlowsUserPoolClient": True,
    "AllowedOAuthFlows": ["code"],
    "AllowedOAuthScopes": ["openid", "email"],
    "CallbackURLs": [CALLBACK],
}
MACHINE = {
    "AllowedOAuthFlowsUserPoolClient": True,
    "AllowedOAuthFlows": ["client_credentials"],
    "AllowedOAuthScopes": [f"{API}/read"],
}


@pytest.fixture(scope="module")
def raw(endpoint: str) -> Any:
    """A cognito-idp client without botocore's own checks (lengths, required members),
    so that the server's answer to what the model forbids is what the test sees."""
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False),
    )


@pytest.fixture(scope="module")
def pool_id(idp: Any) -> str:
    """A pool with a resource server (read and write scopes) and a Google provider."""
    created = idp.create_user_pool(PoolName=f"oauth-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    idp.create_resource_server(
        UserPoolId=created,
        Identifier=API,
        Name="API",
        Scopes=[
            {"ScopeName": "read", "ScopeDescription": "Read"},
            {"ScopeName": "write", "ScopeDescription": "Write"},
        ],
    )
    idp.create_identity_provider(
        UserPoolId=created,
        ProviderName="Google",
        ProviderType="Google",
        ProviderDetails=GOOGLE_DETAILS,
    )
    return created


def _client(idp: Any, pool_id: str, secret: bool = False, **settings: Any) -> dict[str, Any]:
    return idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", GenerateSecret=secret, **settings
    )["UserPoolClient"]


def _described(idp: Any, pool_id: str, client_id: str) -> dict[str, Any]:
    return idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]


INVALID = "InvalidParameterException"
REFUSED = [
    # OAuth settings need AllowedOAuthFlowsUserPoolClient true ...
    ({"CallbackURLs": [CALLBACK]}, False, INVALID, "must be true to set CallbackURLs"),
    ({"LogoutURLs": [CALLBACK]}, False, INVALID, "must be true to set LogoutURLs"),
    ({"AllowedOAuthFlows": ["code"]}, False, INVALID, "must be true"),
    (
        {**CODE, "AllowedOAuthFlowsUserPoolClient": False},
        False,
        INVALID,
        "must be true to set AllowedOAuthFlows, AllowedOAuthScopes, CallbackURLs",
    ),
    # ... and true needs flows and scopes.
    ({**CODE, "AllowedOAuthFlows": []}, False, INVALID, "are required"),
    ({**CODE, "AllowedOAuthScopes": []}, False, INVALID, "are required"),
    ({**CODE, "AllowedOAuthFlows": ["token"]}, False, INVALID, "enum value set"),
    (
        {
            **MACHINE,
            "AllowedOAuthFlows": ["client_credentials", "code"],
            "CallbackURLs": [CALLBACK],
        },
        True,
        "InvalidOAuthFlowException",
        "along with code flow or implicit flow",
    ),
    (MACHINE, False, "InvalidOAuthFlowException", "does not have a client secret"),
    (
        {**MACHINE, "AllowedOAuthScopes": [f"{API}/read", "openid"]},
        True,
        "InvalidOAuthFlowException",
        "openid is not supported with client_credentials flow",
    ),
    (
        {**MACHINE, "AllowedOAuthScopes": ["aws.cognito.signin.user.admin"]},
        True,
        "InvalidOAuthFlowException",
        "is not supported with client_credentials flow",
    ),
    (
        {**CODE, "CallbackURLs": []},
        False,
        "InvalidOAuthFlowException",
        "CallbackUrls can not be empty",
    ),
    (
        {**CODE, "AllowedOAuthFlows": ["implicit"], "CallbackURLs": []},
        False,
        "InvalidOAuthFlowException",
        "CallbackUrls can not be empty",
    ),
    (
        {**CODE, "AllowedOAuthScopes": ["openid", f"{API}/delete"]},
        False,
        "ScopeDoesNotExistException",
        f"Invalid scope requested: {API}/delete",
    ),
    (
        {**CODE, "AllowedOAuthScopes": ["https://other.example.com/read"]},
        False,
        "ScopeDoesNotExistException",
        "Invalid scope requested",
    ),
    ({**CODE, "AllowedOAuthScopes": ["Cognito"]}, False, "ScopeDoesNotExistException", "Cognito"),
    (
        {**CODE, "DefaultRedirectURI": "https://app.example.com/other"},
        False,
        INVALID,
        "not in CallbackURLs",
    ),
    (
        {"SupportedIdentityProviders": ["COGNITO", "Facebook"]},
        False,
        INVALID,
        "The provider Facebook does not exist for User Pool",
    ),
    ({"AuthSessionValidity": 2}, False, INVALID, "greater than or equal to 3"),
    ({"AuthSessionValidity": 16}, False, INVALID, "less than or equal to 15"),
    ({"RefreshTokenRotation": {"Feature": "ON"}}, False, INVALID, "ENABLED, DISABLED"),
    ({"RefreshTokenRotation": {}}, False, INVALID, "must not be null"),
    (
        {"RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 61}},
        False,
        INVALID,
        "less than or equal to 60",
    ),
]


@pytest.mark.parametrize(("settings", "secret", "code", "message"), REFUSED)
def test_create_and_update_refuse(
    raw: Any,
    idp: Any,
    pool_id: str,
    settings: dict[str, Any],
    secret: bool,
    code: str,
    message: str,
) -> None:
    with pytest.raises(ClientError) as refused:
        _client(raw, pool_id, secret, **settings)
    assert refused.value.response["Error"]["Code"] == code
    assert message in refused.value.response["Error"]["Message"]

    existing = _client(idp, pool_id, secret, ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"])
    with pytest.raises(ClientError) as refused:
        raw.update_user_pool_client(
            UserPoolId=pool_id, ClientId=existing["ClientId"], ClientName="app", **settings
        )
    assert refused.value.response["Error"]["Code"] == code
    kept = _described(idp, pool_id, existing["ClientId"])
    assert kept["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://app.example.com/callback", "cannot use the HTTP protocol"),
        ("http://localhost.example.com/cb", "cannot use the HTTP protocol"),
        ("http://10.0.0.1:8080/cb", "cannot use the HTTP protocol"),
        ("https://app.example.com/callback#done", "fragment"),
        ("/callback", "not an absolute URI"),
        ("app.example.com/callback", "not an absolute URI"),
        ("https:///callback", "not an absolute URI"),
        ("https://app.example.com/a b", "regular expression pattern"),
        ("https://app.example.com/" + "a" * 1001, "less than or equal to 1024"),
        ("", "greater than or equal to 1"),
    ],
)
def test_redirect_urls_are_checked(raw: Any, pool_id: str, url: str, message: str) -> None:
    for member in ("CallbackURLs", "LogoutURLs"):
        settings = {**CODE, member: [CALLBACK, url] if member == "CallbackURLs" else [url]}
        with pytest.raises(ClientError) as refused:
            _client(raw, pool_id, **settings)
        error = refused.value.response["Error"]
        assert error["Code"] == "InvalidParameterException"
        assert message in error["Message"]


def test_at_most_100_redirect_urls(raw: Any, pool_id: str) -> None:
    urls = [f"https://app.example.com/{i}" for i in range(101)]
    with pytest.raises(ClientError) as refused:
        _client(raw, pool_id, **{**CODE, "CallbackURLs": urls})
    assert "at 'callbackURLs' failed" in refused.value.response["Error"]["Message"]
    created = _client(
        raw, pool_id, **{**CODE, "CallbackURLs": urls[:100], "LogoutURLs": urls[:100]}
    )
    assert len(created["CallbackURLs"]) == 100


def test_accepted_settings_are_kept(idp: Any, pool_id: str) -> None:
    callbacks = [
        CALLBACK,
        "http://localhost:3000/callback",
        "http://127.0.0.1/callback",
        "http://[::1]:8443/callback",
        "myapp://callback",
    ]
    created = _client(
        idp,
        pool_id,
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["code", "implicit"],
        AllowedOAuthScopes=["openid", "email", "phone", "profile", f"{API}/write"],
        CallbackURLs=callbacks,
        LogoutURLs=["http://localhost:3000/"],
        DefaultRedirectURI="http://localhost:3000/callback",
        SupportedIdentityProviders=["COGNITO", "Google"],
        AuthSessionValidity=15,
        RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 30},
        ReadAttributes=["email", "name"],
        WriteAttributes=["name"],
    )
    described = _described(idp, pool_id, created["ClientId"])
    assert described["CallbackURLs"] == callbacks
    assert described["SupportedIdentityProviders"] == ["COGNITO", "Google"]
    assert described["RefreshTokenRotation"] == {
        "Feature": "ENABLED",
        "RetryGracePeriodSeconds": 30,
    }
    assert described["ReadAttributes"] == ["email", "name"]
    assert described["WriteAttributes"] == ["name"]
    assert described["AuthSessionValidity"] == 15

    both = [f"{API}/read", f"{API}/write"]
    machine = _client(idp, pool_id, True, **{**MACHINE, "AllowedOAuthScopes": both})
    assert machine["AllowedOAuthFlows"] == ["client_credentials"]


def test_update_resets_what_it_is_not_given(idp: Any, pool_id: str) -> None:
    created = _client(
        idp,
        pool_id,
        **CODE,
        ReadAttributes=["email"],
        RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 5},
        AuthSessionValidity=10,
    )
    client_id = created["ClientId"]
    idp.update_user_pool_client(
        UserPoolId=pool_id, ClientId=client_id, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"]
    )
    described = _described(idp, pool_id, client_id)
    assert described["ClientName"] == "app"
    assert described["AllowedOAuthFlowsUserPoolClient"] is False
    assert described["AuthSessionValidity"] == 3
    for gone in ("AllowedOAuthFlows", "CallbackURLs", "ReadAttributes", "RefreshTokenRotation"):
        assert gone not in described

    idp.update_user_pool_client(
        UserPoolId=pool_id,
        ClientId=client_id,
        ClientName="renamed",
        **CODE,
        WriteAttributes=["name"],
    )
    described = _described(idp, pool_id, client_id)
    assert (described["ClientName"], described["CallbackURLs"]) == ("renamed", [CALLBACK])
    assert described["WriteAttributes"] == ["name"]


# --- CloudFormation --------------------------------------------------------------------


def _template(
    *, scope: str = "read", callback: str = CALLBACK, read_attributes: bool = True
) -> str:
    client: dict[str, Any] = {
        "UserPoolId": {"Ref": "Pool"},
        "ClientName": "web",
        # Strings on purpose: templates often carry booleans and numbers so.
        "AllowedOAuthFlowsUserPoolClient": "true",
        "AllowedOAuthFlows": ["code"],
        "AllowedOAuthScopes": ["openid", {"Fn::Join": ["/", [{"Ref": "Api"}, scope]]}],
        "CallbackURLs": [callback],
        "SupportedIdentityProviders": ["COGNITO", {"Ref": "GoogleIdp"}],
        "RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": "10"},
        "AuthSessionValidity": "10",
    }
    if read_attributes:
        client["ReadAttributes"] = ["email"]
    return json.dumps(
        {
            "Parameters": {"GoogleClientSecret": {"Type": "String", "NoEcho": True}},
            # The client comes first: its Refs, not the template's order, put the
            # resource server and the provider before it.
            "Resources": {
                "WebClient": {"Type": "AWS::Cognito::UserPoolClient", "Properties": client},
                "Pool": {
                    "Type": "AWS::Cognito::UserPool",
                    "Properties": {"UserPoolName": f"oauth-{uuid.uuid4().hex[:8]}"},
                },
                "Api": {
                    "Type": "AWS::Cognito::UserPoolResourceServer",
                    "Properties": {
                        "UserPoolId": {"Ref": "Pool"},
                        "Identifier": API,
                        "Name": "API",
                        "Scopes": [{"ScopeName": "read", "ScopeDescription": "Read"}],
                    },
                },
                "GoogleIdp": {
                    "Type": "AWS::Cognito::UserPoolIdentityProvider",
                    "Properties": {
                        "UserPoolId": {"Ref": "Pool"},
                        "ProviderName": "Google",
                        "ProviderType": "Google",
                        "ProviderDetails": {
                            "client_id": "google-client",
                            "client_secret": {"Ref": "GoogleClientSecret"},
                            "authorize_scopes": "openid email",
                        },
                    },
                },
            },
            "Outputs": {
                "PoolId": {"Value": {"Ref": "Pool"}},
                "ClientId": {"Value": {"Ref": "WebClient"}},
            },
        }
    )


def _stack(cfn: Any, name: str) -> tuple[str, dict[str, str], dict[str, str]]:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return stack["StackStatus"], parameters, outputs


def _update(cfn: Any, name: str, body: str) -> str:
    cfn.update_stack(
        StackName=name,
        TemplateBody=body,
        Parameters=[{"ParameterKey": "GoogleClientSecret", "UsePreviousValue": True}],
    )
    return _stack(cfn, name)[0]


def _reason(cfn: Any, name: str, status: str) -> str:
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return next(e["ResourceStatusReason"] for e in events if e["ResourceStatus"] == status)


def test_stack_client_uses_the_stack_server_and_provider(cfn: Any, idp: Any) -> None:
    name = f"oauth-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(
        StackName=name,
        TemplateBody=_template(),
        Parameters=[{"ParameterKey": "GoogleClientSecret", "ParameterValue": GOOGLE_SECRET}],
    )
    status, parameters, out = _stack(cfn, name)
    assert status == "CREATE_COMPLETE"
    # NoEcho: masked where CloudFormation describes the stack, real in the provider.
    assert parameters == {"GoogleClientSecret": "****"}
    provider = idp.describe_identity_provider(UserPoolId=out["PoolId"], ProviderName="Google")
    assert provider["IdentityProvider"]["ProviderDetails"]["client_secret"] == GOOGLE_SECRET

    client = _described(idp, out["PoolId"], out["ClientId"])
    assert client["AllowedOAuthScopes"] == ["openid", f"{API}/read"]
    assert client["SupportedIdentityProviders"] == ["COGNITO", "Google"]
    assert client["RefreshTokenRotation"] == {"Feature": "ENABLED", "RetryGracePeriodSeconds": 10}
    assert (client["AuthSessionValidity"], client["ReadAttributes"]) == (10, ["email"])

    # A scope the server lacks: the update fails and rolls back, the client is unchanged.
    assert _update(cfn, name, _template(scope="delete")) == "UPDATE_ROLLBACK_COMPLETE"
    assert f"Invalid scope requested: {API}/delete" in _reason(cfn, name, "UPDATE_FAILED")
    assert _described(idp, out["PoolId"], out["ClientId"])["AllowedOAuthScopes"][1] == f"{API}/read"

    # In place, with what the template drops reset.
    new_callback = "https://app.example.com/v2/callback"
    body = _template(callback=new_callback, read_attributes=False)
    assert _update(cfn, name, body) == "UPDATE_COMPLETE"
    client = _described(idp, out["PoolId"], out["ClientId"])
    assert client["CallbackURLs"] == [new_callback]
    assert "ReadAttributes" not in client
    assert _stack(cfn, name)[1] == {"GoogleClientSecret": "****"}


def test_invalid_client_in_template_rolls_the_create_back(cfn: Any) -> None:
    name = f"oauth-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(
        StackName=name,
        TemplateBody=_template(callback="http://app.example.com/callback"),
        Parameters=[{"ParameterKey": "GoogleClientSecret", "ParameterValue": GOOGLE_SECRET}],
    )
    assert _stack(cfn, name)[0] == "ROLLBACK_COMPLETE"
    assert "cannot use the HTTP protocol" in _reason(cfn, name, "CREATE_FAILED")
